package dev.loomdb.edge.outbound;

import dev.loomdb.edge.flow.Acknowledgements;
import dev.loomdb.edge.flow.CapturedTransaction;
import dev.loomdb.edge.flow.Change;
import dev.loomdb.edge.flow.Envelope;
import dev.loomdb.edge.flow.EnvelopeFormat;
import dev.loomdb.edge.flow.Scope;
import dev.loomdb.edge.flow.TransactionSink;
import dev.loomdb.edge.history.ChangeHistory;
import dev.loomdb.edge.mesh.MeshLink;
import dev.loomdb.edge.telemetry.Counters;
import dev.loomdb.edge.telemetry.SyncEvent;
import dev.loomdb.edge.telemetry.SyncEvents;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jboss.logging.Logger;

/**
 * Sends captured transactions to the mesh, one envelope per debounce {@link Window} (whole
 * transactions, changes folded per entity), and acknowledges them only when the broker has
 * acknowledged the envelope (QoS 1 PUBACK). A publication that fails is sent again until it
 * succeeds.
 *
 * <p>The capture thread hands transactions over through a bounded queue ({@link #offer}); everything
 * else runs on this stage's event-loop context: taking from the queue, the debounce timer, publishing
 * and the acknowledgements, so its state needs no locks. At most {@code maxInflight} windows wait
 * for their PUBACK; while that many do, nothing more is taken from the queue, the queue fills, and
 * the changes wait in the replication slot (back-pressure), not in memory.
 */
public final class Publisher implements TransactionSink {

    /** The topic of this node's changes of a kind and type. */
    @FunctionalInterface
    public interface Topics {
        String of(Change.Kind kind, String type);
    }

    private static final Logger LOG = Logger.getLogger(Publisher.class);
    private static final long RETRY_MILLIS = 500;

    private final Vertx vertx;
    private final Context context;
    private final MeshLink link;
    private final EnvelopeFormat format;
    private final Acknowledgements acknowledgements;
    private final String mesh;
    private final String nodeId;
    private final Topics topics;
    private final Scope publishes;
    private final int maxInflight;
    private final int maxMessageSize;
    private final BlockingQueue<CapturedTransaction> handoff;
    private final AtomicBoolean takeScheduled = new AtomicBoolean();
    private final Debouncer debouncer;
    private final long windowNanos;
    private final Counters counters;
    private final SyncEvents events;
    private final ChangeHistory history;
    private int inflight;
    private long timer = -1;
    private CompletableFuture<Void> drained;

    /** {@code context}: the event loop this stage runs on (the mesh link's, so a window goes out with no hop). */
    public Publisher(
            Vertx vertx,
            Context context,
            MeshLink link,
            EnvelopeFormat format,
            Acknowledgements acknowledgements,
            String mesh,
            String nodeId,
            Topics topics,
            Scope publishes,
            int maxInflight,
            int maxMessageSize,
            int handoffCapacity,
            Debouncer debouncer,
            Counters counters,
            SyncEvents events,
            ChangeHistory history,
            Duration window) {
        this.vertx = vertx;
        this.context = context;
        this.link = link;
        this.format = format;
        this.acknowledgements = acknowledgements;
        this.mesh = mesh;
        this.nodeId = nodeId;
        this.topics = topics;
        this.publishes = publishes;
        this.maxInflight = maxInflight;
        this.maxMessageSize = maxMessageSize;
        this.handoff = new ArrayBlockingQueue<>(handoffCapacity);
        this.debouncer = debouncer;
        this.windowNanos = window.toNanos();
        this.counters = counters;
        this.events = events;
        this.history = history;
    }

    /** Capture thread: queues the transaction, waiting up to {@code wait} while the queue is full. */
    @Override
    public boolean offer(CapturedTransaction transaction, Duration wait) throws InterruptedException {
        if (!handoff.offer(transaction, wait.toNanos(), TimeUnit.NANOSECONDS)) {
            return false;
        }
        if (takeScheduled.compareAndSet(false, true)) {
            context.runOnContext(v -> take());
        }
        return true;
    }

    @Override
    public void discardQueued() {
        handoff.clear();
    }

    /** Takes what the queue holds while fewer than {@code maxInflight} windows wait for the broker. */
    private void take() {
        takeScheduled.set(false);
        CapturedTransaction transaction;
        while (inflight < maxInflight && (transaction = handoff.poll()) != null) {
            Instant now = Instant.now();
            for (Change change : transaction.changes()) {
                events.emit(new SyncEvent(
                        SyncEvent.Kind.LOCAL_CHANGE, now, nodeId, change, transaction.commitTime(), null, null));
            }
            for (Window window : debouncer.add(transaction, System.nanoTime() - sinceCommitNanos(transaction))) {
                publish(window);
            }
        }
        scheduleDue();
    }

    /**
     * How long ago the transaction committed, so that a window counts from the commit of its first
     * transaction rather than from when capture read it: the latency debounce adds is then the window,
     * not the window plus the capture delay. Clamped to [0, window], for clocks that disagree.
     */
    private long sinceCommitNanos(CapturedTransaction transaction) {
        if (transaction.commitTime() == null) {
            return 0;
        }
        long age = Duration.between(transaction.commitTime(), Instant.now()).toNanos();
        return Math.max(0, Math.min(age, windowNanos));
    }

    /** One debounce timer on the event loop, for the open window's deadline. */
    private void scheduleDue() {
        if (timer >= 0 || debouncer.deadline().isEmpty()) {
            return;
        }
        long millis =
                Math.max(1, TimeUnit.NANOSECONDS.toMillis(debouncer.deadline().getAsLong() - System.nanoTime()));
        timer = vertx.setTimer(
                millis,
                id -> context.runOnContext(v -> {
                    timer = -1;
                    debouncer.due(System.nanoTime()).ifPresent(this::publish);
                    scheduleDue();
                }));
    }

