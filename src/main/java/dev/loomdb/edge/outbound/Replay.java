package dev.loomdb.edge.outbound;

import dev.loomdb.edge.flow.Change;
import dev.loomdb.edge.flow.Envelope;
import dev.loomdb.edge.flow.EnvelopeFormat;
import dev.loomdb.edge.mesh.MeshLink;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.time.Instant;
import java.util.List;

/**
 * Publishes changes again (a range of the change history), outside the slot's bookkeeping:
 * envelopes of at most {@code perEnvelope} changes, each retried until the broker acknowledges it
 * or 20 attempts failed. Receivers apply them idempotently.
 */
public final class Replay {

    private static final long RETRY_MILLIS = 500;
    private static final int ATTEMPTS = 20;

    private final Vertx vertx;
    private final MeshLink link;
    private final EnvelopeFormat format;
    private final String mesh;
    private final String nodeId;
    private final String topic;
    private final int maxMessageSize;

    public Replay(
            Vertx vertx,
            MeshLink link,
            EnvelopeFormat format,
            String mesh,
            String nodeId,
            String topic,
            int maxMessageSize) {
        this.vertx = vertx;
        this.link = link;
        this.format = format;
        this.mesh = mesh;
        this.nodeId = nodeId;
        this.topic = topic;
        this.maxMessageSize = maxMessageSize;
    }

    /** Completes with the number of changes published, once the broker has acknowledged them all. */
    public Future<Integer> republish(List<Change> changes, int perEnvelope) {
        Future<Void> done = Future.succeededFuture();
        Instant now = Instant.now();
        for (int from = 0; from < changes.size(); from += perEnvelope) {
            List<Change> part = changes.subList(from, Math.min(changes.size(), from + perEnvelope));
            Envelope envelope =
                    new Envelope(Envelope.FORMAT_VERSION, mesh, nodeId, 0, 0, "0/0", now, 1, List.copyOf(part));
            for (byte[] payload : format.encodeWithin(envelope, maxMessageSize)) {
                done = done.compose(v -> publishUntilAcknowledged(payload, 0));
            }
        }
        return done.map(v -> changes.size());
    }

    private Future<Void> publishUntilAcknowledged(byte[] payload, int attempt) {
        return link.publish(topic, payload).recover(e -> {
            if (attempt >= ATTEMPTS) {
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
