package dev.loomdb.edge.statesync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loomdb.edge.flow.Change;
import dev.loomdb.edge.flow.Scope;
import dev.loomdb.edge.flow.TypeSet;
import dev.loomdb.edge.it.SchemaDatabase;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.pgclient.PgBuilder;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.PoolOptions;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The digests read from the stored columns are the digests computed from the rows, at every level
 * (summary, groups, leaves, rows), before and after writes: a node that keeps the stored hashes and
 * one that computes them (loom.sync.anti-entropy.stored-hashes=false, or an older node) compare equal
 * states as equal. Turning the setting off drops the columns. Real PostgreSQL.
 */
class StateDigestsIT {

    private static SchemaDatabase database;
    private static Vertx vertx;
    private static Pool pool;

    @BeforeAll
    static void startPostgres() throws Exception {
        database = SchemaDatabase.create("digests");
        vertx = Vertx.vertx();
        pool = PgBuilder.pool()
                .with(new PoolOptions().setMaxSize(2))
                .connectingTo(PgConnectOptions.fromUri(database.reactiveUrl()).setUser("postgres"))
                .using(vertx)
                .build();
        sql("INSERT INTO loom.nodes (id, type, properties) SELECT 'n' || g, 'T' || (g % 3),"
                + " jsonb_build_object('name', 'node ' || g, 'é', E'a\\\\b\"c', 'w', g % 7, 'tags', jsonb_build_array('x'))"
                + " FROM generate_series(1, 2000) g");
        sql("INSERT INTO loom.edges (id, type, source_id, target_id, properties) SELECT 'e' || g, 'L',"
                + " 'n' || g, 'n' || (g % 2000 + 1), jsonb_build_object('weight', g) FROM generate_series(1, 3000) g");
        sql("UPDATE loom.nodes SET properties = properties || '{\"w\": 99}' WHERE id IN ('n1', 'n2', 'n3')");
        sql("DELETE FROM loom.nodes WHERE id IN ('n4', 'n5')"); // tombstones
        sql("DELETE FROM loom.edges WHERE id = 'e7'");
    }

    @AfterAll
    static void stopPostgres() throws Exception {
        if (pool != null) {
            await(pool.close());
        }
        if (vertx != null) {
            await(vertx.close());
        }
        if (database != null) {
            database.close();
        }
    }

    @Test
    void storedAndComputedDigestsAgreeAndTheSettingAddsOrDropsTheColumns() throws Exception {
        StateDigests stored = new StateDigests(pool, () -> 0, true);
        StateDigests computed = new StateDigests(pool, () -> 0, false);
        await(stored.prepare());
        assertEquals(4, storedColumns(), "row_hash and leaf on both tables");

        StateDigests.Summary before = await(computed.summary(Scope.ALL));
        assertEquals(before, await(stored.summary(Scope.ALL)));
        assertEquals(2000, before.nodes().count());
        assertEquals(3000, before.edges().count());
        sameAtEveryLevel(stored, computed);

        sql("UPDATE loom.nodes SET properties = properties || '{\"w\": 100}' WHERE id = 'n10'");
        StateDigests.Summary after = await(new StateDigests(pool, () -> 1, false).summary(Scope.ALL));
        assertNotEquals(before.nodes(), after.nodes(), "a write changes the digest");
        assertEquals(after, await(new StateDigests(pool, () -> 1, true).summary(Scope.ALL)));
        sameAtEveryLevel(stored, computed);

        await(computed.prepare());
        assertEquals(0, storedColumns(), "stored-hashes=false drops the columns");
        assertEquals(after, await(new StateDigests(pool, () -> 2, false).summary(Scope.ALL)));
        await(stored.prepare());
        assertEquals(4, storedColumns(), "and true adds them again");
        assertEquals(after, await(new StateDigests(pool, () -> 3, true).summary(Scope.ALL)));
    }

    private static void sameAtEveryLevel(StateDigests stored, StateDigests computed) throws Exception {
        for (Change.Kind kind : Change.Kind.values()) {
            StateDigests.Digest[] groups = await(stored.groups(kind, TypeSet.ALL));
            assertTrue(Arrays.equals(groups, await(computed.groups(kind, TypeSet.ALL))), kind + " groups");
            List<Integer> someGroups = List.of(0, 17, 63);
            Map<Integer, StateDigests.Digest> leaves = await(stored.leaves(kind, TypeSet.ALL, someGroups));
            assertFalse(leaves.isEmpty());
            assertEquals(leaves, await(computed.leaves(kind, TypeSet.ALL, someGroups)), kind + " leaves");
            List<Integer> someLeaves = new ArrayList<>(leaves.keySet());
            Map<String, Long> rows = await(stored.rowHashes(kind, TypeSet.ALL, someLeaves));
            assertFalse(rows.isEmpty());
            assertEquals(rows, await(computed.rowHashes(kind, TypeSet.ALL, someLeaves)), kind + " row hashes");
        }
        TypeSet oneType = TypeSet.only(List.of("T1"));
        assertTrue(Arrays.equals(
                await(stored.groups(Change.Kind.NODE, oneType)), await(computed.groups(Change.Kind.NODE, oneType))));
        long t1 = Arrays.stream(await(stored.groups(Change.Kind.NODE, oneType)))
                .mapToLong(StateDigests.Digest::count)
                .sum();
        assertEquals(667, t1, "the nodes of type T1 (ids 1 to 2000 with id % 3 = 1)");
    }

    private static int storedColumns() throws Exception {
        try (Connection connection = database.connect();
                Statement s = connection.createStatement();
                ResultSet rs = s.executeQuery("SELECT count(*) FROM information_schema.columns WHERE table_schema ="
                        + " 'loom' AND table_name IN ('nodes', 'edges') AND column_name IN ('row_hash', 'leaf')")) {
            rs.next();
            return rs.getInt(1);
        }
    }

    private static void sql(String statement) throws Exception {
        try (Connection connection = database.connect();
                Statement s = connection.createStatement()) {
            s.execute(statement);
        }
    }

    private static <T> T await(Future<T> future) throws Exception {
        return future.toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
    }
}
