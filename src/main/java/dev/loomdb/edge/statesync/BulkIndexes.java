package dev.loomdb.edge.statesync;

import io.vertx.core.Future;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.function.UnaryOperator;
import org.jboss.logging.Logger;

/**
 * The secondary indexes of {@code loom.nodes} and {@code loom.edges} (by type, by endpoint, the GIN
 * indexes on properties) set aside while a bootstrap fills the empty tables, and built once after
 * the pages: one bulk build costs far less than keeping them up to date row by row. Only the primary
 * keys stay, which every apply needs. Their definitions are recorded in {@code loom.sync_state} in
 * the transaction that drops them, so a node killed mid-bootstrap builds them when it goes on, or at
 * its next start if bootstrap was turned off meanwhile. The node is not ready while they are away.
 */
final class BulkIndexes {

    private static final Logger LOG = Logger.getLogger(BulkIndexes.class);
    static final String STATE = "bootstrap.indexes";

    private final Pool pool;

    BulkIndexes(Pool pool) {
        this.pool = pool;
    }

    /** Drops the secondary indexes, recording their definitions first (an earlier record is kept). */
    Future<Integer> setAside() {
        return pool.withTransaction(conn -> conn.query("SELECT indexname, indexdef FROM pg_indexes"
                        + " WHERE schemaname = 'loom' AND tablename IN ('nodes', 'edges')"
                        + " AND indexname NOT IN ('nodes_pkey', 'edges_pkey') ORDER BY indexname")
                .execute()
                .compose(rows -> {
                    List<String> names = new ArrayList<>();
                    List<String> definitions = new ArrayList<>();
                    for (Row row : rows) {
                        names.add(row.getString(0));
                        definitions.add(row.getString(1));
                    }
                    if (names.isEmpty()) {
                        return Future.succeededFuture(0);
                    }
                    Future<Void> dropped = conn.preparedQuery(
                                    "INSERT INTO loom.sync_state (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
                            .execute(Tuple.of(STATE, String.join("\n", definitions)))
                            .mapEmpty();
                    for (String name : names) {
                        dropped = dropped.compose(v -> conn.query("DROP INDEX IF EXISTS loom." + quote(name))
                                .execute()
                                .mapEmpty());
                    }
                    return dropped.map(v -> names.size());
                }));
    }

    /**
     * Builds the indexes of {@code table} recorded by {@link #setAside}, while the transfer goes on with
     * the other table; {@link #restore} then finds them built. Completes with how many.
     */
    Future<Integer> restore(String table) {
        return buildRecorded(definitions -> definitions.stream()
                        .filter(d -> d.contains(" ON loom." + table + " "))
                        .toList())
                .map(built -> {
                    if (built.count() > 0) {
                        LOG.infof(
                                "Built the %d indexes of loom.%s set aside during bootstrap in %d ms, while the"
                                        + " transfer went on",
                                built.count(), table, built.millis());
                    }
                    return built.count();
                });
    }

    /**
     * Builds the indexes recorded by {@link #setAside}, if any, {@link #LANES} at a time (those built
     * already are passed over), then forgets them; completes with how many.
     */
    Future<Integer> restore() {
        return buildRecorded(definitions -> definitions)
                .compose(built -> pool.preparedQuery("DELETE FROM loom.sync_state WHERE name = $1")
                        .execute(Tuple.of(STATE))
                        .map(v -> {
                            if (built.count() > 0) {
                                LOG.infof(
                                        "Built the %d remaining indexes of loom.nodes and loom.edges set aside during"
                                                + " bootstrap in %d ms",
                                        built.count(), built.millis());
                            }
                            return built.count();
                        }));
    }

    private record Built(int count, long millis) {}

    /** Builds the recorded indexes that {@code which} picks and that are not there yet, {@link #LANES} at a time. */
    private Future<Built> buildRecorded(UnaryOperator<List<String>> which) {
        return pool.preparedQuery("SELECT value, ARRAY(SELECT indexname::text FROM pg_indexes WHERE schemaname ="
                        + " 'loom') FROM loom.sync_state WHERE name = $1")
                .execute(Tuple.of(STATE))
                .compose(rows -> {
                    if (rows.size() == 0) {
                        return Future.succeededFuture(new Built(0, 0));
                    }
                    Row row = rows.iterator().next();
                    List<String> there = List.of(row.getArrayOfStrings(1));
                    List<String> mine =
                            new ArrayList<>(which.apply(List.of(row.getString(0).split("\n"))));
                    mine.removeIf(d -> there.contains(indexName(d)));
                    // the GIN indexes take longest: one at the head of each lane
                    mine.sort(Comparator.comparing(d -> !d.contains("USING gin")));
                    long started = System.nanoTime();
                    List<Future<Void>> lanes = new ArrayList<>();
                    for (int lane = 0; lane < LANES; lane++) {
                        List<String> creates = new ArrayList<>();
                        for (int i = lane; i < mine.size(); i += LANES) {
                            creates.add(mine.get(i)
                                    .replaceFirst("^CREATE (UNIQUE )?INDEX ", "CREATE $1INDEX IF NOT EXISTS "));
                        }
                        lanes.add(build(creates));
                    }
                    return Future.all(lanes)
                            .map(v -> new Built(mine.size(), (System.nanoTime() - started) / 1_000_000));
                });
    }

    /** How many indexes are built at once, each on a connection of its own (PostgreSQL builds each on one core). */
    private static final int LANES = 2;

    /** Memory for one index build: the GIN indexes build in far fewer passes with more than the default 64 MB. */
    private static final String BUILD_MEMORY = "256MB";

    /** Builds the given indexes one after the other on one connection. */
    private Future<Void> build(List<String> creates) {
        if (creates.isEmpty()) {
            return Future.succeededFuture();
        }
        return pool.withConnection(conn -> {
            Future<Void> done = conn.query("SET maintenance_work_mem = '" + BUILD_MEMORY + "'")
                    .execute()
                    .mapEmpty();
            for (String create : creates) {
                done = done.compose(v -> conn.query(create).execute().mapEmpty());
            }
            return done.eventually(
                    () -> conn.query("RESET maintenance_work_mem").execute());
        });
    }

    /** The name a recorded definition creates ({@code CREATE [UNIQUE] INDEX name ON ...}, as pg_indexes writes it). */
    static String indexName(String definition) {
        String[] words = definition.split(" ");
        String name = words[1].equals("UNIQUE") ? words[3] : words[2];
        return name.startsWith("\"") ? name.substring(1, name.length() - 1).replace("\"\"", "\"") : name;
    }

    private static String quote(String identifier) {
        return '"' + identifier.replace("\"", "\"\"") + '"';
    }
}
