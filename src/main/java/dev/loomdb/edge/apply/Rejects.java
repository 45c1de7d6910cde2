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
        /** An envelope whose origin is not the node whose topic it came on: forged, or a misbehaving peer. */
        WRONG_ORIGIN("wrong-origin"),
        /** No signature, where loom.security.signing asks for one. */
        UNSIGNED("unsigned"),
        /** A signature that does not verify, or of a node not in the trust list. */
        FORGED("forged"),
        /** A signed message older than the newest of its node by more than the replay window. */
        REPLAYED("replayed"),
        /** Encrypted with a key this node lacks, changed on the way, not encrypted where the mesh encrypts, or a bad compressed body. */
        UNREADABLE("unreadable"),
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
    private final int max;

    /** Keeps at most {@code max} messages aside, dropping the oldest (and counting the drop). */
    public Rejects(Pool pool, Counters counters, int max) {
        this.pool = pool;
        this.counters = counters;
        this.max = max;
    }

    /** Fails when the message could not be stored: the caller must then not acknowledge it. */
    public Uni<Void> keepAside(String topic, byte[] payload, Reason reason, String detail) {
        LOG.warnf(
                "Rejected a message on %s (%d bytes, %s): %s. Kept in loom.rejected_messages.",
                topic, payload.length, reason.label(), detail);
        return pool.preparedQuery("WITH kept AS (INSERT INTO loom.rejected_messages (topic, reason, payload)"
                        + " VALUES ($1, $2, $3) RETURNING id), dropped AS (DELETE FROM loom.rejected_messages"
                        + " WHERE id <= (SELECT id FROM kept) - $4 RETURNING 1) SELECT count(*) FROM dropped")
                .execute(Tuple.of(topic, reason.label() + ": " + detail, Buffer.buffer(payload), max))
                .invoke(rows -> {
                    long dropped = rows.iterator().next().getLong(0);
                    if (dropped > 0) {
                        counters.add(Counters.REJECTED_DROPPED, dropped);
                    }
                })
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
