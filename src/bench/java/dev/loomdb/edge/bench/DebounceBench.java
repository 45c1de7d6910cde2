package dev.loomdb.edge.bench;

import static org.awaitility.Awaitility.await;

import dev.loomdb.edge.it.Infra;
import dev.loomdb.edge.it.NodeProcess;
import io.restassured.path.json.JsonPath;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;

/**
 * Burst coalescing and the latency debounce adds, each beside its baseline measured in the same run
 * (debounce off). Run with {@code mvn -Pbench verify}; figures (medians over rounds) go to
 * {@link BenchResults}.
 */
class DebounceBench {

    private static final int ROUNDS = 3;
    static final int BURST = 1000;
    static final int ENTITIES = 10;
    private static final int LATENCY_SAMPLES = 60;

    /** A burst's messages and bytes per change, and how long the writer took to commit it. */
    record Burst(double messagesPerChange, double bytesPerChange, long writerMillis) {}

    private record Figures(List<Burst> bursts, long[] latencyMicros) {}

    @Test
    void debounceAgainstNoDebounce() throws Exception {
        Figures off = measure("0");
        Figures on = measure("100ms");
        System.out.printf(
                "%nDebounce 100 ms vs off (baseline): %d rounds of %d updates to %d entities, %d isolated writes"
                        + " for latency%n",
                ROUNDS, BURST, ENTITIES, LATENCY_SAMPLES);
        BenchResults.Entry messages = BenchResults.add(
                "burst of " + BURST + " updates to " + ENTITIES + " entities: MQTT messages per change",
                values(on, true),
                values(off, true),
                "debounce off",
                "msgs/change",
                "goal: >= 98% fewer");
        BenchResults.Entry bytes = BenchResults.add(
                "same burst: bytes on the wire per change",
                values(on, false),
                values(off, false),
                "debounce off",
                "bytes/change",
                "");
        BenchResults.add(
                "isolated writes, debounce 100 ms: latency p50, ms (commit -> visible)",
                new double[] {percentile(on.latencyMicros(), 50) / 1000.0},
                new double[] {percentile(off.latencyMicros(), 50) / 1000.0},
                "debounce off",
                "ms",
                "");
        BenchResults.add(
                "isolated writes, debounce 100 ms: latency p99, ms (commit -> visible)",
                new double[] {percentile(on.latencyMicros(), 99) / 1000.0},
                new double[] {percentile(off.latencyMicros(), 99) / 1000.0},
                "debounce off",
                "ms",
                "goal: <= window + 20 ms");
        System.out.printf(
                Locale.ROOT,
                "traffic saved by debounce: %.1f%% of messages, %.1f%% of bytes%n",
                100 * (1 - messages.ratio()),
                100 * (1 - bytes.ratio()));
    }

    private static double[] values(Figures f, boolean messages) {
        return f.bursts().stream()
                .mapToDouble(b -> messages ? b.messagesPerChange() : b.bytesPerChange())
                .toArray();
    }

    private Figures measure(String debounce) throws Exception {
        Path root = Infra.workDir("bench-debounce");
        String suffix = Infra.suffix();
        String mesh = "bench-" + suffix;
        String host = Infra.brokerHost();
        int port = Infra.brokerPort();
        try (NodeProcess a = NodeProcess.create(root, "a-" + suffix, mesh, host, port, !Infra.external())
                        .with("loom.debounce", debounce)
                        .start();
                NodeProcess b = NodeProcess.create(root, "b-" + suffix, mesh, host, port, false)
                        .with("loom.debounce", debounce)) {
            a.awaitReady();
            b.start().awaitReady();
            List<Burst> bursts = new ArrayList<>();
            for (int round = 0; round < ROUNDS; round++) {
                bursts.add(burst(a, b, round));
            }
            return new Figures(bursts, latencies(a, b));
        }
    }

    /** {@link #BURST} one-row updates to {@link #ENTITIES} entities on A, until B has the last; A's messages for them. */
    static Burst burst(NodeProcess a, NodeProcess b, int round) throws Exception {
        JsonPath before = a.api().get("/api/sync/status").jsonPath();
        long writing;
        try (Connection sql = a.sql();
                PreparedStatement upsert = sql.prepareStatement(
                        "INSERT INTO loom.nodes (id, type, properties) VALUES (?, 'COUNTER', jsonb_build_object('n', ?::int))"
                                + " ON CONFLICT (id) DO UPDATE SET properties = EXCLUDED.properties")) {
            long start = System.nanoTime();
            for (int i = 0; i < BURST; i++) { // one transaction each
                upsert.setString(1, "burst-" + (i % ENTITIES));
                upsert.setInt(2, round * BURST + i);
                upsert.execute();
            }
            writing = (System.nanoTime() - start) / 1_000_000;
        }
        int last = round * BURST + BURST - 1;
        await().atMost(Duration.ofSeconds(60)).until(() -> valueOn(b, "burst-" + (last % ENTITIES)) == last);
        await().atMost(Duration.ofSeconds(10))
                .until(() -> a.api().get("/api/sync/status").jsonPath().getInt("pending") == 0);
        JsonPath after = a.api().get("/api/sync/status").jsonPath();
        long messages = after.getLong("counters.published") - before.getLong("counters.published");
        long bytes = after.getLong("counters.publishedBytes") - before.getLong("counters.publishedBytes");
        return new Burst((double) messages / BURST, (double) bytes / BURST, writing);
    }

    /** From the writer's commit on A to the row being visible on B, polled every 0.2 ms. */
    private long[] latencies(NodeProcess a, NodeProcess b) throws Exception {
        long[] micros = new long[LATENCY_SAMPLES];
        try (Connection writer = a.sql();
                Connection reader = b.sql();
                PreparedStatement write = writer.prepareStatement(
                        "INSERT INTO loom.nodes (id, type, properties) VALUES ('latency', 'PROBE', jsonb_build_object('n', ?::int))"
                                + " ON CONFLICT (id) DO UPDATE SET properties = EXCLUDED.properties");
                PreparedStatement read = reader.prepareStatement(
                        "SELECT (properties->>'n')::int FROM loom.nodes WHERE id = 'latency'")) {
            for (int i = 0; i < LATENCY_SAMPLES; i++) {
                write.setInt(1, i);
                write.execute();
                long committed = System.nanoTime();
                while (true) {
                    try (ResultSet rs = read.executeQuery()) {
                        if (rs.next() && rs.getInt(1) == i) {
                            break;
                        }
                    }
                    if (System.nanoTime() - committed > Duration.ofSeconds(10).toNanos()) {
                        throw new IllegalStateException("write " + i + " did not arrive within 10 s");
                    }
                    java.util.concurrent.locks.LockSupport.parkNanos(200_000);
                }
                micros[i] = (System.nanoTime() - committed) / 1000;
                java.util.concurrent.locks.LockSupport.parkNanos(
                        Duration.ofMillis(20).toNanos()); // isolated writes
            }
        }
        return micros;
    }

    private static int valueOn(NodeProcess node, String id) throws Exception {
        try (Connection sql = node.sql();
                Statement s = sql.createStatement();
                ResultSet rs =
                        s.executeQuery("SELECT (properties->>'n')::int FROM loom.nodes WHERE id = '" + id + "'")) {
            return rs.next() ? rs.getInt(1) : -1;
        }
    }

    private static double percentile(long[] values, int p) {
        long[] sorted = values.clone();
        Arrays.sort(sorted);
        int index = (int) Math.ceil(p / 100.0 * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, index))];
    }
}
