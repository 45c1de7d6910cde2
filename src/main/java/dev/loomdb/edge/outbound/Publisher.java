package dev.loomdb.edge.outbound;

import dev.loomdb.edge.capture.CapturedTransaction;
import dev.loomdb.edge.capture.SlotPosition;
import dev.loomdb.edge.capture.TransactionSink;
import dev.loomdb.edge.mesh.Envelope;
import dev.loomdb.edge.mesh.EnvelopeCodec;
import dev.loomdb.edge.mesh.MeshLink;
import io.vertx.core.Vertx;
import java.time.Duration;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.jboss.logging.Logger;

/**
 * Sends each captured transaction to the mesh as one envelope and acknowledges it to the
 * {@link SlotPosition} only when the broker has acknowledged it (QoS 1 PUBACK). A publication that
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
    private final AtomicLong published = new AtomicLong();
    private final AtomicLong publishedChanges = new AtomicLong();
    private final AtomicLong publishedBytes = new AtomicLong();

    public Publisher(Vertx vertx, MeshLink link, EnvelopeCodec codec, SlotPosition position, String mesh, String nodeId,
            String topic, int maxInflight) {
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

    @Override
    public void accept(CapturedTransaction transaction) throws InterruptedException {
        inflight.acquire();
        Envelope envelope = new Envelope(Envelope.FORMAT_VERSION, mesh, nodeId, transaction.endLsn().value(),
                transaction.xid(), transaction.commitLsn().toString(), transaction.commitTime(), transaction.changes());
        send(transaction, codec.encode(envelope), 0);
    }

    private void send(CapturedTransaction transaction, byte[] payload, int attempt) {
        link.publish(topic, payload).onComplete(result -> {
            if (result.succeeded()) {
                published.incrementAndGet();
                publishedChanges.addAndGet(transaction.changes().size());
                publishedBytes.addAndGet(payload.length);
                position.acknowledge(transaction.endLsn());
                inflight.release();
            } else {
                if (attempt == 0 || attempt % 20 == 0) {
                    LOG.warnf("Publishing transaction %d (%d changes, %s) failed: %s; retrying", transaction.xid(),
                            transaction.changes().size(), transaction.commitLsn(), result.cause().getMessage());
                }
                vertx.setTimer(RETRY_MILLIS, id -> send(transaction, payload, attempt + 1));
            }
        });
    }

    @Override
    public boolean drain(Duration timeout) throws InterruptedException {
        if (inflight.tryAcquire(maxInflight, timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            inflight.release(maxInflight);
            return true;
        }
        return false;
    }

    public int inflight() {
        return maxInflight - inflight.availablePermits();
    }

    public long published() {
        return published.get();
    }

    public long publishedChanges() {
        return publishedChanges.get();
    }

    public long publishedBytes() {
        return publishedBytes.get();
    }
}
