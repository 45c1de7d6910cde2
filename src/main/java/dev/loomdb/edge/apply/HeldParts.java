package dev.loomdb.edge.apply;

import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The parts of split windows a node holds ({@code loom.held_parts}): each is stored before the broker
 * is acknowledged, so a window may have more messages than the broker lets wait unacknowledged
 * (Mosquitto's {@code max_inflight_messages}, the embedded broker's 10), and a node that stops keeps
 * what it held. A window's parts are deleted once it is applied or given up.
 */
public final class HeldParts {

    /** A stored part, as it came from the broker. */
    public record Held(String origin, long seq, String slot, String topic, byte[] payload, long receivedAtMillis) {}

    private final Pool pool;

    public HeldParts(Pool pool) {
        this.pool = pool;
    }

    public Future<Void> store(String origin, long seq, String slot, String topic, byte[] payload) {
        return Future.fromCompletionStage(pool.preparedQuery(
                        "INSERT INTO loom.held_parts (origin, seq, slot, topic, payload) VALUES ($1, $2, $3, $4, $5)"
                                + " ON CONFLICT (origin, seq, slot) DO UPDATE SET payload = EXCLUDED.payload")
                .execute(Tuple.of(origin, seq, slot, topic, Buffer.buffer(payload)))
                .replaceWithVoid()
                .subscribeAsCompletionStage());
    }

    public Future<Void> remove(String origin, long seq) {
        return Future.fromCompletionStage(
                pool.preparedQuery("DELETE FROM loom.held_parts WHERE origin = $1 AND seq = $2")
                        .execute(Tuple.of(origin, seq))
                        .replaceWithVoid()
                        .subscribeAsCompletionStage());
    }

    /** Every part held when the node last stopped, oldest first (at start). */
    public List<Held> load() {
        List<Held> held = new ArrayList<>();
        pool.query("SELECT origin, seq, slot, topic, payload, (extract(epoch FROM received_at) * 1000)::bigint"
                        + " FROM loom.held_parts ORDER BY received_at")
                .execute()
                .await()
                .atMost(Duration.ofSeconds(30))
                .forEach(row -> held.add(new Held(
                        row.getString(0),
                        row.getLong(1),
                        row.getString(2),
                        row.getString(3),
                        row.getBuffer(4).getBytes(),
                        row.getLong(5))));
        return held;
    }
}
