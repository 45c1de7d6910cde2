package dev.loomdb.edge.flow;

import java.time.Instant;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One or more whole source transactions as they travel over MQTT (format version 1): who wrote it, where it sits in
 * that node's log, and its changes in commit order.
 *
 * @param origin the id of the node whose database committed the transaction
 * @param seq increases with every transaction an origin publishes (its end LSN as a number)
 * @param txid the source transaction id
 * @param lsn the source commit LSN, as PostgreSQL prints it
 * @param transactions how many whole source transactions the envelope folds (a debounce window);
 *     {@code txid}, {@code lsn}, {@code seq} and {@code commitTime} are those of the last
 * @param firstCommitTime the commit time of the first transaction folded in (optional on the wire as
 *     {@code firstCommitTime}; the same as {@code commitTime} when absent): latency is measured from it
 * @param part which part of its window this envelope is, from 1 ({@code part} on the wire, absent when
 *     the window fits one message)
 * @param parts how many envelopes the window was split into to keep each within the largest MQTT
 *     message ({@code parts}; 1 when absent): a receiver applies the window once it has all of them,
 *     in one local transaction, so a transaction stays atomic whatever its size
 * @param spans when a window holds changes of several kinds and types, each goes on its type's own
 *     topic: for each (key {@code node/Person}) how many envelopes carry that type's changes
 *     ({@code spans} on the wire; empty when the window is one type). {@code part} and {@code parts}
 *     then number the envelopes of this envelope's type. A receiver waits for the envelopes of the
 *     types it follows, and applies them together
 */
public record Envelope(
        int version,
        String mesh,
        String origin,
        long seq,
        long txid,
        String lsn,
        Instant commitTime,
        int transactions,
        List<Change> changes,
        Instant firstCommitTime,
        int part,
        int parts,
        Map<String, Integer> spans) {

    public static final int FORMAT_VERSION = 1;

    public Envelope {
        spans = spans.isEmpty() ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(spans));
    }

    /** A whole window in one envelope. */
    public Envelope(
            int version,
            String mesh,
            String origin,
            long seq,
            long txid,
            String lsn,
            Instant commitTime,
            int transactions,
            List<Change> changes,
            Instant firstCommitTime) {
        this(version, mesh, origin, seq, txid, lsn, commitTime, transactions, changes, firstCommitTime, 1, 1, Map.of());
    }

    /** An envelope of transactions that all committed at {@code commitTime}. */
    public Envelope(
            int version,
            String mesh,
            String origin,
            long seq,
            long txid,
            String lsn,
            Instant commitTime,
            int transactions,
            List<Change> changes) {
        this(version, mesh, origin, seq, txid, lsn, commitTime, transactions, changes, commitTime);
    }

    /** Whether this envelope is one part of a window split over several (by size, or by type). */
    public boolean isPart() {
        return parts > 1 || spans.size() > 1;
    }

    /** Part {@code part} of {@code parts}, holding {@code some} of this window's changes. */
    public Envelope part(int part, int parts, List<Change> some) {
        return part(part, parts, some, spans);
    }

    /** Part {@code part} of {@code parts} of one type's changes, of a window that {@code spans} describes. */
    public Envelope part(int part, int parts, List<Change> some, Map<String, Integer> spans) {
        return new Envelope(
                version,
                mesh,
                origin,
                seq,
                txid,
                lsn,
                commitTime,
                transactions,
                some,
                firstCommitTime,
                part,
                parts,
                spans);
    }

    /** The whole window again, with the given changes (those of all its parts, in order). */
    public Envelope whole(List<Change> all) {
        return new Envelope(
                version, mesh, origin, seq, txid, lsn, commitTime, transactions, all, firstCommitTime, 1, 1, Map.of());
    }
}
