package dev.loomdb.edge.bench;

import dev.loomdb.edge.it.Infra;
import dev.loomdb.edge.it.NodeProcess;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.UnaryOperator;
import org.HdrHistogram.Histogram;
import org.junit.jupiter.api.Test;

/**
 * The sync benchmarks, each figure beside a baseline measured in the same run: throughput and
 * latency against PostgreSQL's own logical replication between two databases of one server, the
 * write ceiling, fan-out to four receivers, memory (start-up is {@link StartupBench}'s, the REST API
 * {@link RestBench}'s). {@code mvn -Pbench verify [-Dbench.quick=true] [-Dloom.it.infra=external]}; figures in
 * {@code target/bench/results.json|md|svg}.
 *
 * <p>Latency is measured from the moment the writer's COMMIT returns on the source to the moment
 * the row is written on the receiver ({@code clock_timestamp()} in a trigger there, inside the
 * applying transaction), for ours and for the baseline alike, in an HDR histogram.
 */
class SyncBench {

    private static final boolean QUICK = BenchResults.QUICK;
    private static final int ROUNDS = 3;
    private static final int ROWS = QUICK ? 10_000 : 100_000;
    private static final int FAN_OUT_ROWS = QUICK ? 5_000 : 30_000;
    private static final int[] LOADS = {100, 1000, 5000};
    private static final Duration LOAD_TIME = QUICK ? Duration.ofSeconds(2) : Duration.ofSeconds(8);
    /**
     * The JVM options of the receiver whose memory is measured at a small heap ({@code
     * -Dloom.bench.small-heap="..."} to choose); it also runs with {@code MALLOC_ARENA_MAX=2}.
     */
    private static final String SMALL_HEAP = System.getProperty(
            "loom.bench.small-heap", "-Xmx48m -XX:+UseSerialGC -XX:ReservedCodeCacheSize=48m -Xss512k");

    private final Path root = Infra.workDir("bench");
    private final String suffix = Infra.suffix();
    private final String mesh = "bench-" + suffix;
    private final int brokerPort = Infra.brokerPort();
    private final AtomicLong sequence = new AtomicLong();
    private final List<NodeProcess> receivers = new ArrayList<>();
    private NodeProcess a;