    private void publish(Window window) {
        inflight++;
        CapturedTransaction last = window.last();
        Envelope envelope = new Envelope(
                Envelope.FORMAT_VERSION,
                mesh,
                nodeId,
                last.endLsn().value(),
                last.xid(),
                last.commitLsn().toString(),
                last.commitTime(),
                window.transactions().size(),
                publishes.filter(window.changes()),
                window.transactions().get(0).commitTime());
        counters.add(Counters.COALESCED, window.coalesced());
        Promise<Void> acknowledged = Promise.promise();
        // the history (and so the change feed) has the window before its transactions are confirmed to the slot:
        // a node killed in between publishes them again rather than leaving them out of its history
        Future<Void> recorded =
                history.recordLocal(acknowledged.future(), nodeId, envelope.firstCommitTime(), window.changes());
        List<EnvelopeFormat.Message> messages = encode(envelope);
        int[] waiting = {messages.size()};
        long bytes = messages.stream().mapToLong(m -> m.payload().length).sum();
        if (messages.isEmpty()) { // only types this node keeps to itself (loom.sync.publish.*)
            published(window, 0, acknowledged, recorded);
        }
        for (EnvelopeFormat.Message message : messages) {
            send(window, topics.of(message.kind(), message.type()), message.payload(), 0, () -> {
                if (--waiting[0] == 0) {
                    published(window, bytes, acknowledged, recorded);
                }
            });
        }
    }

    /**
     * The window as one message, or as parts when it is larger than the largest message the mesh
     * carries. A change that alone is larger cannot travel at all: it is left out with an ERROR
     * (anti-entropy cannot send it either), so that it does not block everything after it.
     */
    private List<EnvelopeFormat.Message> encode(Envelope envelope) {
        Envelope sendable = envelope;
        while (true) {
            try {
                return format.encodeByType(sendable, maxMessageSize);
            } catch (EnvelopeFormat.OversizedChangeException e) {
                LOG.errorf(
                        "Not published: %s. Peers will not receive this change; raise loom.mqtt.max-message-size on"
                                + " every node of the mesh (and the broker's own limit) to carry it",
                        e.getMessage());
                events.emit(SyncEvent.of(SyncEvent.Kind.SYNC_ERROR, null, "not published: " + e.getMessage()));
                List<Change> rest = new ArrayList<>(sendable.changes());
                rest.remove(e.change());
                sendable = sendable.whole(rest);
            }
        }
    }

    /** Every message of a window is with the broker: its transactions may be confirmed to the slot. */
    private void published(Window window, long bytes, Promise<Void> acknowledged, Future<Void> recorded) {
        counters.increment(Counters.PUBLISHED);
        counters.add(Counters.PUBLISHED_CHANGES, window.changes().size());
        counters.add(Counters.PUBLISHED_BYTES, bytes);
        long highest = 0;
        for (Change change : window.changes()) {
            highest = Math.max(highest, change.hlc().value());
        }
        long published = highest;
        counters.counter(Counters.LAST_PUBLISHED_HLC).accumulateAndGet(published, Math::max);
        inflight--;
        acknowledged.complete();
        if (recorded.isComplete()) { // no history kept, or written already
            confirmable(window);
        } else {
            recorded.onComplete(r -> context.runOnContext(v -> confirmable(window)));
        }
        take();
        completeDrainWhenIdle();
    }

    /** The window's transactions may be confirmed to the slot: the broker and the history have them. */
    private void confirmable(Window window) {
        for (CapturedTransaction transaction : window.transactions()) {
            acknowledgements.acknowledge(transaction.endLsn());
        }
    }

    private void send(Window window, String topic, byte[] payload, int attempt, Runnable sent) {
        link.publish(topic, payload)
                .onComplete(result -> context.runOnContext(v -> {
                    if (result.succeeded()) {
                        sent.run();
                        return;
                    }
                    if (attempt == 0 || attempt % 20 == 0) {
                        LOG.warnf(
                                "Publishing %d transactions (%d changes, up to %s) failed: %s; retrying",
                                window.transactions().size(),
                                window.changes().size(),
                                window.last().commitLsn(),
                                result.cause().getMessage());
                        events.emit(SyncEvent.of(
                                SyncEvent.Kind.SYNC_ERROR,
                                null,
                                "publishing failed: " + result.cause().getMessage()));
                    }
                    vertx.setTimer(RETRY_MILLIS, id -> send(window, topic, payload, attempt + 1, sent));
                }));
    }

    /** Capture thread, at stop: the queue and the open window go out now; then waits for their PUBACKs. */
    @Override
    public boolean drain(Duration timeout) throws InterruptedException {
        CompletableFuture<Void> done = new CompletableFuture<>();
        context.runOnContext(v -> {
            drained = done;
            take(); // what does not fit in flight goes out as acknowledgements come in
            completeDrainWhenIdle();
        });
        try {
            done.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            return true;
        } catch (TimeoutException e) {
            return false;
        } catch (ExecutionException e) {
            throw new IllegalStateException(e.getCause());
        } finally {
            context.runOnContext(v -> drained = null);
        }
    }

    private void completeDrainWhenIdle() {
        if (drained == null) {
            return;
        }
        if (handoff.isEmpty()) {
            debouncer.flush().ifPresent(this::publish);
        }
        if (inflight == 0 && handoff.isEmpty() && debouncer.isEmpty()) {
            drained.complete(null);
        }
    }
}
