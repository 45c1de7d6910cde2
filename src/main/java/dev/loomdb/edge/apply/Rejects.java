package dev.loomdb.edge.apply;

import dev.loomdb.edge.telemetry.Counters;
import io.smallrye.mutiny.Uni;
import io.vertx.core.buffer.Buffer;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;
import org.jboss.logging.Logger;

/**
 * Messages from the mesh that this node will not apply, with the reason: logged, counted (in total
 * and by reason) and kept in {@code loom.rejected_messages} for inspection. A rejection never stops
 * the stream.
 */
public final class Rejects {

    private static final Logger LOG = Logger.getLogger(Rejects.class);

    /** Why a message was rejected; the name is the metric's {@code reason} label. */
    public enum Reason {
        /** Not a LoomDB envelope of a known format version. */
        MALFORMED("malformed"),
        /** An envelope of another mesh. */
        WRONG_MESH("wrong-mesh"),
        /** Older than the tombstone retention. */
        BEYOND_HORIZON("beyond-horizon"),
        /** PostgreSQL refused its data (SQLSTATE class 22 or 23): applying it again cannot succeed. */
        BAD_DATA("bad-data"),
        /** A part of a window split over several messages whose other parts never arrived. */
        INCOMPLETE("incomplete");

        private final String label;

        Reason(String label) {
            this.label = label;
        }

        public String label() {
            return label;
        }

        public String counter() {
            return Counters.REJECTED + "." + label;
        }
    }

    private final Pool pool;
    private final Counters counters;

    public Rejects(Pool pool, Counters counters) {
        this.pool = pool;
        this.counters = counters;
    }

    /** Fails when the message could not be stored: the caller must then not acknowledge it. */
    public Uni<Void> keepAside(String topic, byte[] payload, Reason reason, String detail) {
        LOG.warnf(
                "Rejected a message on %s (%d bytes, %s): %s. Kept in loom.rejected_messages.",
                topic, payload.length, reason.label(), detail);
        return pool.preparedQuery("INSERT INTO loom.rejected_messages (topic, reason, payload) VALUES ($1, $2, $3)")
                .execute(Tuple.of(topic, reason.label() + ": " + detail, Buffer.buffer(payload)))
                .replaceWithVoid()
                .onFailure()
                .invoke(e -> LOG.errorf(
                        "Could not keep the rejected message aside: %s; it stays unacknowledged with the broker",
                        e.getMessage()))
                .invoke(() -> {
                    counters.increment(Counters.REJECTED);
                    counters.increment(reason.counter());
                });
    }

    public long count() {
        return counters.get(Counters.REJECTED);
    }
}
