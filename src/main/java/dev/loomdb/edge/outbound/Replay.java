package dev.loomdb.edge.outbound;

import dev.loomdb.edge.flow.Change;
import dev.loomdb.edge.flow.Envelope;
import dev.loomdb.edge.flow.EnvelopeFormat;
import dev.loomdb.edge.flow.Scope;
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
    private final Publisher.Topics topics;
    private final Scope publishes;
    private final int maxMessageSize;

    public Replay(
            Vertx vertx,
            MeshLink link,
            EnvelopeFormat format,
            String mesh,
            String nodeId,
            Publisher.Topics topics,
            Scope publishes,
            int maxMessageSize) {
        this.vertx = vertx;
        this.link = link;
        this.format = format;
        this.mesh = mesh;
        this.nodeId = nodeId;
        this.topics = topics;
        this.publishes = publishes;
        this.maxMessageSize = maxMessageSize;
    }

    /** Completes with the number of changes published, once the broker has acknowledged them all. */
    public Future<Integer> republish(List<Change> all, int perEnvelope) {
        List<Change> changes = publishes.filter(all);
        Future<Void> done = Future.succeededFuture();
        Instant now = Instant.now();
        for (int from = 0; from < changes.size(); from += perEnvelope) {
            List<Change> part = changes.subList(from, Math.min(changes.size(), from + perEnvelope));
            // a seq of its own for each replayed envelope, so that receivers never take the messages
            // of two replayed envelopes (split by type) for one window
            long seq = now.toEpochMilli() * 1000 + from / perEnvelope;
            Envelope envelope =
                    new Envelope(Envelope.FORMAT_VERSION, mesh, nodeId, seq, 0, "0/0", now, 1, List.copyOf(part));
            for (EnvelopeFormat.Message message : format.encodeByType(envelope, maxMessageSize)) {
                String topic = topics.of(message.kind(), message.type());
                done = done.compose(v -> publishUntilAcknowledged(topic, message.payload(), 0));
            }
        }
        return done.map(v -> changes.size());
    }

    private Future<Void> publishUntilAcknowledged(String topic, byte[] payload, int attempt) {
        return link.publish(topic, payload).recover(e -> {
            if (attempt >= ATTEMPTS) {
                return Future.failedFuture(e);
            }
            Promise<Void> later = Promise.promise();
            vertx.setTimer(
                    RETRY_MILLIS,
                    id -> publishUntilAcknowledged(topic, payload, attempt + 1).onComplete(later));
            return later.future();
        });
    }
}
