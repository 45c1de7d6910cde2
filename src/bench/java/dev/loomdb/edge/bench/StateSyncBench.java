package dev.loomdb.edge.bench;

import static org.awaitility.Awaitility.await;

import dev.loomdb.edge.it.Infra;
import dev.loomdb.edge.it.NodeProcess;
import io.restassured.path.json.JsonPath;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.Locale;
import org.junit.jupiter.api.Test;

/**
 * State sync against PostgreSQL's own initial table synchronisation, in one run: a new node takes a
 * graph of N nodes and 2N edges by bootstrap over MQTT, against a subscription with
 * {@code copy_data = true} of the same two tables into an empty database of the same server as the
 * serving node; then the same node repairs 1 % of its nodes lost without a trace (anti-entropy after
 * a restart), against its full bootstrap; and a round in sync costs bytes and time.
 */
class StateSyncBench {

    private static final boolean QUICK = BenchResults.QUICK;
    private static final int ROUNDS = 3;
    private static final int NODES = QUICK ? 20_000 : 100_000;
    private static final Duration BOUND = Duration.ofMinutes(10);

    private final Path root = Infra.workDir("bench-statesync");
    private final String suffix = Infra.suffix();
    private final String mesh = "bench-ss-" + suffix;
    private final int brokerPort = Infra.brokerPort();

    @Test
    void bootstrapRepairAndRoundsInSync() throws Exception {
        System.out.printf(
                Locale.ROOT,
                "%nState sync (%s mode, %s): %,d nodes + %,d edges%n",
                QUICK ? "quick" : "full",
                Infra.external() ? "machine PostgreSQL 15 + Mosquitto" : "embedded PostgreSQL + broker",
                NODES,
                2 * NODES);
        try (NodeProcess a = NodeProcess.create(
                        root, "a-" + suffix, mesh, Infra.brokerHost(), brokerPort, !Infra.external())
                .start()
                .awaitReady()) {
            seed(a);
            long rows = 3L * NODES;
            double[] ours = new double[ROUNDS];
            double[] copy = new double[ROUNDS];
            double[] bootMillis = new double[ROUNDS];
            double[] bootBytes = new double[ROUNDS];
            double[] repairMillis = new double[ROUNDS];
            double[] repairBytes = new double[ROUNDS];
            double[] syncedBytes = new double[ROUNDS];
            double[] syncedMillis = new double[ROUNDS];
            for (int r = 0; r < ROUNDS; r++) {
                try (NodeProcess c = NodeProcess.create(
                                root, "c" + r + "-" + suffix, mesh, Infra.brokerHost(), brokerPort, false)
                        .with("loom.sync.anti-entropy.interval", "0")) { // rounds only when asked
                    int round = r;
                    c.start();
                    JsonPath boot = awaitBootstrap(c);
                    bootMillis[r] = Duration.between(
                                    Instant.parse(boot.getString("stateSync.bootstrap.startedAt")),
                                    Instant.parse(boot.getString("stateSync.bootstrap.completedAt")))
                            .toMillis();
                    ours[r] = boot.getLong("stateSync.bootstrap.rows") / (bootMillis[r] / 1000.0);
                    bootBytes[r] = boot.getLong("counters.repairReceivedBytes");
                    System.out.printf(
                            Locale.ROOT,
                            "  round %d: bootstrap %,d rows in %.1f s (%,.0f rows/s, %,.0f bytes)%n",
                            r + 1,
                            boot.getLong("stateSync.bootstrap.rows"),
                            bootMillis[r] / 1000,
                            ours[r],
                            bootBytes[r]);

                    loseOnePercent(c);
                    c.stop(); // the summary a node keeps is in memory: a restart computes it anew
                    c.start().awaitReady();
                    long changed = 0;
                    JsonPath repaired;
                    do { // rounds until one finds nothing more to mend
                        repaired = round(c, a);
                        changed += repaired.getLong("rowsChanged");
                        repairMillis[r] += repaired.getLong("millis");
                        repairBytes[r] += repaired.getLong("bytes");
                    } while (repaired.getLong("rowsChanged") > 0);
                    if (changed < NODES / 100) {
                        throw new AssertionError("anti-entropy mended " + changed + " rows of " + NODES / 100);
                    }

                    a.api().body("{\"type\":\"T\"}").put("/api/nodes/touch-" + round); // summaries computed anew
                    await().atMost(BOUND)
                            .until(() ->
                                    c.api().get("/api/nodes/touch-" + round).statusCode() == 200);
                    JsonPath synced = round(c, a);
                    syncedBytes[r] = synced.getLong("bytes");
                    syncedMillis[r] = synced.getLong("millis");
                    System.out.printf(
                            Locale.ROOT,
                            "  round %d: repair of 1%% in %.0f ms (%,.0f bytes); a round in sync %.0f ms, %,.0f bytes%n",
                            r + 1,
                            repairMillis[r],
                            repairBytes[r],
                            syncedMillis[r],
                            syncedBytes[r]);
                }
                copy[r] = rows / (copyData(a, r) / 1000.0);
            }
            BenchResults.add(
                    "bootstrap of " + NODES / 1000 + "k nodes + " + 2 * NODES / 1000 + "k edges over MQTT, rows/s",
                    ours,
                    copy,
                    "PostgreSQL initial sync (copy_data)",
                    "rows/s",
                    "goal: >= 1.0");
            BenchResults.add(
                    "repair after 1% of nodes lost, ms (anti-entropy)",
                    repairMillis, bootMillis, "full bootstrap", "ms", "");
            BenchResults.add(
                    "repair after 1% of nodes lost, bytes", repairBytes, bootBytes, "full bootstrap", "bytes", "");
            BenchResults.add(
                    "anti-entropy round in sync, bytes per round",
                    syncedBytes,
                    new double[] {10 * 1024},
                    "goal (10 KB)",
                    "bytes",
                    "goal: <= 1.0");
            BenchResults.add(
                    "anti-entropy round in sync, summaries computed anew, ms",
                    syncedMillis,
                    new double[] {120_000 * 0.01 / 2},
                    "1 % of a core at the 2 min interval, per side",
                    "ms",
                    "goal: <= 1.0");
        }
    }

