package dev.loomdb.edge.bench;

import static org.awaitility.Awaitility.await;

import dev.loomdb.edge.it.Infra;
import dev.loomdb.edge.it.NodeProcess;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.HdrHistogram.Histogram;

/**
 * The baseline of the sync benchmarks: PostgreSQL's own logical replication from one database to one
 * or more subscriber databases of the same server ({@code CREATE PUBLICATION} / {@code CREATE
 * SUBSCRIPTION}, one slot per subscriber), moving the benchmarks' rows into a table of the shape of
 * {@code loom.nodes}; and the write ceilings: the same writes into a table nothing replicates, and into
 * {@code loom.nodes} of a database nothing captures. Its databases are named {@code loom_it_bench_<name>_*}
 * so that .ci/run's clean-up finds any left behind.
 */
final class PgReplication {

    /** The shape of loom.nodes (columns, checks, indexes, replica identity), without its triggers. */
    private static final String[] TABLE = {
        "CREATE TABLE bench_nodes (id text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 256), type text NOT NULL"
                + " CHECK (length(type) BETWEEN 1 AND 256), properties jsonb NOT NULL DEFAULT '{}'::jsonb"
                + " CHECK (jsonb_typeof(properties) = 'object'), hlc bigint NOT NULL DEFAULT 0, version bigint NOT NULL"
                + " DEFAULT 0, origin text NOT NULL DEFAULT '', tombstone boolean NOT NULL DEFAULT false,"
                + " deleted_at timestamptz, property_clocks jsonb NOT NULL DEFAULT '{}'::jsonb, base_hlc bigint NOT NULL"
                + " DEFAULT 0, applied boolean NOT NULL DEFAULT false, bench_applied_at timestamptz)",
        "CREATE INDEX ON bench_nodes (type, id)",
        "CREATE INDEX ON bench_nodes USING gin (properties)",
        "ALTER TABLE bench_nodes REPLICA IDENTITY FULL"
    };

    private final NodeProcess server;
    private final String source;
    /** Subscriber databases; the slot and subscription of each are named after it. */
    private final List<String> targets = new ArrayList<>();

    private final String plain;
    private final String graph;
    private final AtomicLong sequence = new AtomicLong();

    /** Replication from one database to {@code subscribers} databases of {@code server}'s PostgreSQL. */
    PgReplication(NodeProcess server, String name, int subscribers) {
        this.server = server;
        String prefix = "loom_it_bench_" + name + "_";
        this.source = prefix + "src";
        for (int i = 1; i <= subscribers; i++) {
            targets.add(prefix + "dst" + i);
        }
        this.plain = prefix + "plain";
        this.graph = prefix + "graph";
    }

    Connection source() throws SQLException {
        return server.sql(source);
    }

    /** The first subscriber database. */
    Connection target() throws SQLException {
        return server.sql(targets.get(0));
    }

    private List<String> databases() {
        List<String> all = new ArrayList<>(List.of(source, plain, graph));
        all.addAll(targets);
        return all;
    }

    void create() throws Exception {
        drop();
        try (Connection admin = server.sql("postgres");
                Statement s = admin.createStatement()) {
            for (String db : databases()) {
                s.execute("CREATE DATABASE " + db);
            }
        }
        try (Connection g = server.sql(graph)) {
            Infra.applyMigrations(g); // the node's schema and stamping trigger, with nothing capturing
            try (Statement s = g.createStatement()) {
                s.execute("INSERT INTO loom.node_info (node_id) VALUES ('bench')"); // as a node's start does
            }
        }
        List<String> tables = new ArrayList<>(List.of(source, plain));
        tables.addAll(targets);
        for (String db : tables) {
            try (Connection c = server.sql(db);
                    Statement s = c.createStatement()) {
                for (String ddl : TABLE) {
                    s.execute(ddl);
                }
            }
        }
        try (Connection src = source();
                Statement s = src.createStatement()) {
            s.execute("CREATE PUBLICATION bench_pub FOR TABLE bench_nodes");
            for (String target : targets) {
                s.execute("SELECT pg_create_logical_replication_slot('" + target + "', 'pgoutput')");
            }
        }
        for (String target : targets) {
            try (Connection dst = server.sql(target);
                    Statement s = dst.createStatement()) {
                s.execute(SyncLoad.STAMP_FUNCTION);
                s.execute("CREATE TRIGGER zz_bench_applied BEFORE INSERT OR UPDATE ON bench_nodes FOR EACH ROW"
                        + " EXECUTE FUNCTION public.bench_stamp_applied()");
                s.execute("ALTER TABLE bench_nodes ENABLE ALWAYS TRIGGER zz_bench_applied");
                // Same server: the slot exists already (creating it in this command would wait on itself).
                s.execute("CREATE SUBSCRIPTION bench_sub CONNECTION 'host=127.0.0.1 port=" + server.postgresPort()
                        + " dbname=" + source + " user=postgres' PUBLICATION bench_pub WITH (create_slot = false,"
                        + " slot_name = '" + target + "', copy_data = false)");
            }
        }
        // warm-up; also proves the subscriptions run
        String prefix = "w" + sequence.incrementAndGet() + "-";
        Map<String, Long> committed = SyncLoad.offerAt(this::source, "bench_nodes", prefix, 100, Duration.ofSeconds(1));
        for (String target : targets) {
            SyncLoad.arrivals(() -> server.sql(target), "bench_nodes", prefix, committed);
        }
    }

