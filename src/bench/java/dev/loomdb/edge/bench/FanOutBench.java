package dev.loomdb.edge.bench;

import static org.awaitility.Awaitility.await;

import dev.loomdb.edge.it.Infra;
import dev.loomdb.edge.it.NodeProcess;
import dev.loomdb.edge.it.StandaloneBroker;
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
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * What one change costs as the mesh grows (docs/operations.md, "Large meshes"): one writer, then 1, 2
 * and 4 receivers following everything, on a broker of the bench's own. For each mesh size, a paced
 * stream of single-row transactions (1,000 a second, debounce off: a message per change, the worst case) until every
 * receiver has them; counted from the nodes' own counters: MQTT messages into the broker and out of it
 * per change, bytes, and the CPU time of the broker process and of the writer's JVM per change
 * ({@code /proc}). The cost formula says: into the broker, one message per change (per debounce window
 * with one) whatever the mesh's size; out of it, one per receiver that follows the type.
 */
class FanOutBench {

    private static final int ROUNDS = 3;
    private static final int CHANGES = BenchResults.QUICK ? 2_000 : 5_000;
    private static final int RATE = 1_000;
    private static final int[] RECEIVERS = {1, 2, 4};

    private final Path root = Infra.workDir("fanout-bench");
    private final String suffix = Infra.suffix();
    private final List<NodeProcess> nodes = new ArrayList<>();
    private long sequence;

    @Test
    void costPerChangeAgainstMeshSize() throws Exception {
        String mesh = "fanout-" + suffix;
        try (StandaloneBroker broker = new StandaloneBroker(root.resolve("broker")).start()) {
            NodeProcess a = node("a", mesh, broker);
            List<NodeProcess> receivers = new ArrayList<>();
            double[][] inPerChange = new double[RECEIVERS.length][ROUNDS];
            double[][] outPerChange = new double[RECEIVERS.length][ROUNDS];
            double[][] bytesOutPerChange = new double[RECEIVERS.length][ROUNDS];
            double[][] brokerMicros = new double[RECEIVERS.length][ROUNDS];
            double[][] writerMicros = new double[RECEIVERS.length][ROUNDS];
            for (int s = 0; s < RECEIVERS.length; s++) {
                while (receivers.size() < RECEIVERS[s]) {
                    receivers.add(node("r" + receivers.size(), mesh, broker));
                }
                stream(a, receivers, s == 0 ? CHANGES : CHANGES / 5); // warm-up (the JVMs' first, longer)
                for (int r = 0; r < ROUNDS; r++) {
                    JsonPath before = status(a);
                    long[] receivedBefore = received(receivers);
                    double brokerCpu = cpuMillis(broker.pid());
                    double writerCpu = cpuMillis(a.process().pid());
                    stream(a, receivers, CHANGES);
                    JsonPath after = status(a);
                    long[] receivedAfter = received(receivers);
                    inPerChange[s][r] =
                            (double) (after.getLong("counters.published") - before.getLong("counters.published"))
                                    / CHANGES;
                    outPerChange[s][r] = (double) (receivedAfter[0] - receivedBefore[0]) / CHANGES;
                    bytesOutPerChange[s][r] = (double) (receivedAfter[1] - receivedBefore[1]) / CHANGES;
                    brokerMicros[s][r] = (cpuMillis(broker.pid()) - brokerCpu) * 1000 / CHANGES;
                    writerMicros[s][r] = (cpuMillis(a.process().pid()) - writerCpu) * 1000 / CHANGES;
                }
            }
            System.out.printf(
                    "%nFan-out per change, receivers %s: in %s%n out %s%n bytes out %s%n broker µs %s%n writer µs %s%n",
                    java.util.Arrays.toString(RECEIVERS),
                    java.util.Arrays.deepToString(inPerChange),
                    java.util.Arrays.deepToString(outPerChange),
                    java.util.Arrays.deepToString(bytesOutPerChange),
                    java.util.Arrays.deepToString(brokerMicros),
                    java.util.Arrays.deepToString(writerMicros));
            for (int s = 0; s < RECEIVERS.length; s++) {
                int n = RECEIVERS[s];
                BenchResults.add(
                        "fan-out cost: MQTT messages out of the broker per change, " + n + " receiver(s)",
                        outPerChange[s],
                        inPerChange[s],
                        "messages into the broker per change",
                        "msg",
                        "formula: out = in × receivers");
                BenchResults.add(
                        "fan-out cost: broker CPU per change, " + n + " receiver(s), µs",
                        brokerMicros[s],
                        brokerMicros[0],
                        "1 receiver",
                        "µs",
                        "");
                BenchResults.add(
                        "fan-out cost: writer JVM CPU per change, " + n + " receiver(s), µs",
                        writerMicros[s],
                        writerMicros[0],
                        "1 receiver",
                        "µs",
                        "bytes out per change: " + String.format("%.0f", BenchResults.median(bytesOutPerChange[s])));
            }
        } finally {
            for (NodeProcess node : nodes) {
                node.close();
            }
        }
    }

