package dev.loomdb.edge.flow;

import java.time.Duration;

/**
 * The hand-off from the capture thread to the outbound stage: bounded, so that what the broker has
 * not yet taken waits in the replication slot, not in memory. Policy when full: {@link #offer}
 * waits up to the time given and says no; the capture thread then keeps the slot's standby status
 * flowing and offers again. The outbound stage reports each transaction to its
 * {@link Acknowledgements} once it is safe.
 */
public interface TransactionSink {

    /** Hands on one transaction; false when the hand-off stayed full for {@code wait}. */
    boolean offer(CapturedTransaction transaction, Duration wait) throws InterruptedException;

    /** Drops what was handed on and not yet taken: capture reads it again from the slot. */
    void discardQueued();

    /** Sends the open window now, then waits until everything handed on is acknowledged; false when time ran out. */
    boolean drain(Duration timeout) throws InterruptedException;
}
