package dev.loomdb.edge.bench;

import dev.loomdb.edge.it.Infra;
import dev.loomdb.edge.it.NodeProcess;
import dev.loomdb.edge.it.SigningKeys;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.sql.Connection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.HdrHistogram.Histogram;
import org.junit.jupiter.api.Test;

/**
 * What trust costs on running nodes: six meshes of two nodes side by side, one with no security, a
 * second one with none (the control: what two identical meshes differ by in the same run), one signing
 * every message with per-node keys (Ed25519), one with the mesh-wide key (HMAC-SHA256), one encrypting
 * (AES-256-GCM, compression above 4 KiB), one signing (Ed25519) and encrypting. In every round each mesh
 * syncs {@value #ROWS_FULL} upserts A to B (batches of 1,000) and then 1,000 changes/s for a while with
 * debounce 0; the order of the meshes turns each round so that the machine's noise falls on all of them
 * alike, and while one mesh's latency is measured the other meshes' nodes are paused (SIGSTOP), so that
 * its tail is its own. Figures: throughput and p99 latency of the secured meshes against the plain one.
 * Goal: throughput ≥ 0.9 and p99 (every change of all rounds) at most 1 ms above.
 */
class TrustCostBench {

    private static final boolean QUICK = BenchResults.QUICK;
    private static final int ROUNDS = 3;
    private static final int ROWS_FULL = 100_000;
    private static final int ROWS = QUICK ? 10_000 : ROWS_FULL;
    private static final int LOAD = 1000;
    private static final int WARM_MESSAGES = QUICK ? 2_000 : 20_000;
    private static final Duration LOAD_TIME = QUICK ? Duration.ofSeconds(3) : Duration.ofSeconds(20);

    private enum Mode {
        PLAIN("no signing, no encryption"),
        CONTROL("a second mesh with no signing, no encryption (control)"),
        SIGNED("signed (Ed25519)"),
        SIGNED_HMAC("signed with the mesh-wide key (HMAC-SHA256)"),
        ENCRYPTED("encrypted (AES-256-GCM), not signed"),
        SIGNED_ENCRYPTED("signed and encrypted (Ed25519, AES-256-GCM)");

        final String label;

        Mode(String label) {
            this.label = label;
        }
    }

    /** One mesh of the run: its writer A and receiver B. */
    private record Pair(NodeProcess a, NodeProcess b) {}

    private final Path root = Infra.workDir("trust-bench");
    private final String suffix = Infra.suffix();
    private final AtomicLong sequence = new AtomicLong();
    private final List<NodeProcess> nodes = new ArrayList<>();

