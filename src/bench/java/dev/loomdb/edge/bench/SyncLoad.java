package dev.loomdb.edge.bench;

import static org.awaitility.Awaitility.await;

import dev.loomdb.edge.it.NodeProcess;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.HdrHistogram.Histogram;

/**
 * The write patterns and the measurements the sync benchmarks share: batches of upserts on a
 * source, paced inserts whose commit times are kept, and on a receiver the time each row was
 * written there ({@code clock_timestamp()} in a trigger inside the applying transaction).
 */
final class SyncLoad {

    /** Rows per transaction of the throughput runs. */
    static final int BATCH = 1000;
    /** How long a run waits for its last row on a receiver. */
    static final Duration ARRIVAL = Duration.ofMinutes(5);

    private SyncLoad() {}

    static final String STAMP_FUNCTION = "CREATE OR REPLACE FUNCTION public.bench_stamp_applied() RETURNS trigger"
            + " LANGUAGE plpgsql AS $$ BEGIN NEW.bench_applied_at := clock_timestamp(); RETURN NEW; END $$";

    interface SqlSource {
        Connection get() throws SQLException;
    }

    /** The write pattern of the throughput runs: rows prefix||from .. prefix||to in one statement. */
    static final String UPSERT = "INSERT INTO %s (id, type, properties)"
            + " SELECT ? || g, 'Bench', jsonb_build_object('g', g, 'payload', 'abcdefghijklmnopqrstuvwxyz')"
            + " FROM generate_series(?::int, ?::int) g ON CONFLICT (id) DO UPDATE SET properties = EXCLUDED.properties";

    /** Where a row's latency starts: when the writer's commit returned, or when it sent the transaction. */
    enum Start {
        /** The moment COMMIT returned to the writer (the default: the change is durable from then on). */
        COMMITTED,
        /**
         * The moment the writer sent the transaction (one statement in autocommit), so the source's commit
         * is part of the latency. On a machine whose cores are all busy the writer's thread may run again
         * only after the receiver has applied the row, so a start taken when COMMIT returns comes late (a
         * p50 of 0.00 ms for PostgreSQL's own replication); this start does not depend on the writer's turn.
         */
        SENT
    }

    /**
     * Offers {@code load} rows/s for {@code time}: every 10 ms one transaction of load/100 new rows.
     * Returns each row's commit time (epoch µs, when COMMIT returned).
     */
    static Map<String, Long> offerAt(SqlSource source, String table, String prefix, int load, Duration time)
            throws Exception {
        return offerAt(source, table, prefix, load, time, Start.COMMITTED);
    }

    /** As {@link #offerAt(SqlSource, String, String, int, Duration)}, each row's latency starting at {@code start}. */
    static Map<String, Long> offerAt(
            SqlSource source, String table, String prefix, int load, Duration time, Start start) throws Exception {
        Map<String, Long> committed = new ConcurrentHashMap<>();
        int perTick = Math.max(1, load / 100);
        long ticks = time.toMillis() / 10;
        try (Connection sql = source.get();
                PreparedStatement insert = sql.prepareStatement(
                        "INSERT INTO " + table + " (id, type, properties)"
                                + " SELECT ? || g, 'Bench', jsonb_build_object('g', g) FROM generate_series(?::int, ?::int) g")) {
            long begin = System.nanoTime();
            for (long tick = 0; tick < ticks; tick++) {
                long due = begin + tick * 10_000_000L;
                long wait = due - System.nanoTime();
                if (wait > 0) {
                    java.util.concurrent.locks.LockSupport.parkNanos(wait);
                }
                int from = (int) (tick * perTick);
                insert.setString(1, prefix);
                insert.setInt(2, from);
                insert.setInt(3, from + perTick - 1);
                long sent = micros(Instant.now());
                insert.executeUpdate();
                long at = start == Start.SENT ? sent : micros(Instant.now());
                for (int i = from; i < from + perTick; i++) {
                    committed.put(prefix + i, at);
                }
            }
        }
        return committed;
    }

    /** Waits until every row arrived, then reads when each was written on the receiver. */
    static Histogram arrivals(SqlSource target, String table, String prefix, Map<String, Long> committed)
            throws Exception {
        long last = committed.size() - 1;
        awaitRow(target, table, prefix + last);
        Histogram histogram = new Histogram(3);
        try (Connection sql = target.get();
                PreparedStatement query = sql.prepareStatement(
                        "SELECT id," + " (extract(epoch FROM bench_applied_at) * 1000000)::bigint FROM " + table
                                + " WHERE id LIKE ?")) {
            query.setString(1, prefix + "%");
            try (ResultSet rs = query.executeQuery()) {
                int n = 0;
                while (rs.next()) {
                    Long at = committed.get(rs.getString(1));
                    if (at != null) {
                        histogram.recordValue(Math.max(0, rs.getLong(2) - at));
                        n++;
                    }
                }
                if (n != committed.size()) {
                    throw new IllegalStateException(n + " of " + committed.size() + " rows arrived with " + prefix);
                }
            }
        }
        return histogram;
    }

    static double[] percentiles(Histogram micros) {
        return new double[] {
            micros.getValueAtPercentile(50) / 1000.0,
            micros.getValueAtPercentile(95) / 1000.0,
            micros.getValueAtPercentile(99) / 1000.0
        };
    }

