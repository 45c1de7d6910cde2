package dev.loomdb.edge.bench;

import dev.loomdb.edge.it.Infra;
import dev.loomdb.edge.it.NodeProcess;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;

/**
 * Small transactions: the highest rate of one-row commits each sync sustains with its lag not
 * growing (the same search as SyncBench's for transactions of 1,000 rows), ours from A to B with
 * debounce 0 against PostgreSQL's own logical replication between two databases of the same server,
 * each measured alone, with the rate PostgreSQL commits one-row transactions into a table nothing
 * replicates (the ceiling of the search) measured in the same round.
 */
class SmallTransactionsBench {

    private static final int ROUNDS = 3;
    /** One-row commits the ceiling is measured on. */
    private static final int CEILING_ROWS = BenchResults.QUICK ? 2_000 : 10_000;
    /** One-row commits through the nodes before the first round. */
    private static final int WARM_UP = BenchResults.QUICK ? 10_000 : 30_000;

    private final Path root = Infra.workDir("bench-small");
    private final String suffix = Infra.suffix();

    /**
     * One-row commits through the nodes until their JIT has compiled the per-message path: measured
     * cold, the nodes' compiler threads took 160-230 core-µs per row of the first 30,000 (as much as
     * the nodes' own work), from the same two cores as the writer.
     */
    private static void warmUp(NodeProcess a, NodeProcess b) throws Exception {
        try (java.sql.Connection sql = a.sql()) {
            SyncLoad.writeBatches(sql, "loom.nodes", "warm-", WARM_UP, 1);
        }
        SyncLoad.awaitCount(b::sql, "loom.nodes", "warm-", WARM_UP);
    }

    @Test
    void oneRowCommits() throws Exception {
        System.out.printf(
                Locale.ROOT,
                "%nOne-row commits (%s mode, %s), debounce 0%n",
                BenchResults.QUICK ? "quick" : "full",
                Infra.external() ? "machine PostgreSQL 15 + Mosquitto" : "embedded PostgreSQL + broker");
        String mesh = "bench-small-" + suffix;
        try (NodeProcess a = NodeProcess.create(
                                root, "a-" + suffix, mesh, Infra.brokerHost(), Infra.brokerPort(), !Infra.external())
                        .with("loom.debounce", "0")
                        .with("loom.sync.anti-entropy.interval", "0")
                        .start()
                        .awaitReady();
                NodeProcess b = NodeProcess.create(
                                root, "b-" + suffix, mesh, Infra.brokerHost(), Infra.brokerPort(), false)
                        .with("loom.debounce", "0")
                        .with("loom.sync.bootstrap", "false")
                        .with("loom.sync.anti-entropy.interval", "0")
                        .start()
                        .awaitReady()) {
            SyncLoad.stampArrivals(b);
            List<NodeProcess> nodes = List.of(a, b);
            SustainedRate.Sync ours = new SustainedRate.Sync("ours", a::sql, "loom.nodes", b::sql, "loom.nodes");
            PgReplication pg = new PgReplication(a, "small", 1);
            SustainedRate.Sync theirs =
                    new SustainedRate.Sync("PostgreSQL", pg::source, "bench_nodes", pg::target, "bench_nodes");
            double[] oursRate = new double[ROUNDS];
            double[] pgRate = new double[ROUNDS];
            double[] ceiling = new double[ROUNDS];
            try {
                pg.create();
                pg.subscription(false);
                warmUp(a, b);
                for (int r = 0; r < ROUNDS; r++) {
                    SyncLoad.pauseSync(nodes); // each system alone
                    ceiling[r] = pg.oneRowCeiling(CEILING_ROWS);
                    pg.subscription(true);
                    pgRate[r] = SustainedRate.search(theirs, ceiling[r], 1);
                    pg.subscription(false);
                    SyncLoad.resumeSync(nodes);
                    oursRate[r] = SustainedRate.search(ours, ceiling[r], 1);
                    System.out.printf(
                            Locale.ROOT,
                            "  round %d: ceiling %,.0f one-row commits/s; sustained: ours %,.0f, PostgreSQL %,.0f%n",
                            r + 1,
                            ceiling[r],
                            oursRate[r],
                            pgRate[r]);
                }
            } finally {
                pg.drop();
            }
            BenchResults.add(
                    "highest sustained rate of one-row commits, debounce 0, rows/s",
                    oursRate,
                    pgRate,
                    "PostgreSQL logical replication, same search",
                    "rows/s",
                    "goal: ratio >= 1.0");
            BenchResults.add(
                    "PostgreSQL logical replication's sustained one-row commits vs the one-row commit ceiling, rows/s",
                    pgRate,
                    ceiling,
                    "PostgreSQL one-row commits, no sync",
                    "rows/s",
                    "what the machine allows a sync of one-row commits");
            BenchResults.throughputPoint("LoomDB Edge sustained, one-row commits", BenchResults.median(oursRate));
            BenchResults.throughputPoint(
                    "PostgreSQL logical replication sustained, one-row commits", BenchResults.median(pgRate));
        }
    }
}
