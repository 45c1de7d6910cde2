package dev.loomdb.edge.apply;

import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;
import java.util.concurrent.atomic.AtomicLong;
import org.jboss.logging.Logger;

/**
 * Messages from the mesh that this node will not apply, with the reason: logged, counted and kept
 * in {@code loom.rejected_messages} for inspection. A rejection never stops the stream.
 */
public final class Rejects {

    private static final Logger LOG = Logger.getLogger(Rejects.class);

    private final Pool pool;
    private final AtomicLong count = new AtomicLong();

    public Rejects(Pool pool) {
        this.pool = pool;
    }

    public Uni<Void> keepAside(String topic, byte[] payload, String reason) {
        LOG.warnf("Rejected a message on %s (%d bytes): %s. Kept in loom.rejected_messages.", topic, payload.length,
                reason);
        return pool.preparedQuery("INSERT INTO loom.rejected_messages (topic, reason, payload) VALUES ($1, $2, $3)")
                .execute(Tuple.of(topic, reason, io.vertx.core.buffer.Buffer.buffer(payload)))
                .replaceWithVoid()
                .onFailure().invoke(e -> LOG.errorf("Could not keep the rejected message aside: %s", e.getMessage()))
                .onFailure().recoverWithNull()
                .invoke(() -> count.incrementAndGet());
    }

    public long count() {
        return count.get();
    }
}