    /** Upserts {@code rows} rows (ids prefix1..prefixN), BATCH per transaction. */
    static void writeBatches(Connection sql, String table, String prefix, int rows) throws SQLException {
        writeBatches(sql, table, prefix, rows, BATCH);
    }

    /** Upserts {@code rows} rows (ids prefix1..prefixN), {@code perTransaction} per transaction. */
    static void writeBatches(Connection sql, String table, String prefix, int rows, int perTransaction)
            throws SQLException {
        CpuMeter.writer(sql);
        try (PreparedStatement upsert = sql.prepareStatement(UPSERT.formatted(table))) {
            for (int from = 1; from <= rows; from += perTransaction) {
                upsert.setString(1, prefix);
                upsert.setInt(2, from);
                upsert.setInt(3, Math.min(rows, from + perTransaction - 1));
                upsert.executeUpdate();
            }
        }
    }

    static void awaitRow(SqlSource target, String table, String id) throws SQLException {
        try (Connection sql = target.get();
                PreparedStatement query = sql.prepareStatement("SELECT 1 FROM " + table + " WHERE id = ?")) {
            query.setString(1, id);
            await().atMost(ARRIVAL)
                    .pollDelay(Duration.ZERO)
                    .pollInterval(Duration.ofMillis(5))
                    .until(() -> {
                        try (ResultSet rs = query.executeQuery()) {
                            return rs.next();
                        }
                    });
        }
    }

    /**
     * Waits until {@code rows} rows with {@code prefix} are on the receiver: the last one written may
     * arrive before others (a receiver applying several messages at once commits them in any order).
     */
    static void awaitCount(SqlSource target, String table, String prefix, long rows) throws SQLException {
        try (Connection sql = target.get();
                PreparedStatement query = sql.prepareStatement("SELECT count(*) FROM " + table + " WHERE id LIKE ?")) {
            query.setString(1, prefix + "%");
            await().atMost(ARRIVAL)
                    .pollDelay(Duration.ZERO)
                    .pollInterval(Duration.ofMillis(20))
                    .until(() -> {
                        try (ResultSet rs = query.executeQuery()) {
                            rs.next();
                            return rs.getLong(1) >= rows;
                        }
                    });
        }
    }

    static void assertCount(SqlSource target, String table, String prefix, int rows) throws SQLException {
        try (Connection sql = target.get();
                PreparedStatement query = sql.prepareStatement("SELECT count(*) FROM " + table + " WHERE id LIKE ?")) {
            query.setString(1, prefix + "%");
            try (ResultSet rs = query.executeQuery()) {
                rs.next();
                if (rs.getLong(1) != rows) {
                    throw new IllegalStateException(rs.getLong(1) + " of " + rows + " rows arrived in " + table);
                }
            }
        }
    }

    static double rssMiB(NodeProcess node) throws IOException {
        for (String line :
                Files.readAllLines(Path.of("/proc", Long.toString(node.process().pid()), "status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("\\D", "")) / 1024.0;
            }
        }
        return 0;
    }

    static double[] column(double[][] rows, int index) {
        double[] out = new double[rows.length];
        for (int i = 0; i < rows.length; i++) {
            out[i] = rows[i][index];
        }
        return out;
    }

    static long micros(Instant instant) {
        return ChronoUnit.MICROS.between(Instant.EPOCH, instant);
    }

    /** Makes {@code node}'s loom.nodes record when each row was written there (column bench_applied_at). */
    static void stampArrivals(NodeProcess node) throws SQLException {
        try (Connection sql = node.sql();
                Statement s = sql.createStatement()) {
            s.execute("ALTER TABLE loom.nodes ADD COLUMN IF NOT EXISTS bench_applied_at timestamptz");
            s.execute(STAMP_FUNCTION);
            s.execute("CREATE OR REPLACE TRIGGER zz_bench_applied BEFORE INSERT OR UPDATE ON loom.nodes FOR EACH ROW"
                    + " EXECUTE FUNCTION public.bench_stamp_applied()");
        }
    }

    /** Stops sync on {@code nodes}: their WAL senders exit. */
    static void pauseSync(List<NodeProcess> nodes) throws SQLException {
        for (NodeProcess node : nodes) {
            node.api().post("/api/sync/stop").then().statusCode(200);
        }
        for (NodeProcess node : nodes) {
            try (Connection sql = node.sql()) {
                await("slot of " + node.nodeId() + " released")
                        .atMost(Duration.ofSeconds(30))
                        .until(() -> node.walSenderSentLsn(sql) < 0);
            }
        }
    }

    /** Starts sync on {@code nodes} again and waits until their WAL senders have read the WAL written meanwhile. */
    static void resumeSync(List<NodeProcess> nodes) throws SQLException {
        for (NodeProcess node : nodes) {
            try (Connection sql = node.sql();
                    Statement s = sql.createStatement()) {
                long written;
                try (ResultSet rs = s.executeQuery("SELECT pg_current_wal_flush_lsn() - '0/0'::pg_lsn")) {
                    rs.next();
                    written = rs.getLong(1);
                }
                node.api().post("/api/sync/start").then().statusCode(200);
                await("WAL sender of " + node.nodeId() + " caught up")
                        .atMost(Duration.ofMinutes(2))
                        .pollInterval(Duration.ofMillis(100))
                        .until(() -> node.walSenderSentLsn(sql) >= written);
            }
        }
    }
}