    private NodeProcess node(String name, String mesh, StandaloneBroker broker) {
        NodeProcess node = NodeProcess.create(root, name + "-" + suffix, mesh, "127.0.0.1", broker.port(), false)
                .with("loom.sync.bootstrap", "false") // a receiver joins for the live stream only
                .with("loom.sync.anti-entropy.interval", "0")
                .with("loom.debounce", "0"); // the worst case: a message per change
        nodes.add(node);
        return node.start().awaitReady();
    }

    /** {@code count} one-row transactions on A, paced at RATE a second, then waits for every receiver. */
    private void stream(NodeProcess a, List<NodeProcess> receivers, int count) throws Exception {
        String last = null;
        try (Connection sql = a.sql();
                PreparedStatement insert = sql.prepareStatement(
                        "INSERT INTO loom.nodes (id, type, properties) VALUES (?, 'FanOut', '{\"v\": 1}')")) {
            long start = System.nanoTime();
            for (int i = 0; i < count; i++) {
                last = "f" + (++sequence);
                insert.setString(1, last);
                insert.execute();
                long due = start + (long) (i + 1) * 1_000_000_000L / RATE;
                long wait = due - System.nanoTime();
                if (wait > 0) {
                    java.util.concurrent.locks.LockSupport.parkNanos(wait); // pacing the writer, not waiting on it
                }
            }
        }
        String id = last;
        for (NodeProcess receiver : receivers) {
            await().atMost(Duration.ofMinutes(2))
                    .pollInterval(Duration.ofMillis(50))
                    .until(() -> exists(receiver, id));
        }
    }

    private static boolean exists(NodeProcess node, String id) throws Exception {
        try (Connection sql = node.sql();
                Statement s = sql.createStatement();
                ResultSet rs = s.executeQuery("SELECT 1 FROM loom.nodes WHERE id = '" + id + "'")) {
            return rs.next();
        }
    }

    private static JsonPath status(NodeProcess node) {
        return node.api().get("/api/sync/status").jsonPath();
    }

    /** [messages, bytes] received by all the receivers together. */
    private static long[] received(List<NodeProcess> receivers) {
        long messages = 0;
        long bytes = 0;
        for (NodeProcess receiver : receivers) {
            JsonPath status = status(receiver);
            messages += status.getLong("counters.received");
            bytes += status.getLong("counters.receivedBytes");
        }
        return new long[] {messages, bytes};
    }

    /** CPU time of a process and its descendants, ms (/proc/<pid>/stat utime + stime, 100 ticks a second). */
    private static double cpuMillis(long pid) {
        double total = ticks(pid);
        for (ProcessHandle child :
                ProcessHandle.of(pid).map(p -> p.descendants().toList()).orElse(List.of())) {
            total += ticks(child.pid());
        }
        return total * 10;
    }

    private static double ticks(long pid) {
        try {
            return CpuMeter.ticksOf(Files.readString(Path.of("/proc", Long.toString(pid), "stat")));
        } catch (IOException | RuntimeException e) {
            return 0; // the process ended
        }
    }
}
