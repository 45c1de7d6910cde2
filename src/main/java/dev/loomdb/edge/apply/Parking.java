package dev.loomdb.edge.apply;

import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A peer's messages that wait in {@code loom.parked_messages} (its breaker is open, or applying
 * failed for a reason that may pass): stored before the broker is acknowledged, deleted once applied.
 */
public final class Parking {

    /** A parked message. */
    public record Parked(long id, String topic, byte[] payload) {}

    private final Pool pool;
    private final Map<String, AtomicInteger> counts = new ConcurrentHashMap<>();

    public Parking(Pool pool) {
        this.pool = pool;
    }

    /** Loads how many messages each peer has parked (at start). */
    public void load() {
        pool.query("SELECT peer_id, count(*) FROM loom.parked_messages GROUP BY peer_id")
                .execute()
                .await()
                .atMost(java.time.Duration.ofSeconds(30))
                .forEach(row -> counts.put(
                        row.getString(0), new AtomicInteger(row.getLong(1).intValue())));
    }

    public Future<Void> park(String peer, String topic, byte[] payload, String reason) {
        return Future.fromCompletionStage(pool.preparedQuery(
                        "INSERT INTO loom.parked_messages (peer_id, topic, reason, payload) VALUES ($1, $2, $3, $4)")
                .execute(Tuple.of(peer, topic, reason, Buffer.buffer(payload)))
                .invoke(() -> count(peer).incrementAndGet())
                .replaceWithVoid()
                .subscribeAsCompletionStage());
    }

    public Future<Optional<Parked>> oldest(String peer) {
        return Future.fromCompletionStage(pool.preparedQuery(
                        "SELECT id, topic, payload FROM loom.parked_messages WHERE peer_id = $1 ORDER BY id LIMIT 1")
                .execute(Tuple.of(peer))
                .map(rows -> {
                    var it = rows.iterator();
                    if (!it.hasNext()) {
                        return Optional.<Parked>empty();
                    }
                    var row = it.next();
                    return Optional.of(new Parked(
                            row.getLong(0), row.getString(1), row.getBuffer(2).getBytes()));
                })
                .subscribeAsCompletionStage());
    }

    public Future<Void> remove(String peer, long id) {
        return Future.fromCompletionStage(pool.preparedQuery("DELETE FROM loom.parked_messages WHERE id = $1")
                .execute(Tuple.of(id))
                .invoke(rows -> {
                    if (rows.rowCount() > 0) {
                        count(peer).decrementAndGet();
                    }
                })
                .replaceWithVoid()
                .subscribeAsCompletionStage());
    }

    public Future<Void> failedAgain(long id, String reason) {
        return Future.fromCompletionStage(
                pool.preparedQuery("UPDATE loom.parked_messages SET attempts = attempts + 1, reason = $2 WHERE id = $1")
                        .execute(Tuple.of(id, reason))
                        .replaceWithVoid()
                        .subscribeAsCompletionStage());
    }

    public int parked(String peerId) {
        AtomicInteger count = counts.get(peerId);
        return count == null ? 0 : count.get();
    }

    public Map<String, Integer> counts() {
        Map<String, Integer> copy = new TreeMap<>();
        counts.forEach((peer, count) -> {
            if (count.get() > 0) {
                copy.put(peer, count.get());
            }
        });
        return copy;
    }

    public int total() {
        return counts.values().stream().mapToInt(AtomicInteger::get).sum();
    }

    private AtomicInteger count(String peer) {
        return counts.computeIfAbsent(peer, p -> new AtomicInteger());
    }
}