    private static void seed(NodeProcess a) throws Exception {
        try (Connection sql = a.sql();
                Statement s = sql.createStatement()) {
            s.execute("INSERT INTO loom.nodes (id, type, properties) SELECT 'n' || g, 'T' || (g % 10),"
                    + " jsonb_build_object('name', 'node ' || g, 'w', g % 97, 'tags', jsonb_build_array('a', 'b'))"
                    + " FROM generate_series(1, " + NODES + ") g");
            s.execute("INSERT INTO loom.edges (id, type, source_id, target_id, properties) SELECT 'e' || g,"
                    + " 'L' || (g % 5), 'n' || (g % " + NODES + " + 1), 'n' || ((g * 7) % " + NODES + " + 1),"
                    + " jsonb_build_object('weight', g % 13) FROM generate_series(1, " + 2 * NODES + ") g");
            try (ResultSet rs = s.executeQuery("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")) {
                rs.next();
                long written = rs.getLong(1);
                await("A has published the seed")
                        .atMost(BOUND)
                        .pollInterval(Duration.ofMillis(250))
                        .until(() -> a.confirmedFlushLsn(sql) >= written);
            }
        }
    }

    private static JsonPath awaitBootstrap(NodeProcess c) {
        // timed by the node itself (startedAt to completedAt): asked seldom, so that the asking (RestAssured
        // in this JVM, the status on the joiner) takes little of the two cores the bootstrap runs on
        await("bootstrap of " + c.nodeId())
                .atMost(BOUND)
                .pollInterval(Duration.ofSeconds(1))
                .ignoreExceptions()
                .until(() -> "completed"
                        .equals(c.api().get("/api/sync/status").jsonPath().getString("stateSync.bootstrap.state")));
        return c.api().get("/api/sync/status").jsonPath();
    }

