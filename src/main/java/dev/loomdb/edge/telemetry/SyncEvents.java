package dev.loomdb.edge.telemetry;

import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.operators.multi.processors.BroadcastProcessor;
import io.smallrye.mutiny.subscription.BackPressureFailure;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.jboss.logging.Logger;

/**
 * Where the stages report {@link SyncEvent}s; fans them out to every subscriber of
 * {@link #stream()} and to one listener (the node forwards them to CDI observers).
 *
 * <p>Back-pressure policy: sync never waits for a watcher. Each subscriber has a buffer of
 * {@value #BUFFER} events; a subscriber that falls further behind has its stream ended with a
 * {@link BackPressureFailure} (an SSE client then reconnects) and is counted in {@link #overflows()}.
 */
@jakarta.inject.Singleton
public final class SyncEvents {

    private static final Logger LOG = Logger.getLogger(SyncEvents.class);
    static final int BUFFER = 10_000;

    private final BroadcastProcessor<SyncEvent> processor = BroadcastProcessor.create();
    private final Object lock = new Object();
    private final AtomicLong overflows = new AtomicLong();
    private volatile Consumer<SyncEvent> listener = event -> {};

    /** Called from any thread; never blocks for long. */
    public void emit(SyncEvent event) {
        synchronized (lock) {
            processor.onNext(event);
        }
        try {
            listener.accept(event);
        } catch (RuntimeException e) {
            LOG.debugf("An event listener failed on %s: %s", event.kind().wireName(), e.getMessage());
        }
    }

    public void listener(Consumer<SyncEvent> listener) {
        this.listener = listener;
    }

    /** Every event from the moment of subscription on (hot stream). */
    public Multi<SyncEvent> stream() {
        return processor
                .onOverflow()
                .buffer(BUFFER)
                .onFailure(BackPressureFailure.class)
                .invoke(e -> {
                    overflows.incrementAndGet();
                    LOG.warnf("An event subscriber fell more than %d events behind; its stream ends", BUFFER);
                });
    }

    public long overflows() {
        return overflows.get();
    }
}