    /**
     * Enables or disables the subscriptions (their WAL senders exit while disabled). Before enabling,
     * each slot is created anew at the current position, so its WAL sender does not decode the WAL of
     * the other runs written meanwhile during the next measurement (advancing the slot would leave its
     * restart point, where decoding starts, behind).
     */
    void subscription(boolean enabled) throws SQLException {
        try (Connection src = source();
                Statement s = src.createStatement()) {
            for (String target : targets) {
                if (enabled) {
                    s.execute("SELECT pg_drop_replication_slot('" + target + "')");
                    s.execute("SELECT pg_create_logical_replication_slot('" + target + "', 'pgoutput')");
                }
                try (Connection dst = server.sql(target);
                        Statement d = dst.createStatement()) {
                    d.execute("ALTER SUBSCRIPTION bench_sub " + (enabled ? "ENABLE" : "DISABLE"));
                }
            }
            for (String target : targets) {
                await("baseline slot " + target + (enabled ? " in use" : " released"))
                        .atMost(Duration.ofSeconds(60))
                        .pollInterval(Duration.ofMillis(100))
                        .until(() -> {
                            try (ResultSet rs = s.executeQuery(
                                    "SELECT active FROM pg_replication_slots WHERE slot_name = '" + target + "'")) {
                                return rs.next() && rs.getBoolean(1) == enabled;
                            }
                        });
            }
        }
    }

    /** The server of the baseline runs, its databases named by their part in them. */
    List<CpuMeter.Server> servers() {
        return List.of(new CpuMeter.Server(this::source, db -> {
            if (db.equals(source)) {
                return "source";
            }
            if (targets.contains(db)) {
                return "receiver";
            }
            return db.equals(plain) || db.equals(graph) ? "writer (no sync)" : "idle nodes";
        }));
    }

    /** {@code rows} upserts in transactions of {@link SyncLoad#BATCH} until every subscriber has them, rows/s. */
    double throughput(int rows) throws Exception {
        String prefix = "t" + sequence.incrementAndGet() + "-";
        long start = System.nanoTime();
        try (Connection sql = source()) {
            SyncLoad.writeBatches(sql, "bench_nodes", prefix, rows);
        }
        for (String target : targets) {
            SyncLoad.awaitRow(() -> server.sql(target), "bench_nodes", prefix + rows);
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        for (String target : targets) {
            SyncLoad.assertCount(() -> server.sql(target), "bench_nodes", prefix, rows);
        }
        return rows / seconds;
    }

    /** The same writes into a table nothing replicates: how fast PostgreSQL itself commits them. */
    double ceiling(int rows) throws Exception {
        return writeRate(plain, "bench_nodes", rows, SyncLoad.BATCH);
    }

    /** One-row commits into a table nothing replicates, rows/s. */
    double oneRowCeiling(int rows) throws Exception {
        return writeRate(plain, "bench_nodes", rows, 1);
    }

    /** The same writes into loom.nodes (stamping trigger, indexes) of a database nothing captures. */
    double graphCeiling(int rows) throws Exception {
        return writeRate(graph, "loom.nodes", rows, SyncLoad.BATCH);
    }

    private double writeRate(String database, String table, int rows, int perTransaction) throws Exception {
        String prefix = "c" + sequence.incrementAndGet() + "-";
        long start = System.nanoTime();
        try (Connection sql = server.sql(database)) {
            SyncLoad.writeBatches(sql, table, prefix, rows, perTransaction);
        }
        return rows / ((System.nanoTime() - start) / 1e9);
    }

    /** Latency percentiles (p50, p95, p99) per round at {@code load} rows/s, over every subscriber. */
    double[][] latencyRounds(int load, int rounds, Duration time) throws Exception {
        return latencyRounds(load, rounds, time, SyncLoad.Start.COMMITTED);
    }

    /** As {@link #latencyRounds(int, int, Duration)}, each row's latency starting at {@code start}. */
    double[][] latencyRounds(int load, int rounds, Duration time, SyncLoad.Start start) throws Exception {
        double[][] byRound = new double[rounds][];
        for (int r = 0; r < rounds; r++) {
            String prefix = "l" + sequence.incrementAndGet() + "-";
            Map<String, Long> committed = SyncLoad.offerAt(this::source, "bench_nodes", prefix, load, time, start);
            Histogram merged = new Histogram(3);
            for (String target : targets) {
                merged.add(SyncLoad.arrivals(() -> server.sql(target), "bench_nodes", prefix, committed));
            }
            byRound[r] = SyncLoad.percentiles(merged);
        }
        return byRound;
    }

    void drop() {
        for (String target : targets) {
            try (Connection dst = server.sql(target);
                    Statement s = dst.createStatement()) {
                s.execute("ALTER SUBSCRIPTION bench_sub DISABLE");
                s.execute("ALTER SUBSCRIPTION bench_sub SET (slot_name = NONE)");
                s.execute("DROP SUBSCRIPTION bench_sub");
            } catch (SQLException e) {
                // not there
            }
        }
        try (Connection admin = server.sql("postgres");
                Statement s = admin.createStatement()) {
            String slots = "slot_name IN ('" + String.join("', '", targets) + "')";
            await().atMost(Duration.ofSeconds(30)).until(() -> {
                try (ResultSet rs =
                        s.executeQuery("SELECT count(*) FROM pg_replication_slots WHERE " + slots + " AND active")) {
                    rs.next();
                    return rs.getLong(1) == 0;
                }
            });
            s.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE " + slots);
            for (String db : databases()) {
                s.execute("DROP DATABASE IF EXISTS " + db + " WITH (FORCE)");
            }
        } catch (SQLException e) {
            throw new IllegalStateException("cannot clean up the baseline databases", e);
        }
    }
}
