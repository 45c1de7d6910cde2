package dev.loomdb.edge.bench;

import static org.awaitility.Awaitility.await;

import dev.loomdb.edge.it.Infra;
import dev.loomdb.edge.it.NodeProcess;
import io.restassured.path.json.JsonPath;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Burst coalescing and the latency debounce adds, each beside its baseline measured in the same run
 * (debounce off). Run with {@code mvn -Pbench verify}; prints a table and writes
 * {@code target/bench/debounce.json}. Figures are medians over rounds.
 */
class DebounceBench {

    private static final int ROUNDS = 3;
    private static final int BURST = 1000;
    private static final int ENTITIES = 10;
    private static final int LATENCY_SAMPLES = 60;

    private record Burst(double messagesPerChange, double bytesPerChange) {}

    private record Figures(List<Burst> bursts, long[] latencyMicros) {}

    @Test
    void debounceAgainstNoDebounce() throws Exception {
        Figures off = measure("0");
        Figures on = measure("100ms");
        Map<String, Object> results = new LinkedHashMap<>();
        double offMessages = median(off.bursts().stream().mapToDouble(Burst::messagesPerChange).toArray());
        double onMessages = median(on.bursts().stream().mapToDouble(Burst::messagesPerChange).toArray());
        double offBytes = median(off.bursts().stream().mapToDouble(Burst::bytesPerChange).toArray());
        double onBytes = median(on.bursts().stream().mapToDouble(Burst::bytesPerChange).toArray());
        results.put("burst_messages_per_change", row(onMessages, offMessages, "messages/change", spread(on, true)));
        results.put("burst_bytes_per_change", row(onBytes, offBytes, "bytes/change", spread(on, false)));
        results.put("latency_p50_ms", row(percentile(on.latencyMicros(), 50) / 1000.0,
                percentile(off.latencyMicros(), 50) / 1000.0, "ms", 0));
        results.put("latency_p99_ms", row(percentile(on.latencyMicros(), 99) / 1000.0,
                percentile(off.latencyMicros(), 99) / 1000.0, "ms", 0));

        System.out.println();
        System.out.println("Debounce 100 ms vs off (baseline), " + ROUNDS + " rounds of " + BURST + " updates to "
                + ENTITIES + " entities, " + LATENCY_SAMPLES + " single writes for latency");
        System.out.printf(Locale.ROOT, "%-28s %12s %12s %8s%n", "figure", "debounce", "baseline", "ratio");
        results.forEach((name, value) -> {
            @SuppressWarnings("unchecked")
            Map<String, Object> r = (Map<String, Object>) value;
            System.out.printf(Locale.ROOT, "%-28s %12.3f %12.3f %8.3f%n", name, r.get("ours"), r.get("baseline"),
                    r.get("ratio"));
        });
        System.out.printf(Locale.ROOT, "traffic saved by debounce: %.1f%% of messages, %.1f%% of bytes%n",
                100 * (1 - onMessages / offMessages), 100 * (1 - onBytes / offBytes));
        write(results);
    }

    private static Map<String, Object> row(double ours, double baseline, String unit, double spread) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("ours", ours);
        r.put("baseline", baseline);
        r.put("ratio", baseline == 0 ? 0 : ours / baseline);
        r.put("unit", unit);
        r.put("spread", spread);
        r.put("rounds", ROUNDS);
        return r;
    }

    private static double spread(Figures f, boolean messages) {
        double[] values = f.bursts().stream().mapToDouble(b -> messages ? b.messagesPerChange() : b.bytesPerChange()).toArray();
        return Arrays.stream(values).max().orElse(0) - Arrays.stream(values).min().orElse(0);
    }

    private Figures measure(String debounce) throws Exception {
        Path root = Infra.workDir("bench-debounce");
        String suffix = Infra.suffix();
        String mesh = "bench-" + suffix;
        String host = Infra.brokerHost();
        int port = Infra.brokerPort();
        try (NodeProcess a = NodeProcess.create(root, "a-" + suffix, mesh, host, port, !Infra.external())
                .with("loom.debounce", debounce).start();
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

    private Burst burst(NodeProcess a, NodeProcess b, int round) throws Exception {
        JsonPath before = a.api().get("/api/sync/status").jsonPath();
        try (Connection sql = a.sql(); PreparedStatement upsert = sql.prepareStatement(
                "INSERT INTO loom.nodes (id, type, properties) VALUES (?, 'COUNTER', jsonb_build_object('n', ?::int))"
                        + " ON CONFLICT (id) DO UPDATE SET properties = EXCLUDED.properties")) {
            for (int i = 0; i < BURST; i++) { // one transaction each
                upsert.setString(1, "burst-" + (i % ENTITIES));
                upsert.setInt(2, round * BURST + i);
                upsert.execute();
            }
        }
        int last = round * BURST + BURST - 1;
        await().atMost(Duration.ofSeconds(60)).until(() -> valueOn(b, "burst-" + (last % ENTITIES)) == last);
        await().atMost(Duration.ofSeconds(10)).until(() -> a.api().get("/api/sync/status").jsonPath().getInt("pending") == 0);
        JsonPath after = a.api().get("/api/sync/status").jsonPath();
        long messages = after.getLong("counters.published") - before.getLong("counters.published");
        long bytes = after.getLong("counters.publishedBytes") - before.getLong("counters.publishedBytes");
        return new Burst((double) messages / BURST, (double) bytes / BURST);
    }

    /** From the writer's commit on A to the row being visible on B, polled every 0.2 ms. */
    private long[] latencies(NodeProcess a, NodeProcess b) throws Exception {
        long[] micros = new long[LATENCY_SAMPLES];
        try (Connection writer = a.sql(); Connection reader = b.sql();
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
                java.util.concurrent.locks.LockSupport.parkNanos(Duration.ofMillis(20).toNanos()); // isolated writes
            }
        }
        return micros;
    }

    private static int valueOn(NodeProcess node, String id) throws Exception {
        try (Connection sql = node.sql(); Statement s = sql.createStatement();
                ResultSet rs = s.executeQuery("SELECT (properties->>'n')::int FROM loom.nodes WHERE id = '" + id + "'")) {
            return rs.next() ? rs.getInt(1) : -1;
        }
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        return sorted[sorted.length / 2];
    }

    private static double percentile(long[] values, int p) {
        long[] sorted = values.clone();
        Arrays.sort(sorted);
        int index = (int) Math.ceil(p / 100.0 * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, index))];
    }

    private static void write(Map<String, Object> results) throws IOException {
        Path out = Path.of("target", "bench", "debounce.json");
        Files.createDirectories(out.getParent());
        StringBuilder json = new StringBuilder("{\n");
        int i = 0;
        for (Map.Entry<String, Object> e : results.entrySet()) {
            @SuppressWarnings("unchecked")
            Map<String, Object> r = (Map<String, Object>) e.getValue();
            json.append(String.format(Locale.ROOT,
                    "  \"%s\": {\"ours\": %.4f, \"baseline\": %.4f, \"ratio\": %.4f, \"unit\": \"%s\", \"spread\": %.4f, \"rounds\": %d}%s%n",
                    e.getKey(), r.get("ours"), r.get("baseline"), r.get("ratio"), r.get("unit"), r.get("spread"),
                    r.get("rounds"), ++i < results.size() ? "," : ""));
        }
        Files.writeString(out, json.append("}\n").toString());
        System.out.println("written " + out.toAbsolutePath());
    }
}