    @Test
    void whatSigningAndEncryptionCost() throws Exception {
        System.out.printf(
                "%nTrust cost (%s mode, %s): signed and encrypted meshes against a plain one%n",
                QUICK ? "quick" : "full",
                Infra.external() ? "machine PostgreSQL 15 + Mosquitto" : "embedded PostgreSQL + broker");
        try {
            Map<Mode, Pair> pairs = new EnumMap<>(Mode.class);
            for (Mode mode : Mode.values()) {
                pairs.put(mode, pair(mode));
            }
            // warm-up: the connections and the JIT, on every node. Signing, checking and encrypting cost a
            // message 2-4 times more until the JIT has compiled them, which takes thousands of messages (a
            // node's first minutes at 100 messages/s): one-row transactions, a message each, get there first
            for (Pair pair : pairs.values()) {
                throughput(pair, ROWS / 5);
                messages(pair, WARM_MESSAGES);
                latency(pair, Duration.ofSeconds(LOAD_TIME.toSeconds() / 2));
            }
            Map<Mode, double[]> throughput = new EnumMap<>(Mode.class);
            Map<Mode, double[]> p50 = new EnumMap<>(Mode.class);
            Map<Mode, double[]> p99 = new EnumMap<>(Mode.class);
            Map<Mode, Histogram> pooled = new EnumMap<>(Mode.class);
            for (Mode mode : Mode.values()) {
                pooled.put(mode, new Histogram(3));
                throughput.put(mode, new double[ROUNDS]);
                p50.put(mode, new double[ROUNDS]);
                p99.put(mode, new double[ROUNDS]);
            }
            Mode[] modes = Mode.values();
            for (int r = 0; r < ROUNDS; r++) {
                for (int i = 0; i < modes.length; i++) {
                    Mode mode = modes[(i + r) % modes.length];
                    Pair pair = pairs.get(mode);
                    throughput.get(mode)[r] = throughput(pair, ROWS);
                    Histogram measured = alone(pair, pairs.values(), () -> latency(pair, LOAD_TIME));
                    pooled.get(mode).add(measured);
                    double[] latency = SyncLoad.percentiles(measured);
                    p50.get(mode)[r] = latency[0];
                    p99.get(mode)[r] = latency[2];
                    System.out.printf(
                            "  round %d, %s: %,.0f rows/s; at %d/s p50 %.2f, p95 %.2f, p99 %.2f ms%n",
                            r + 1, mode.label, throughput.get(mode)[r], LOAD, latency[0], latency[1], latency[2]);
                }
            }
            System.out.println();
            for (Mode mode :
                    List.of(Mode.CONTROL, Mode.SIGNED, Mode.SIGNED_HMAC, Mode.ENCRYPTED, Mode.SIGNED_ENCRYPTED)) {
                BenchResults.add(
                        "trust cost: sync throughput " + mode.label + ", " + ROWS + " upserts, rows/s",
                        throughput.get(mode),
                        throughput.get(Mode.PLAIN),
                        "the same mesh unsigned, unencrypted",
                        "rows/s",
                        mode == Mode.CONTROL ? "control: two identical meshes" : "goal: ratio >= 0.9");
                BenchResults.add(
                        "trust cost: p50 latency at " + LOAD + "/s, debounce 0, " + mode.label + ", ms",
                        p50.get(mode),
                        p50.get(Mode.PLAIN),
                        "the same mesh unsigned, unencrypted",
                        "ms",
                        "what each message pays, without the machine's tail");
                BenchResults.add(
                        "trust cost: p99 latency at " + LOAD + "/s, debounce 0, " + mode.label + ", ms",
                        p99.get(mode),
                        p99.get(Mode.PLAIN),
                        "the same mesh unsigned, unencrypted",
                        "ms",
                        String.format(
                                java.util.Locale.ROOT,
                                "per round; median added %+.2f ms",
                                BenchResults.median(p99.get(mode)) - BenchResults.median(p99.get(Mode.PLAIN))));
                // the goal is read on every change of every round together: a round's p99 rests on its
                // slowest 1 % (a few dozen transactions), which move by a millisecond or two between two
                // identical meshes (the control)
                double p99All = pooled.get(mode).getValueAtPercentile(99) / 1000.0;
                double p99AllPlain = pooled.get(Mode.PLAIN).getValueAtPercentile(99) / 1000.0;
                BenchResults.add(
                        "trust cost: p99 latency at " + LOAD + "/s, debounce 0, all rounds' changes, " + mode.label
                                + ", ms",
                        new double[] {p99All},
                        new double[] {p99AllPlain},
                        "the same mesh unsigned, unencrypted",
                        "ms",
                        String.format(
                                java.util.Locale.ROOT,
                                "%s; added %+.2f ms",
                                mode == Mode.CONTROL ? "control: two identical meshes" : "goal: at most +1 ms",
                                p99All - p99AllPlain));
            }
            BenchResults.throughputPoint("LoomDB Edge sync, signed", BenchResults.median(throughput.get(Mode.SIGNED)));
            BenchResults.throughputPoint(
                    "LoomDB Edge sync, signed and encrypted",
                    BenchResults.median(throughput.get(Mode.SIGNED_ENCRYPTED)));
        } finally {
            for (NodeProcess node : nodes) {
                node.close();
            }
        }
    }

