package dev.loomdb.edge.flow;

import java.time.Instant;
import java.util.List;

/**
 * One committed source transaction as read from the replication slot: the hand-off from
 * capture to outbound.
 *
 * @param endLsn the position after the commit: confirming it to the slot means "resume after this
 *     transaction"
 * @param replicationOrigin the replication origin the transaction was applied under, or null for a
 *     local write; a transaction with an origin was applied for a peer and is never published again
 * @param changes the graph changes, in commit order
 */
public record CapturedTransaction(
        long xid, Lsn commitLsn, Lsn endLsn, Instant commitTime, String replicationOrigin, List<Change> changes) {

    public boolean appliedForPeer() {
        return replicationOrigin != null;
    }
}
