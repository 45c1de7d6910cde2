package dev.loomdb.edge.outbound;

import dev.loomdb.edge.capture.CapturedTransaction;
import dev.loomdb.edge.capture.SlotPosition;
import dev.loomdb.edge.capture.TransactionSink;
import dev.loomdb.edge.graph.Change;
import dev.loomdb.edge.history.ChangeHistory;
import dev.loomdb.edge.mesh.Envelope;
import dev.loomdb.edge.mesh.EnvelopeCodec;
import dev.loomdb.edge.mesh.MeshLink;
import dev.loomdb.edge.telemetry.Counters;
import dev.loomdb.edge.telemetry.SyncEvent;
import dev.loomdb.edge.telemetry.SyncEvents;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;

/**
 * Sends captured transactions to the mesh, one envelope per debounce {@link Window} (whole
 * transactions, changes folded per entity), and acknowledges them to the {@link SlotPosition} only
 * when the broker has acknowledged the envelope (QoS 1 PUBACK). A publication that
 * fails is sent again until it succeeds. At most {@code maxInflight} transactions wait for their
 * acknowledgement; when that many do, {@link #accept} blocks the capture thread (back-pressure:
 * the changes wait in the replication slot, not in memory).
 */
public final class Publisher implements TransactionSink {

    private static final Logger LOG = Logger.getLogger(Publisher.class);
    private static final long RETRY_MILLIS = 500;

    private final Vertx vertx;
    private final MeshLink link;
    private final EnvelopeCodec codec;
    private final SlotPosition position;
    private final String mesh;
    private final String nodeId;
    private final String topic;
    private final int maxInflight;
    private final Semaphore inflight;
    private final Debouncer debouncer;
    private final long windowNanos;
    private final Counters counters;
    private final SyncEvents events;
    private final ChangeHistory history;

    public Publisher(
            Vertx vertx,
            MeshLink link,
            EnvelopeCodec codec,
            SlotPosition position,
            String mesh,
            String nodeId,
            String topic,
            int maxInflight,
            Debouncer debouncer,
            Counters counters,
            SyncEvents events,
            ChangeHistory history,
            Duration window) {
        this.debouncer = debouncer;
        this.windowNanos = window.toNanos();
        this.counters = counters;
        this.events = events;
        this.history = history;
        this.vertx = vertx;
        this.link = link;
        this.codec = codec;
        this.position = position;
        this.mesh = mesh;
        this.nodeId = nodeId;
        this.topic = topic;
        this.maxInflight = maxInflight;
        this.inflight = new Semaphore(maxInflight);
    }

    /** Called on the capture thread only, like {@link #tick} and {@link #drain}: the debouncer needs no lock. */
    @Override
    public void accept(CapturedTransaction transaction) throws InterruptedException {
        Instant now = Instant.now();
        for (Change change : transaction.changes()) {
            events.emit(new SyncEvent(
                    SyncEvent.Kind.LOCAL_CHANGE, now, nodeId, change, transaction.commitTime(), null, null));
        }
        for (Window window : debouncer.add(transaction, System.nanoTime() - sinceCommitNanos(transaction))) {
            publish(window);
        }
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

    @Override
    public void tick() throws InterruptedException {
        Optional<Window> due = debouncer.due(System.nanoTime());
        if (due.isPresent()) {
            publish(due.get());
        }
    }

    private void publish(Window window) throws InterruptedException {
        inflight.acquire();
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
                window.changes(),
                window.transactions().get(0).commitTime());
        counters.add(Counters.COALESCED, window.coalesced());
        Promise<Void> acknowledged = Promise.promise();
        send(window, codec.encode(envelope), 0, acknowledged);
        history.recordLocal(acknowledged.future(), nodeId, envelope.firstCommitTime(), window.changes());
    }

    private void send(Window window, byte[] payload, int attempt, Promise<Void> acknowledged) {
        link.publish(topic, payload).onComplete(result -> {
            if (result.succeeded()) {
                counters.increment(Counters.PUBLISHED);
                counters.add(Counters.PUBLISHED_CHANGES, window.changes().size());
                counters.add(Counters.PUBLISHED_BYTES, payload.length);
                for (CapturedTransaction transaction : window.transactions()) {
                    position.acknowledge(transaction.endLsn());
                }
                inflight.release();
                acknowledged.complete();
            } else {
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
                vertx.setTimer(RETRY_MILLIS, id -> send(window, payload, attempt + 1, acknowledged));
            }
        });
    }

    /** Sends the open window now, then waits until everything is acknowledged, or the time is up. */
    @Override
    public boolean drain(Duration timeout) throws InterruptedException {
        Optional<Window> open = debouncer.flush();
        if (open.isPresent()) {
            publish(open.get());
        }
        if (inflight.tryAcquire(maxInflight, timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            inflight.release(maxInflight);
            return true;
        }
        return false;
    }

    /**
     * Publishes changes again (history replay), outside the slot's bookkeeping: envelopes of at most
     * {@code perEnvelope} changes, each retried until the broker acknowledges it. Receivers apply them
     * idempotently.
     */
    public Future<Integer> republish(List<Change> changes, int perEnvelope) {
        Future<Void> done = Future.succeededFuture();
        Instant now = Instant.now();
        for (int from = 0; from < changes.size(); from += perEnvelope) {
            List<Change> part = changes.subList(from, Math.min(changes.size(), from + perEnvelope));
            Envelope envelope =
                    new Envelope(Envelope.FORMAT_VERSION, mesh, nodeId, 0, 0, "0/0", now, 1, List.copyOf(part));
            byte[] payload = codec.encode(envelope);
            done = done.compose(v -> publishUntilAcknowledged(payload, 0));
        }
        return done.map(v -> changes.size());
    }

    private Future<Void> publishUntilAcknowledged(byte[] payload, int attempt) {
        return link.publish(topic, payload).recover(e -> {
            if (attempt >= 20) {
                return Future.failedFuture(e);
            }
            Promise<Void> later = Promise.promise();
            vertx.setTimer(
                    RETRY_MILLIS,
                    id -> publishUntilAcknowledged(payload, attempt + 1).onComplete(later));
            return later.future();
        });
    }
}
