package dev.loomdb.edge.mesh;

import dev.loomdb.edge.apply.Applier;
import dev.loomdb.edge.apply.Rejects;
import dev.loomdb.edge.apply.TombstonePurge;
import java.time.Duration;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.pgclient.PgException;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.atomic.AtomicLong;
import org.jboss.logging.Logger;

/**
 * Takes the mesh's messages one at a time, in the order they arrive: decodes and checks each, skips
 * this node's own, applies the rest, and acknowledges a message to the broker only once it is
 * applied or kept aside as rejected. A failure that may pass (a lost database connection) is
 * retried; bad data is rejected. Nothing is skipped silently.
 */
public final class Inbound {

    private static final Logger LOG = Logger.getLogger(Inbound.class);
    private static final long RETRY_MILLIS = 1000;

    private final Vertx vertx;
    private final EnvelopeCodec codec;
    private final Applier applier;
    private final Rejects rejects;
    private final String mesh;
    private final String nodeId;
    private final Duration retention;
    private final Deque<Delivery> queue = new ArrayDeque<>();
    private final AtomicLong received = new AtomicLong();
    private final AtomicLong applied = new AtomicLong();
    private final AtomicLong appliedChanges = new AtomicLong();
    private boolean busy;
    private Context context;

    public Inbound(Vertx vertx, EnvelopeCodec codec, Applier applier, Rejects rejects, String mesh, String nodeId,
            Duration retention) {
        this.retention = retention;
        this.vertx = vertx;
        this.codec = codec;
        this.applier = applier;
        this.rejects = rejects;
        this.mesh = mesh;
        this.nodeId = nodeId;
    }

    /** Called on the link's context for every message received. */
    public void accept(Delivery delivery) {
        if (context == null) {
            context = vertx.getOrCreateContext();
        }
        queue.addLast(delivery);
        if (!busy) {
            next();
        }
    }

    private void next() {
        Delivery delivery = queue.pollFirst();
        if (delivery == null) {
            busy = false;
            return;
        }
        busy = true;
        handle(delivery, 0);
    }

    private void handle(Delivery delivery, int attempt) {
        Envelope envelope;
        try {
            envelope = codec.decode(delivery.payload());
            if (!envelope.mesh().equals(mesh)) {
                throw new MalformedEnvelopeException("envelope of mesh '" + envelope.mesh() + "' on this mesh's topic");
            }
        } catch (MalformedEnvelopeException e) {
            reject(delivery, e.getMessage());
            return;
        }
        if (envelope.origin().equals(nodeId)) {
            done(delivery);
            return;
        }
        long horizon = TombstonePurge.horizon(retention);
        if (envelope.changes().stream().anyMatch(c -> c.hlc() < horizon)) {
            reject(delivery, "a change is older than the tombstone retention (loom.tombstone.retention=" + retention
                    + "): applying it could bring back a row whose delete is forgotten");
            return;
        }
        if (attempt == 0) {
            received.incrementAndGet();
        }
        applier.apply(envelope).onComplete(result -> {
            if (result.succeeded()) {
                applied.incrementAndGet();
                appliedChanges.addAndGet(envelope.changes().size());
                done(delivery);
            } else if (isBadData(result.cause())) {
                reject(delivery, "cannot be applied: " + result.cause().getMessage());
            } else {
                if (attempt % 10 == 0) {
                    LOG.warnf("Applying transaction %d from %s failed (%s); retrying in %d ms", envelope.txid(),
                            envelope.origin(), result.cause().getMessage(), RETRY_MILLIS);
                }
                applier.reset();
                vertx.setTimer(RETRY_MILLIS, id -> handle(delivery, attempt + 1));
            }
        });
    }

    /** SQLSTATE classes 22 (data exception) and 23 (integrity constraint violation): retrying will not help. */
    private static boolean isBadData(Throwable failure) {
        if (failure instanceof PgException pg && pg.getSqlState() != null) {
            return pg.getSqlState().startsWith("22") || pg.getSqlState().startsWith("23");
        }
        return false;
    }

    private void reject(Delivery delivery, String reason) {
        rejects.keepAside(delivery.topic(), delivery.payload(), reason)
                .subscribe().with(v -> context.runOnContext(x -> done(delivery)),
                        e -> context.runOnContext(x -> done(delivery)));
    }

    private void done(Delivery delivery) {
        try {
            delivery.ack().run();
        } catch (RuntimeException e) {
            // The connection it came on is gone; the broker delivers it again on the next one (applying twice is harmless).
            LOG.debugf("Could not acknowledge a message on %s: %s", delivery.topic(), e.getMessage());
        }
        next();
    }

    public long received() {
        return received.get();
    }

    public long applied() {
        return applied.get();
    }

    public long appliedChanges() {
        return appliedChanges.get();
    }
}
