package dev.loomdb.edge.outbound;

import dev.loomdb.edge.capture.CapturedTransaction;
import dev.loomdb.edge.capture.SlotPosition;
import dev.loomdb.edge.capture.TransactionSink;
import dev.loomdb.edge.mesh.Envelope;
import dev.loomdb.edge.mesh.EnvelopeCodec;
import dev.loomdb.edge.mesh.MeshLink;
import io.vertx.core.Vertx;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
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
    private final AtomicLong coalesced = new AtomicLong();
    private final AtomicLong published = new AtomicLong();
    private final AtomicLong publishedChanges = new AtomicLong();
    private final AtomicLong publishedBytes = new AtomicLong();

    public Publisher(Vertx vertx, MeshLink link, EnvelopeCodec codec, SlotPosition position, String mesh, String nodeId,
            String topic, int maxInflight, Debouncer debouncer) {
        this.debouncer = debouncer;
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
        for (Window window : debouncer.add(transaction, System.nanoTime())) {
            publish(window);
        }
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
        Envelope envelope = new Envelope(Envelope.FORMAT_VERSION, mesh, nodeId, last.endLsn().value(), last.xid(),
                last.commitLsn().toString(), last.commitTime(), window.transactions().size(), window.changes());
        coalesced.addAndGet(window.coalesced());
        send(window, codec.encode(envelope), 0);
    }

    private void send(Window window, byte[] payload, int attempt) {
        link.publish(topic, payload).onComplete(result -> {
            if (result.succeeded()) {
                published.incrementAndGet();
                publishedChanges.addAndGet(window.changes().size());
                publishedBytes.addAndGet(payload.length);
                for (CapturedTransaction transaction : window.transactions()) {
                    position.acknowledge(transaction.endLsn());
                }
                inflight.release();
            } else {
                if (attempt == 0 || attempt % 20 == 0) {
                    LOG.warnf("Publishing %d transactions (%d changes, up to %s) failed: %s; retrying",
                            window.transactions().size(), window.changes().size(), window.last().commitLsn(),
                            result.cause().getMessage());
                }
                vertx.setTimer(RETRY_MILLIS, id -> send(window, payload, attempt + 1));
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

    public long published() {
        return published.get();
    }

    public long publishedChanges() {
        return publishedChanges.get();
    }

    public long coalesced() {
        return coalesced.get();
    }

    public long publishedBytes() {
        return publishedBytes.get();
    }
}
