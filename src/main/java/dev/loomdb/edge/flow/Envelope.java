package dev.loomdb.edge.flow;

import java.time.Instant;
import java.util.List;

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
        int parts) {

    public static final int FORMAT_VERSION = 1;

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
        this(version, mesh, origin, seq, txid, lsn, commitTime, transactions, changes, firstCommitTime, 1, 1);
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

    /** Whether this envelope is one part of a window split over several. */
    public boolean isPart() {
        return parts > 1;
    }

    /** Part {@code part} of {@code parts}, holding {@code some} of this window's changes. */
    public Envelope part(int part, int parts, List<Change> some) {
        return new Envelope(
                version, mesh, origin, seq, txid, lsn, commitTime, transactions, some, firstCommitTime, part, parts);
    }

    /** The whole window again, with the given changes (those of all its parts, in order). */
    public Envelope whole(List<Change> all) {
        return new Envelope(
                version, mesh, origin, seq, txid, lsn, commitTime, transactions, all, firstCommitTime, 1, 1);
    }
}