    @Test
    void syncSuite() throws Exception {
        System.out.printf(
                "%nSync benchmarks (%s mode, %s), figure / baseline / ratio%n",
                QUICK ? "quick" : "full",
                Infra.external() ? "machine PostgreSQL 15 + Mosquitto" : "embedded PostgreSQL + broker");
        try {
            a = NodeProcess.create(root, "a-" + suffix, mesh, Infra.brokerHost(), brokerPort, !Infra.external())
                    .with("loom.debounce", "0")
                    .with("loom.sync.anti-entropy.interval", "0") // live sync alone, as PostgreSQL's
                    .start()
                    .awaitReady();
            NodeProcess b = receiver("b");
            double idleRss = SyncLoad.rssMiB(b);

            Map<Integer, double[][]> oursOff = latencies(List.of(b)); // [round][p50,p95,p99]
            a.stop();
            a.with("loom.debounce", "100ms").start().awaitReady();
            Map<Integer, double[][]> oursOn = latencies(List.of(b));

            double[] ours = new double[ROUNDS];
            CpuMeter.Usage[] oursCpu = new CpuMeter.Usage[ROUNDS];
            for (int r = 0; r < ROUNDS; r++) {
                try (CpuMeter meter = CpuMeter.start(syncServers(b), jvms(b))) {
                    ours[r] = throughput(List.of(b), ROWS);
                    oursCpu[r] = meter.stop();
                }
            }
            double loadedRss = SyncLoad.rssMiB(b);

            PgReplication pg = new PgReplication(a, "sync", 1);
            double[] pgThroughput = new double[ROUNDS];
            double[] ceiling = new double[ROUNDS];
            double[] graphCeiling = new double[ROUNDS];
            double[] sustained = new double[ROUNDS];
            double[] pgSustained = new double[ROUNDS];
            CpuMeter.Usage[] pgCpu = new CpuMeter.Usage[ROUNDS];
            CpuMeter.Usage[] ceilingCpu = new CpuMeter.Usage[ROUNDS];
            Map<Integer, double[][]> pgLatency;
            try {
                pg.create();
                for (int r = 0; r < ROUNDS; r++) {
                    // PostgreSQL alone: the nodes' sync stopped, so their WAL senders decode none of its WAL
                    pauseSync(b);
                    pg.subscription(false);
                    try (CpuMeter meter = CpuMeter.start(pg.servers(), jvms(b))) {
                        ceiling[r] = pg.ceiling(ROWS);
                        ceilingCpu[r] = meter.stop();
                    }
                    graphCeiling[r] = pg.graphCeiling(ROWS);
                    pg.subscription(true);
                    try (CpuMeter meter = CpuMeter.start(pg.servers(), jvms(b))) {
                        pgThroughput[r] = pg.throughput(ROWS);
                        pgCpu[r] = meter.stop();
                    }
                    pgSustained[r] = SustainedRate.search(
                            new SustainedRate.Sync("PostgreSQL", pg::source, "bench_nodes", pg::target, "bench_nodes"),
                            ceiling[r],
                            SyncLoad.BATCH);
                    // ours alone: the baseline's subscription disabled
                    pg.subscription(false);
                    resumeSync(b);
                    sustained[r] = SustainedRate.search(
                            new SustainedRate.Sync("ours", a::sql, "loom.nodes", b::sql, "loom.nodes"),
                            ceiling[r],
                            SyncLoad.BATCH);
                }
                pauseSync(b);
                pg.subscription(true);
                pgLatency = new java.util.LinkedHashMap<>();
                for (int load : LOADS) {
                    pgLatency.put(load, pg.latencyRounds(load, ROUNDS, LOAD_TIME));
                }
                pg.subscription(false);
                resumeSync(b);
            } finally {
                pg.drop();
            }

            // Last of the sync runs: the three extra receivers leave persistent sessions in the broker, whose
            // queues keep every later change.
            for (String name : List.of("c", "d", "e")) {
                receiver(name);
            }
            double[] fanOut = new double[ROUNDS];
            double[] pgFanOut = new double[ROUNDS];
            List<NodeProcess> nodes = new ArrayList<>(receivers);
            nodes.add(a);
            PgReplication fan = new PgReplication(a, "fanout", receivers.size());
            try {
                fan.create();
                fan.subscription(false);
                for (int r = 0; r < ROUNDS; r++) {
                    SyncLoad.pauseSync(nodes); // each alone, as above
                    fan.subscription(true);
                    pgFanOut[r] = fan.throughput(FAN_OUT_ROWS);
                    fan.subscription(false);
                    SyncLoad.resumeSync(nodes);
                    fanOut[r] = throughput(receivers, FAN_OUT_ROWS);
                }
            } finally {
                fan.drop();
            }
            double[][] fanOutLatency = latencyRounds(receivers, 1000);
            while (receivers.size() > 1) {
                receivers.remove(receivers.size() - 1).close();
            }
            double[] single = ours;

            // Memory at a small heap: a new receiver with SMALL_HEAP takes two more loads of ROWS upserts (the
            // first while its JIT compiles); its rate is the second's
            NodeProcess small = receiver("m", node -> node.jvmArgs(SMALL_HEAP).env("MALLOC_ARENA_MAX", "2"));
            double smallIdleRss = SyncLoad.rssMiB(small);
            throughput(List.of(small), ROWS);
            double smallRate = throughput(List.of(small), ROWS);
            double smallRss = SyncLoad.rssMiB(small);
            System.out.printf(
                    "%nreceiver at %s, MALLOC_ARENA_MAX=2: %,.0f rows/s (second load), RSS %.0f MiB idle, %.0f MiB after two loads%n",
                    SMALL_HEAP, smallRate, smallIdleRss, smallRss);

            System.out.println();
            BenchResults.add(
                    "sync throughput, " + ROWS + " upserts in batches of " + SyncLoad.BATCH + ", rows/s",
                    ours,
                    pgThroughput,
                    "PostgreSQL logical replication",
                    "rows/s",
                    "goal: ratio >= 1.0 (>= 1.3 on the embedded services)");
            BenchResults.add(
                    "sustained sync rate (lag not growing) vs write ceiling, rows/s",
                    sustained,
                    ceiling,
                    "PostgreSQL commits, no sync",
                    "rows/s",
                    "no sync between two databases of one 2-core server reaches 0.8: see docs/benchmarks.md");
            BenchResults.add(
                    "PostgreSQL logical replication's sustained rate vs write ceiling, rows/s",
                    pgSustained,
                    ceiling,
                    "PostgreSQL commits, no sync",
                    "rows/s",
                    "what the machine allows a sync at all");
            BenchResults.add(
                    "sustained sync rate vs PostgreSQL logical replication's, rows/s",
                    sustained,
                    pgSustained,
                    "PostgreSQL logical replication",
                    "rows/s",
                    "goal: ratio >= 1.0");
            BenchResults.add(
                    "sustained sync rate vs graph write rate (stamping trigger, nothing captured), rows/s",
                    sustained,
                    graphCeiling,
                    "loom.nodes writes, no sync",
                    "rows/s",
                    "what bounds the sync rate");
            double[] oursPerRow = BenchResults.cpu("LoomDB Edge A -> B", oursCpu, ROWS);
            double[] pgPerRow = BenchResults.cpu("PostgreSQL logical replication", pgCpu, ROWS);
            double[] ceilingPerRow = BenchResults.cpu("write ceiling (no sync)", ceilingCpu, ROWS);
            BenchResults.add(
                    "CPU per synced row, all processes (throughput run), core-µs",
                    oursPerRow,
                    pgPerRow,
                    "PostgreSQL logical replication",
                    "core-µs",
                    "goal: ratio <= 1.0; breakdown in cpuMicrosPerRow");
            BenchResults.add(
                    "CPU per synced row vs per row written with no sync, core-µs",
                    oursPerRow,
                    ceilingPerRow,
                    "write-ceiling run",
                    "core-µs",
                    "what the sync adds to a write");
            BenchResults.add(
                    "cores busy during the sync throughput run (of "
                            + Runtime.getRuntime().availableProcessors() + ")",
                    busy(oursCpu),
                    busy(ceilingCpu),
                    "write-ceiling run",
                    "cores",
                    "");
            BenchResults.throughputPoint("LoomDB Edge sync A -> B", BenchResults.median(ours));
            BenchResults.throughputPoint("LoomDB Edge sync A -> 4 receivers", BenchResults.median(fanOut));
            BenchResults.throughputPoint("PostgreSQL logical replication", BenchResults.median(pgThroughput));
            BenchResults.throughputPoint("LoomDB Edge sustained, lag not growing", BenchResults.median(sustained));
            BenchResults.throughputPoint("PostgreSQL logical replication sustained", BenchResults.median(pgSustained));
            BenchResults.throughputPoint("PostgreSQL write ceiling (no sync)", BenchResults.median(ceiling));
            BenchResults.throughputPoint("loom.nodes writes, stamped, no sync", BenchResults.median(graphCeiling));
            String[] percentiles = {"p50", "p95", "p99"};
            for (int load : LOADS) {
                for (int p = 0; p < 3; p++) {
                    BenchResults.add(
                            "latency " + percentiles[p] + " at " + load + "/s, debounce 0, ms",
                            SyncLoad.column(oursOff.get(load), p),
                            SyncLoad.column(pgLatency.get(load), p),
                            "PostgreSQL logical replication",
                            "ms",
                            load == 1000 && p == 2 ? "goal: <= 5 ms" : "");
                    BenchResults.add(
                            "latency " + percentiles[p] + " at " + load + "/s, debounce 100 ms, ms",
                            SyncLoad.column(oursOn.get(load), p),
                            SyncLoad.column(pgLatency.get(load), p),
                            "PostgreSQL logical replication",
                            "ms",
                            "");
                }
                Map<String, double[][]> series = new java.util.LinkedHashMap<>();
                series.put("ours, debounce 0", oursOff.get(load));
                series.put("ours, debounce 100 ms", oursOn.get(load));
                series.put("PostgreSQL logical replication", pgLatency.get(load));
                for (Map.Entry<String, double[][]> line : series.entrySet()) {
                    BenchResults.latencyPoint(
                            line.getKey(), load + "/s p50", BenchResults.median(SyncLoad.column(line.getValue(), 0)));
                    BenchResults.latencyPoint(
                            line.getKey(), load + "/s p99", BenchResults.median(SyncLoad.column(line.getValue(), 2)));
                }
            }
            BenchResults.add(
                    "fan-out: 1 writer, 4 receivers, " + FAN_OUT_ROWS + " rows, rows/s (all four have them)",
                    fanOut,
                    single,
                    "one receiver",
                    "rows/s",
                    "");
            BenchResults.add(
                    "fan-out to 4 receivers vs PostgreSQL logical replication to 4 subscriber databases, rows/s",
                    fanOut,
                    pgFanOut,
                    "PostgreSQL logical replication, 4 subscriptions",
                    "rows/s",
                    "goal: ratio >= 1.0");
            BenchResults.throughputPoint(
                    "PostgreSQL logical replication to 4 subscribers", BenchResults.median(pgFanOut));
            BenchResults.add(
                    "fan-out: p99 latency at 1000/s over 4 receivers, debounce 100 ms, ms",
                    SyncLoad.column(fanOutLatency, 2),
                    SyncLoad.column(oursOn.get(1000), 2),
                    "one receiver",
                    "ms",
                    "");
            BenchResults.add(
                    "memory: receiver JVM RSS after the load, MiB",
                    new double[] {loadedRss},
                    new double[] {idleRss},
                    "same JVM idle after start",
                    "MiB",
                    "JVM only; PostgreSQL is separate; -Xmx256m");
            BenchResults.add(
                    "memory: receiver JVM RSS after two loads at " + SMALL_HEAP + ", MALLOC_ARENA_MAX=2, MiB",
                    new double[] {smallRss},
                    new double[] {smallIdleRss},
                    "same JVM idle after start",
                    "MiB",
                    "goal: < 200 MiB; JVM only");
            BenchResults.add(
                    "memory: sync throughput into the receiver at " + SMALL_HEAP
                            + ", its second load (B receives it too), rows/s",
                    new double[] {smallRate},
                    ours,
                    "the receiver at -Xmx256m, alone",
                    "rows/s",
                    "");

        } finally {
            for (NodeProcess node : receivers) {
                node.close();
            }
            if (a != null) {
                a.close();
            }
        }
    }