    /** Starts A (with the mesh's broker when embedded) and B of one mesh, B stamping when rows arrive. */
    private Pair pair(Mode mode) throws Exception {
        String mesh = "trust-" + mode.name().toLowerCase(java.util.Locale.ROOT) + "-" + suffix;
        int brokerPort = Infra.brokerPort();
        String tag = mode.ordinal() + "-" + suffix;
        NodeProcess a = NodeProcess.create(root, "a" + tag, mesh, Infra.brokerHost(), brokerPort, !Infra.external());
        NodeProcess b = NodeProcess.create(root, "b" + tag, mesh, Infra.brokerHost(), brokerPort, false);
        for (NodeProcess node : List.of(a, b)) {
            nodes.add(node);
            node.with("loom.debounce", "0")
                    .with("loom.sync.anti-entropy.interval", "0") // live sync alone
                    .with("loom.sync.bootstrap", "false")
                    // twelve nodes on one PostgreSQL of the default max_connections (100): the pool's
                    // default of 16 each would not fit, and this load needs few (the apply, the capture
                    // and the flush have connections of their own)
                    .with("quarkus.datasource.reactive.max-size", "4")
                    .with("quarkus.datasource.jdbc.idle-removal-interval", "5S"); // Flyway's, at start only
        }
        if (mode == Mode.SIGNED || mode == Mode.SIGNED_ENCRYPTED) {
            SigningKeys.trustEachOther(List.of(a, b));
        }
        if (mode == Mode.SIGNED_HMAC) {
            byte[] key = new byte[32];
            new SecureRandom().nextBytes(key);
            for (NodeProcess node : List.of(a, b)) {
                node.with("loom.security.signing.enabled", "true")
                        .with("loom.security.signing.mode", "hmac")
                        .with(
                                "loom.security.signing.hmac-key",
                                Base64.getEncoder().encodeToString(key));
            }
        }
        if (mode == Mode.SIGNED_ENCRYPTED || mode == Mode.ENCRYPTED) {
            byte[] key = new byte[32];
            new SecureRandom().nextBytes(key);
            for (NodeProcess node : List.of(a, b)) {
                node.with("loom.security.encryption.active-key", "k1")
                        .with(
                                "loom.security.encryption.keys.k1",
                                Base64.getEncoder().encodeToString(key))
                        .with("loom.mqtt.compress-above", "4096");
            }
        }
        a.start().awaitReady();
        b.start().awaitReady();
        SyncLoad.stampArrivals(b);
        return new Pair(a, b);
    }

    /** {@code count} one-row transactions on A, each a message of its own, until B has the last. */
    private void messages(Pair pair, int count) throws Exception {
        String prefix = "w" + sequence.incrementAndGet() + "-";
        try (Connection sql = pair.a().sql()) {
            SyncLoad.writeBatches(sql, "loom.nodes", prefix, count, 1);
        }
        SyncLoad.awaitRow(pair.b()::sql, "loom.nodes", prefix + count);
    }

    /** Rows/s from the first write on A until B has the last row, all rows checked there. */
    private double throughput(Pair pair, int rows) throws Exception {
        String prefix = "t" + sequence.incrementAndGet() + "-";
        long start = System.nanoTime();
        try (Connection sql = pair.a().sql()) {
            SyncLoad.writeBatches(sql, "loom.nodes", prefix, rows);
        }
        SyncLoad.awaitRow(pair.b()::sql, "loom.nodes", prefix + rows);
        double seconds = (System.nanoTime() - start) / 1e9;
        SyncLoad.assertCount(pair.b()::sql, "loom.nodes", prefix, rows);
        return rows / seconds;
    }

    /**
     * Runs {@code measure} with the other meshes' nodes paused (SIGSTOP), so that a mesh's tail latency is
     * its own and not the timers, JIT and GC of eight idle JVMs sharing its two cores; they go on after.
     */
    private static <T> T alone(Pair measured, Iterable<Pair> all, java.util.concurrent.Callable<T> measure)
            throws Exception {
        List<NodeProcess> others = new ArrayList<>();
        for (Pair pair : all) {
            if (pair != measured) {
                others.add(pair.a());
                others.add(pair.b());
            }
        }
        try {
            for (NodeProcess node : others) {
                node.pause(true);
            }
            return measure.call();
        } finally {
            for (NodeProcess node : others) {
                node.pause(false);
            }
        }
    }

    /** From commit on A to the row written on B (µs), every change at LOAD changes/s for {@code time}. */
    private Histogram latency(Pair pair, Duration time) throws Exception {
        String prefix = "l" + sequence.incrementAndGet() + "-";
        Map<String, Long> committed = SyncLoad.offerAt(pair.a()::sql, "loom.nodes", prefix, LOAD, time);
        return SyncLoad.arrivals(pair.b()::sql, "loom.nodes", prefix, committed);
    }
}
