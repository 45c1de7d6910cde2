package dev.loomdb.edge.apply;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import org.jboss.logging.Logger;

/**
 * Holds the broker acknowledgements of applied messages until what was applied is on disk. The apply
 * session commits without waiting for its WAL flush ({@code synchronous_commit = off}: a commit is
 * visible at once, and the receiver's commits no longer queue behind, and in front of, the local
 * writers' flushes); at most every {@code interval}, or once {@link #MAX_HELD} acknowledgements wait,
 * one synchronous commit ({@code flush}) puts every commit before it on disk, and the acknowledgements
 * held meanwhile go out. A PostgreSQL crash before that flush loses those commits, and their messages,
 * never acknowledged, come again from the broker. With an interval of 0, each acknowledgement goes out
 * at once (the apply session then commits synchronously). A message that wrote nothing (this node's own,
 * echoed by the broker; one it does not follow) needs no flush: its acknowledgement goes out at once, or
 * with those held before it when there are (a broker expects them in the order it sent the messages),
 * and a batch of such alone is sent without a flush. Runs on the inbound context.
 */
final class AcksAfterFlush {

    private static final Logger LOG = Logger.getLogger(AcksAfterFlush.class);

    /** Acknowledgements held before a flush is made without waiting for the interval (below brokers' windows). */
    static final int MAX_HELD = 8;

    private static final long RETRY_MILLIS = 1_000;

    private final Vertx vertx;
    private final Context context;
    private final long intervalMillis;
    private final Supplier<Future<Void>> flush;
    private List<Runnable> held = new ArrayList<>();
    /** Whether a message acknowledged in {@link #held} wrote something that must be on disk first. */
    private boolean heldWrote;

    private boolean flushing;
    private long timer = -1;
    private final Runnable flushed;

    /** @param flushed told of each flush made (a counter) */
    AcksAfterFlush(Vertx vertx, Context context, Duration interval, Supplier<Future<Void>> flush, Runnable flushed) {
        this.vertx = vertx;
        this.flushed = flushed;
        this.context = context;
        this.intervalMillis = Math.max(0, interval.toMillis());
        this.flush = flush;
    }

    /** Whether acknowledgements wait for a flush (the apply session commits asynchronously). */
    boolean holding() {
        return intervalMillis > 0;
    }

    /** Sends {@code ack} once every commit made before this call is on disk. */
    void add(Runnable ack) {
        add(ack, true);
    }

    /**
     * Sends {@code ack} after those held before it; {@code wrote}: its message was applied (committed
     * asynchronously), so it also waits for a flush.
     */
    void add(Runnable ack, boolean wrote) {
        if (!holding()) {
            ack.run();
            return;
        }
        held.add(ack); // alone and unwritten, it goes out at once (next)
        heldWrote |= wrote;
        if (!flushing) {
            next();
        }
    }

    /**
     * What the acknowledgements held now need: none (sent), a flush now (enough wait), or one soon. Only
     * schedules or makes a flush when one of them wrote: {@link #flushNow} is reached only then.
     */
    private void next() {
        if (held.isEmpty()) {
            return;
        }
        if (!heldWrote) {
            List<Runnable> batch = held;
            held = new ArrayList<>();
            batch.forEach(Runnable::run);
        } else if (held.size() >= MAX_HELD) {
            flushNow();
        } else {
            schedule(intervalMillis);
        }
    }

    private void schedule(long delay) {
        if (timer < 0 && !flushing) {
            timer = vertx.setTimer(
                    delay,
                    id -> context.runOnContext(v -> {
                        timer = -1;
                        flushNow();
                    }));
        }
    }

    private void flushNow() {
        if (flushing || held.isEmpty()) {
            return;
        }
        if (timer >= 0) {
            vertx.cancelTimer(timer);
            timer = -1;
        }
        List<Runnable> batch = held;
        held = new ArrayList<>();
        heldWrote = false;
        flushing = true;
        flush.get()
                .onComplete(result -> context.runOnContext(v -> {
                    flushing = false;
                    if (result.succeeded()) {
                        flushed.run();
                        batch.forEach(Runnable::run);
                        next();
                    } else {
                        // not acknowledged yet: tried again; if the node stops first, the broker delivers them again
                        LOG.warnf(
                                "Cannot flush the applied messages' commits (%s): %d acknowledgements wait; trying again in %d ms",
                                result.cause().getMessage(), batch.size(), RETRY_MILLIS);
                        batch.addAll(held);
                        held = batch;
                        heldWrote = true;
                        schedule(RETRY_MILLIS);
                    }
                }));
    }
}
