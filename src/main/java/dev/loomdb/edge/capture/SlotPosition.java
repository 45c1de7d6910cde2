package dev.loomdb.edge.capture;

import dev.loomdb.edge.flow.Acknowledgements;
import dev.loomdb.edge.flow.Lsn;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Which position may be confirmed to the replication slot.
 *
 * <p>Contract: a transaction's end LSN is confirmed only after it and every transaction committed
 * before it have been acknowledged (by the broker, or as needing no publication). Transactions are
 * registered in commit order; acknowledgements may come in any order. On a restart, everything
 * after the confirmed position is read again from the slot, so nothing unacknowledged is lost.
 */
public final class SlotPosition implements Acknowledgements {

    private final Deque<Lsn> pending = new ArrayDeque<>();
    private final Map<Lsn, Instant> commitTimes = new HashMap<>();
    private final Set<Lsn> acknowledged = new HashSet<>();
    private Lsn confirmable = Lsn.ZERO;
    private Lsn transactions = Lsn.ZERO;

    /** A transaction was read from the slot and handed on; its end LSN, in commit order. */
    public synchronized void register(Lsn endLsn) {
        pending.addLast(endLsn);
    }

    /** As {@link #register(Lsn)}, remembering when the transaction committed (for the lag's age). */
    public synchronized void register(Lsn endLsn, Instant commitTime) {
        pending.addLast(endLsn);
        if (commitTime != null) {
            commitTimes.put(endLsn, commitTime);
        }
    }

    /** The commit time of the oldest transaction handed on and not yet acknowledged, if any. */
    public synchronized Optional<Instant> oldestPendingCommit() {
        for (Lsn lsn : pending) {
            if (!acknowledged.contains(lsn)) {
                return Optional.ofNullable(commitTimes.get(lsn));
            }
        }
        return Optional.empty();
    }

    /** Everything in the transaction ending at this LSN is safe (acknowledged or not to be published). */
    @Override
    public synchronized void acknowledge(Lsn endLsn) {
        acknowledged.add(endLsn);
        while (!pending.isEmpty() && acknowledged.remove(pending.peekFirst())) {
            Lsn done = pending.removeFirst();
            commitTimes.remove(done);
            confirmable = Lsn.max(confirmable, done);
            transactions = Lsn.max(transactions, done);
        }
    }

    /** The end of the newest transaction that may be confirmed (the confirmable position less idle moves). */
    public synchronized Lsn transactionsConfirmable() {
        return transactions;
    }

    /** The newest position that may be confirmed to the slot. */
    public synchronized Lsn confirmable() {
        return confirmable;
    }

    /** Transactions handed on and not yet acknowledged. */
    public synchronized int pendingCount() {
        return pending.size();
    }

    /**
     * When nothing is pending, the slot may move up to {@code received}: everything read up to
     * there needed nothing (heartbeats, other databases' WAL), so the server can recycle it.
     */
    public synchronized void idleAt(Lsn received) {
        if (pending.isEmpty()) {
            confirmable = Lsn.max(confirmable, received);
        }
    }

    /** Forgets what was pending: the stream is being read again from the slot's confirmed position. */
    public synchronized void reset() {
        pending.clear();
        acknowledged.clear();
        commitTimes.clear();
    }
}