    private NodeProcess receiver(String name) throws SQLException {
        return receiver(name, node -> node);
    }

    /** A receiver with {@code setup} applied before it starts (JVM options, environment). */
    private NodeProcess receiver(String name, UnaryOperator<NodeProcess> setup) throws SQLException {
        NodeProcess node = NodeProcess.create(root, name + "-" + suffix, mesh, Infra.brokerHost(), brokerPort, false)
                // receivers measure live changes: a late one neither takes the graph already there first
                // (bootstrap) nor while it is measured (anti-entropy: its cost is StateSyncBench's)
                .with("loom.sync.bootstrap", "false")
                .with("loom.sync.anti-entropy.interval", "0");
        setup.apply(node);
        receivers.add(node);
        node.start().awaitReady();
        SyncLoad.stampArrivals(node);
        return node;
    }

    // ---- ours ----

    /** The PostgreSQL servers of a sync run from A to {@code b}, each database named by its node. */
    private List<CpuMeter.Server> syncServers(NodeProcess b) {
        if (Infra.external()) { // one server, a database per node
            return List.of(new CpuMeter.Server(
                    a::sql, db -> db.equals(a.database()) ? "A" : db.equals(b.database()) ? "B" : null));
        }
        return List.of(new CpuMeter.Server(a::sql, db -> "A"), new CpuMeter.Server(b::sql, db -> "B"));
    }

