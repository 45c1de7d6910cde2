package dev.loomdb.edge.bench;

import dev.loomdb.edge.it.Infra;
import dev.loomdb.edge.it.NodeProcess;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.HdrHistogram.Histogram;
import org.junit.jupiter.api.Test;

/**
 * Sync on a machine whose cores another program keeps busy (as {@code stress-ng --cpu N} would: one
 * busy process per core, started before the rounds and stopped after them). With that load on, ours
 * (A to B, debounce 0) and PostgreSQL's own logical replication, each alone and alternating round by
 * round, take 1,000 changes/s; then a burst of one-row updates to ten entities meets debounce 100 ms,
 * against the same burst on the same nodes with the machine quiet. Latency here starts when the writer
 * sends the transaction, for both ({@link SyncLoad.Start#SENT}): with every core busy, the moment COMMIT
 * returns to the writer depends on when its thread runs again. {@code mvn -Pbench verify
 * -Dit.test=ContentionBench}.
 */
class ContentionBench {

    private static final boolean QUICK = BenchResults.QUICK;
    private static final int ROUNDS = 3;
    private static final int LOAD = 1000;
    private static final Duration LOAD_TIME = QUICK ? Duration.ofSeconds(2) : Duration.ofSeconds(8);

    private final Path root = Infra.workDir("bench-contention");
    private final String suffix = Infra.suffix();
    private final String mesh = "bench-contention-" + suffix;
    private final int brokerPort = Infra.brokerPort();
    private int sequence;

    @Test
    void latencyAndBurstsWithEveryCoreBusy() throws Exception {
        int cores = Runtime.getRuntime().availableProcessors();
        System.out.printf(
                Locale.ROOT,
                "%nSync with every core busy (%d busy processes, %s): %d changes/s, debounce 0, %d rounds%n",
                cores,
                Infra.external() ? "machine PostgreSQL 15 + Mosquitto" : "embedded PostgreSQL + broker",
                LOAD,
                ROUNDS);
        try (NodeProcess a = NodeProcess.create(
                                root, "a-" + suffix, mesh, Infra.brokerHost(), brokerPort, !Infra.external())
                        .with("loom.debounce", "0")
                        .with("loom.sync.anti-entropy.interval", "0");
                NodeProcess b = NodeProcess.create(root, "b-" + suffix, mesh, Infra.brokerHost(), brokerPort, false)
                        .with("loom.sync.bootstrap", "false")
                        .with("loom.sync.anti-entropy.interval", "0")) {
            a.start().awaitReady();
            b.start().awaitReady();
            SyncLoad.stampArrivals(b);
            List<NodeProcess> nodes = List.of(a, b);

            double[][] ours = new double[ROUNDS][];
            double[][] theirs = new double[ROUNDS][];
            PgReplication pg = new PgReplication(a, "contention", 1);
            try {
                pg.create();
                pg.subscription(false);
                oursRound(a, b, Duration.ofSeconds(10)); // warm-up: the nodes' JIT, quiet
                try (BusyCores busy = BusyCores.start(cores)) {
                    for (int r = 0; r < ROUNDS; r++) {
                        ours[r] = oursRound(a, b, LOAD_TIME);
                        SyncLoad.pauseSync(nodes); // each alone: the nodes' WAL senders exit
                        pg.subscription(true);
                        theirs[r] = pg.latencyRounds(LOAD, 1, LOAD_TIME, SyncLoad.Start.SENT)[0];
                        pg.subscription(false);
                        SyncLoad.resumeSync(nodes);
                        System.out.printf(
                                Locale.ROOT,
                                "  round %d: p99 ours %.2f ms, PostgreSQL's own %.2f ms%n",
                                r + 1,
                                ours[r][2],
                                theirs[r][2]);
                    }
                }
            } finally {
                pg.drop();
            }

            a.stop();
            a.with("loom.debounce", "100ms").start().awaitReady();
            double[] quiet = new double[ROUNDS];
            double[] loaded = new double[ROUNDS];
            int round = 0;
            for (int r = 0; r < ROUNDS; r++) {
                quiet[r] = burst(a, b, round++, "quiet");
            }
            try (BusyCores busy = BusyCores.start(cores)) {
                for (int r = 0; r < ROUNDS; r++) {
                    loaded[r] = burst(a, b, round++, "every core busy");
                }
            }

            System.out.println();
            String[] percentiles = {"p50", "p95", "p99"};
            for (int p = 0; p < 3; p++) {
                BenchResults.add(
                        "every core busy: latency " + percentiles[p] + " at " + LOAD
                                + "/s, debounce 0, from the writer's send, ms",
                        SyncLoad.column(ours, p),
                        SyncLoad.column(theirs, p),
                        "PostgreSQL logical replication, same load",
                        "ms",
                        p == 2 ? "goal: ratio <= 5.0" : "");
            }
            BenchResults.add(
                    "every core busy: burst of " + DebounceBench.BURST + " updates to " + DebounceBench.ENTITIES
                            + " entities, debounce 100 ms: MQTT messages per change",
                    loaded,
                    quiet,
                    "the same burst, machine quiet",
                    "msgs/change",
                    "goal: ours <= 0.02 (>= 98% fewer than one per change)");
        }
    }

    /**
     * One burst's messages per change, printed with the writer's time for it: a window folds its 100 ms
     * into one message, so a burst that takes the writer longer spans more windows.
     */
    private static double burst(NodeProcess a, NodeProcess b, int round, String machine) throws Exception {
        DebounceBench.Burst burst = DebounceBench.burst(a, b, round);
        System.out.printf(
                Locale.ROOT,
                "  burst %d, %s: the writer took %d ms for %d commits; %.4f messages per change%n",
                round + 1,
                machine,
                burst.writerMillis(),
                DebounceBench.BURST,
                burst.messagesPerChange());
        return burst.messagesPerChange();
    }

    /**
     * Percentiles (p50, p95, p99) from the writer sending a transaction to A to its row on B at {@link #LOAD}
     * changes/s for {@code time} ({@link SyncLoad.Start#SENT}, as for PostgreSQL's own here).
     */
    private double[] oursRound(NodeProcess a, NodeProcess b, Duration time) throws Exception {
        String prefix = "c" + ++sequence + "-";
        Map<String, Long> committed = SyncLoad.offerAt(a::sql, "loom.nodes", prefix, LOAD, time, SyncLoad.Start.SENT);
        Histogram arrivals = SyncLoad.arrivals(b::sql, "loom.nodes", prefix, committed);
        return SyncLoad.percentiles(arrivals);
    }

    /**
     * One busy process per core, each a shell loop that never waits, until closed; a loop also ends by
     * itself once the benchmark's JVM is gone (it looks every 100,000 turns), so none is left behind.
     */
    record BusyCores(List<Process> processes) implements AutoCloseable {

        private static final String BUSY_LOOP =
                "while kill -0 $PPID 2>/dev/null; do i=0;" + " while [ $i -lt 100000 ]; do i=$((i + 1)); done; done";

        static BusyCores start(int count) throws java.io.IOException {
            List<Process> started = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                started.add(new ProcessBuilder("sh", "-c", BUSY_LOOP)
                        .redirectErrorStream(true)
                        .start());
            }
            return new BusyCores(started);
        }

        @Override
        public void close() throws InterruptedException {
            for (Process process : processes) {
                process.destroyForcibly();
            }
            for (Process process : processes) {
                process.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }
}
