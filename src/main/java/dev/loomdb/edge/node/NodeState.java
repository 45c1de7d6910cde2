package dev.loomdb.edge.node;

import dev.loomdb.edge.apply.Parking;
import dev.loomdb.edge.apply.Peers;
import dev.loomdb.edge.telemetry.Counters;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.inject.Singleton;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

/**
 * What the node keeps of itself in PostgreSQL besides the graph (the process is disposable): the
 * status counters, the peers' figures and the parked messages, loaded at start, counters saved as
 * they change.
 */
@Singleton
public class NodeState {

    private final Pool pool;
    private final Counters counters;
    private final Peers peers;
    private final Parking parking;
    private volatile Map<String, Long> saved = Map.of();

    public NodeState(Pool pool, Counters counters, Peers peers, Parking parking) {
        this.pool = pool;
        this.counters = counters;
        this.peers = peers;
        this.parking = parking;
    }

    /** Counters, peers and parked messages continue where the last run left them. */
    void restore() {
        Map<String, Long> stored = new HashMap<>();
        pool.query("SELECT name, value FROM loom.sync_counters")
                .execute()
                .await()
                .atMost(Duration.ofSeconds(30))
                .forEach(row -> stored.put(row.getString(0), row.getLong(1)));
        counters.restore(stored);
        saved = counters.snapshot();
        peers.load(pool);
        parking.load();
    }

    Uni<Void> saveCounters() {
        Map<String, Long> now = counters.snapshot();
        if (now.equals(saved)) {
            return Uni.createFrom().voidItem();
        }
        String[] names = now.keySet().toArray(new String[0]);
        Long[] values = now.values().toArray(new Long[0]);
        return pool.preparedQuery("INSERT INTO loom.sync_counters (name, value) SELECT * FROM unnest($1::text[],"
                        + " $2::bigint[]) ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value")
                .execute(Tuple.of(names, values))
                .invoke(() -> saved = now)
                .replaceWithVoid();
    }
}