    /** Stops sync on A and {@code b} (POST /api/sync/stop): their WAL senders exit. */
    private void pauseSync(NodeProcess b) throws SQLException {
        SyncLoad.pauseSync(List.of(a, b));
    }

    private void resumeSync(NodeProcess b) throws SQLException {
        SyncLoad.resumeSync(List.of(a, b));
    }

    private Map<Long, String> jvms(NodeProcess b) {
        return Map.of(
                a.process().pid(),
                Infra.external() ? "A: node JVM" : "A: node JVM (and the embedded broker)",
                b.process().pid(),
                "B: node JVM");
    }

    private static double[] busy(CpuMeter.Usage[] usages) {
        return java.util.Arrays.stream(usages)
                .mapToDouble(CpuMeter.Usage::coresBusy)
                .toArray();
    }

    /** Rows/s from the first write on A until every receiver has the last row (applies keep commit order). */
    private double throughput(List<NodeProcess> to, int rows) throws Exception {
        String prefix = "t" + sequence.incrementAndGet() + "-";
        long start = System.nanoTime();
        try (Connection sql = a.sql()) {
            SyncLoad.writeBatches(sql, "loom.nodes", prefix, rows);
        }
        for (NodeProcess receiver : to) {
            SyncLoad.awaitRow(receiver::sql, "loom.nodes", prefix + rows);
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        for (NodeProcess receiver : to) {
            SyncLoad.assertCount(receiver::sql, "loom.nodes", prefix, rows);
        }
        return rows / seconds;
    }

    private Map<Integer, double[][]> latencies(List<NodeProcess> to) throws Exception {
        Map<Integer, double[][]> byLoad = new java.util.LinkedHashMap<>();
        offer(a::sql, "loom.nodes", to.get(0)::sql, "loom.nodes", 100, Duration.ofSeconds(1)); // warm-up
        for (int load : LOADS) {
            byLoad.put(load, latencyRounds(to, load));
        }
        return byLoad;
    }

    private double[][] latencyRounds(List<NodeProcess> to, int load) throws Exception {
        double[][] rounds = new double[ROUNDS][];
        for (int r = 0; r < ROUNDS; r++) {
            Histogram merged = new Histogram(3);
            String prefix = "l" + sequence.incrementAndGet() + "-";
            Map<String, Long> committed = offerAt(a::sql, "loom.nodes", prefix, load);
            for (NodeProcess receiver : to) {
                merged.add(SyncLoad.arrivals(receiver::sql, "loom.nodes", prefix, committed));
            }
            rounds[r] = SyncLoad.percentiles(merged);
        }
        return rounds;
    }

    private void offer(
            SyncLoad.SqlSource source,
            String table,
            SyncLoad.SqlSource target,
            String targetTable,
            int load,
            Duration time)
            throws Exception {
        String prefix = "w" + sequence.incrementAndGet() + "-";
        Map<String, Long> committed = SyncLoad.offerAt(source, table, prefix, load, time);
        SyncLoad.arrivals(target, targetTable, prefix, committed);
    }

    private Map<String, Long> offerAt(SyncLoad.SqlSource source, String table, String prefix, int load)
            throws Exception {
        return SyncLoad.offerAt(source, table, prefix, load, LOAD_TIME);
    }

    // ---- start-up ----

    // ---- helpers ----

}
