package dev.loomdb.edge.statesync;

import io.vertx.core.Future;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * What state sync keeps across restarts ({@code loom.sync_state}, name → text): how far a bootstrap
 * got, what the node followed and subscribed to, when it was last connected.
 */
final class SyncState {

    private static final String UPSERT = "INSERT INTO loom.sync_state (name, value) VALUES ($1, $2)"
            + " ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = now()";

    private final Pool pool;

    SyncState(Pool pool) {
        this.pool = pool;
    }

    /** At start, waiting: the values whose names start with {@code prefix} (a name itself, or {@code bootstrap}). */
    Map<String, String> readAtStart(String prefix) {
        return await(
                pool.preparedQuery("SELECT name, value FROM loom.sync_state WHERE starts_with(name, $1)")
                        .execute(Tuple.of(prefix))
                        .map(rows -> {
                            Map<String, String> values = new HashMap<>();
                            for (Row row : rows) {
                                values.put(row.getString(0), row.getString(1));
                            }
                            return values;
                        }),
                "read");
    }

    Future<Void> save(String name, String value) {
        return pool.preparedQuery(UPSERT).execute(Tuple.of(name, value)).mapEmpty();
    }

    Future<Void> remove(String... names) {
        return pool.preparedQuery("DELETE FROM loom.sync_state WHERE name = ANY($1)")
                .execute(Tuple.of((Object) names))
                .mapEmpty();
    }

    /** Waits for a read or write at start (30 s at most). */
    static <T> T await(Future<T> future, String what) {
        try {
            return future.toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException("cannot " + what + " loom.sync_state: " + e.getMessage(), e);
        }
    }
}