    /** Removes 1 % of the nodes on {@code c} as a purge does: not synced, nothing tells anyone. */
    private static void loseOnePercent(NodeProcess c) throws Exception {
        try (Connection sql = c.sql()) {
            sql.setAutoCommit(false);
            try (Statement s = sql.createStatement()) {
                s.execute("SET LOCAL loom.purge = 'on'");
                s.execute("DELETE FROM loom.nodes WHERE id ~ '^n[0-9]+$' AND substr(id, 2)::int % 100 = 0");
            }
            sql.commit();
        }
    }

    /** One round of anti-entropy of {@code c} with {@code a}, asked over REST: what it did. */
    private static JsonPath round(NodeProcess c, NodeProcess a) {
        return c.api()
                .post("/api/sync/anti-entropy?peer=" + a.nodeId())
                .then()
                .statusCode(200)
                .extract()
                .jsonPath();
    }

    /** PostgreSQL's initial table synchronisation of A's two tables into a new database; its time in ms. */
    private static double copyData(NodeProcess a, int round) throws Exception {
        String db = "loom_it_bench_copy_" + round + "_" + Infra.suffix();
        String slot = "bench_copy_" + round;
        try (Connection admin = a.sql("postgres");
                Statement s = admin.createStatement()) {
            s.execute("CREATE DATABASE " + db);
        }
        try (Connection src = a.sql();
                Statement s = src.createStatement()) {
            s.execute("CREATE PUBLICATION " + slot + " FOR TABLE loom.nodes, loom.edges");
            s.execute("SELECT pg_create_logical_replication_slot('" + slot + "', 'pgoutput')");
        }
        double millis;
        try (Connection dst = a.sql(db)) {
            Infra.applyMigrations(dst); // the same tables and indexes; PostgreSQL's apply fires no trigger
            try (Statement s = dst.createStatement()) {
                long start = System.nanoTime();
                s.execute("CREATE SUBSCRIPTION " + slot + " CONNECTION 'host=127.0.0.1 port=" + a.postgresPort()
                        + " dbname=" + a.database() + " user=postgres' PUBLICATION " + slot
                        + " WITH (create_slot = false, slot_name = '" + slot + "', copy_data = true)");
                await("copy_data into " + db)
                        .atMost(BOUND)
                        .pollInterval(Duration.ofMillis(50))
                        .until(() -> {
                            try (ResultSet rs = s.executeQuery(
                                    "SELECT count(*) FILTER (WHERE srsubstate = 'r') FROM pg_subscription_rel")) {
                                rs.next();
                                return rs.getInt(1) == 2;
                            }
                        });
                millis = (System.nanoTime() - start) / 1e6;
                try (ResultSet rs = s.executeQuery(
                        "SELECT (SELECT count(*) FROM loom.nodes) + (SELECT count(*) FROM loom.edges)")) {
                    rs.next();
                    System.out.printf(
                            Locale.ROOT,
                            "  round %d: PostgreSQL's copy_data of %,d rows in %.1f s%n",
                            round + 1,
                            rs.getLong(1),
                            millis / 1000);
                }
                s.execute("ALTER SUBSCRIPTION " + slot + " DISABLE");
                s.execute("ALTER SUBSCRIPTION " + slot + " SET (slot_name = NONE)");
                s.execute("DROP SUBSCRIPTION " + slot);
            }
        }
        try (Connection src = a.sql();
                Statement s = src.createStatement()) {
            s.execute("SELECT pg_drop_replication_slot('" + slot + "')");
            s.execute("DROP PUBLICATION " + slot);
        }
        try (Connection admin = a.sql("postgres");
                Statement s = admin.createStatement()) {
            s.execute("DROP DATABASE " + db + " WITH (FORCE)");
        }
        return millis;
    }
}
