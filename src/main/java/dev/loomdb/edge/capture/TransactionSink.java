package dev.loomdb.edge.capture;

/**
 * Where captured transactions go (the outbound stage). {@link #accept} may block to push back on
 * the capture thread when too much is in flight; the sink acknowledges each transaction to the
 * {@link SlotPosition} once it is safe.
 */
public interface TransactionSink {
    void accept(CapturedTransaction transaction) throws InterruptedException;

    /** Called often by the capture thread, between messages and when idle: time-driven work (debounce) goes here. */
    void tick() throws InterruptedException;

    /** Waits until everything accepted is acknowledged, or the time is up; false when time ran out. */
    boolean drain(java.time.Duration timeout) throws InterruptedException;
}
