package dev.loomdb.edge.bench;

import static org.awaitility.Awaitility.await;

import dev.loomdb.edge.it.Infra;
import dev.loomdb.edge.it.NodeProcess;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;

/**
 * The smallest heap with which a node keeps up with 1,000 changes a second: for each {@code -Xmx} (both
 * the writer and the receiver get it), a paced stream of one-row transactions for a while, the receiver's
 * backlog sampled every 5 s; a heap keeps up when the node neither dies nor runs out of memory and the
 * backlog at the end is no larger than a second's worth more than at the first quarter. Reports each heap's
 * verdict, backlog and the two JVMs' RSS. {@code -Dloom.bench.heaps=32m,48m} and
 * {@code -Dloom.bench.heap-seconds=300} (default 60; 300 for the five minutes docs/operations.md quotes),
 * {@code -Dloom.bench.heap-jvm-args="-XX:+UseSerialGC"} for more options on both nodes.
 */
class HeapFloorBench {

    private static final int RATE = 1_000;
    private static final List<String> HEAPS =
            List.of(System.getProperty("loom.bench.heaps", "24m,32m,48m,64m").split(","));
    private static final int SECONDS = Integer.getInteger("loom.bench.heap-seconds", 60);
    /** More JVM options for both nodes, space-separated (e.g. -XX:+UseSerialGC for a smaller RSS). */
    private static final String JVM_ARGS =
            System.getProperty("loom.bench.heap-jvm-args", "").trim();

    private final AtomicLong sequence = new AtomicLong();

    @Test
    void smallestHeapThatKeepsUp() throws Exception {
        System.out.printf("%nHeap floor at %d changes/s for %d s %s:%n", RATE, SECONDS, JVM_ARGS);
        for (String heap : HEAPS) {
            String suffix = Infra.suffix();
            String mesh = "heap-" + suffix;
            List<NodeProcess> nodes = new ArrayList<>();
            try {
                NodeProcess a;
                NodeProcess b;
                try {
                    a = node(nodes, "a-" + suffix, mesh, heap, !Infra.external());
                    b = node(nodes, "b-" + suffix, mesh, heap, false);
                } catch (AssertionError | IllegalStateException e) { // not ready: too small a heap to start
                    boolean oom = nodes.stream().anyMatch(n -> n.log().contains("OutOfMemoryError"));
                    System.out.printf("  -Xmx%s: DOES NOT START%s%n", heap, oom ? " (OutOfMemoryError)" : "");
                    continue;
                }
                long[] backlog = run(a, b);
                boolean alive = a.process().isAlive() && b.process().isAlive();
                boolean oom = a.log().contains("OutOfMemoryError") || b.log().contains("OutOfMemoryError");
                long quarter = backlog[0];
                long end = backlog[1];
                boolean keepsUp = alive && !oom && end <= quarter + RATE;
                double rssA = alive ? SyncLoad.rssMiB(a) : 0;
                double rssB = alive ? SyncLoad.rssMiB(b) : 0;
                System.out.printf(
                        "  -Xmx%s: %s (backlog %d rows at a quarter, %d at the end%s%s); RSS writer %.0f MiB, receiver"
                                + " %.0f MiB%n",
                        heap,
                        keepsUp ? "keeps up" : "FALLS BEHIND",
                        quarter,
                        end,
                        alive ? "" : ", a node died",
                        oom ? ", OutOfMemoryError" : "",
                        rssA,
                        rssB);
                BenchResults.add(
                        "heap floor: -Xmx" + heap + (JVM_ARGS.isEmpty() ? "" : " " + JVM_ARGS)
                                + " at 1,000 changes/s for " + SECONDS + " s, receiver RSS, MiB",
                        new double[] {rssB},
                        new double[] {rssA},
                        "writer RSS",
                        "MiB",
                        (keepsUp ? "keeps up" : "falls behind") + "; backlog " + quarter + " → " + end + " rows");
            } finally {
                for (NodeProcess node : nodes) {
                    node.close();
                }
            }
        }
    }

    private static NodeProcess node(List<NodeProcess> nodes, String id, String mesh, String heap, boolean embedBroker) {
        NodeProcess node = NodeProcess.create(
                        Infra.workDir("heap-bench"), id, mesh, Infra.brokerHost(), Infra.brokerPort(), embedBroker)
                .with("loom.sync.bootstrap", "false")
                .with("loom.sync.anti-entropy.interval", "0")
                .jvmArg("-Xmx" + heap)
                .jvmArgs(JVM_ARGS);
        nodes.add(node);
        return node.start().awaitReady();
    }

    /** Streams for SECONDS; returns the receiver's backlog [at a quarter of the run, at its end]. */
    private long[] run(NodeProcess a, NodeProcess b) throws Exception {
        AtomicLong written = new AtomicLong();
        long stopAt = System.nanoTime() + Duration.ofSeconds(SECONDS).toNanos();
        CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
            try (Connection sql = a.sql();
                    PreparedStatement insert = sql.prepareStatement(
                            "INSERT INTO loom.nodes (id, type, properties) VALUES (?, 'Heap', '{\"v\": 1}')")) {
                long start = System.nanoTime();
                for (long i = 0; System.nanoTime() < stopAt; i++) {
                    insert.setString(1, "h" + sequence.incrementAndGet());
                    insert.execute();
                    written.incrementAndGet();
                    long wait = start + (i + 1) * 1_000_000_000L / RATE - System.nanoTime();
                    if (wait > 0) {
                        LockSupport.parkNanos(wait); // pacing the writer
                    }
                }
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        long quarterAt = System.nanoTime() + Duration.ofSeconds(SECONDS).toNanos() / 4;
        long quarter = -1;
        long last = 0;
        try (Connection sql = b.sql()) {
            while (!writer.isDone()) {
                LockSupport.parkNanos(Duration.ofSeconds(5).toNanos()); // sampling the backlog every 5 s
                if (!b.process().isAlive() || !a.process().isAlive()) {
                    break;
                }
                last = written.get() - count(sql);
                if (quarter < 0 && System.nanoTime() >= quarterAt) {
                    quarter = last;
                }
            }
            writer.exceptionally(e -> null).join();
            if (a.process().isAlive() && b.process().isAlive()) {
                last = written.get() - count(sql);
                long total = written.get();
                await().atMost(Duration.ofMinutes(2)).until(() -> count(sql) >= total); // and it drains
            }
        }
        return new long[] {Math.max(0, quarter), last};
    }

    private static long count(Connection sql) throws Exception {
        try (Statement s = sql.createStatement();
                ResultSet rs = s.executeQuery("SELECT count(*) FROM loom.nodes WHERE type = 'Heap'")) {
            rs.next();
            return rs.getLong(1);
        }
    }
}
