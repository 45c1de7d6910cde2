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
        Instant firstCommitTime) {

    public static final int FORMAT_VERSION = 1;

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
}
