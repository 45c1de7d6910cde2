package dev.loomdb.edge.bench;

import static org.awaitility.Awaitility.await;

import dev.loomdb.edge.it.Infra;
import dev.loomdb.edge.it.NodeProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * How fast a node that ran before starts again (an existing data directory, the services already
 * up), against the plain JVM 17 start measured in the same run, rounds interleaved: with an AppCDS
 * archive on JVM 17, and with a JDK 25 AOT cache on the aot-jar packaging ({@code target/aot-app},
 * which the bench profile builds) trained by one run of the node. Each start is timed to readiness
 * and to the first change written on a peer after it arriving; and, serverless-style, the plain JVM's
 * start after the node was killed (SIGKILL right after a change came in) instead of stopped. The
 * AOT cache is timed twice: as trained, and with the fast-start options for devices and serverless
 * ({@link #FAST_START}: the C1 compiler only, the serial collector).
 */
class StartupBench {

    private static final int ROUNDS = BenchResults.QUICK ? 3 : 5;
    private static final Duration POLL = Duration.ofMillis(20);
    private static final Path JDK_25 =
            Path.of(System.getProperty("loom.bench.jdk25", "/usr/lib/jvm/temurin-25-jdk-amd64"), "bin", "java");
    private static final Path AOT_JAR = Path.of("target/aot-app/quarkus-run.jar");
    /** No C2: no profiling code while starting, one compiler thread's work instead of two competing with start-up. */
    private static final List<String> FAST_START = List.of("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC");

    private final Path root = Infra.workDir("startup-bench");
    private final String suffix = Infra.suffix();
    private final AtomicLong sequence = new AtomicLong();
    private NodeProcess a;

    @Test
    void startTimes() throws Exception {
        String mesh = "startup-" + suffix;
        int brokerPort = Infra.brokerPort();
        NodeProcess f = null;
        try {
            a = NodeProcess.create(root, "a-" + suffix, mesh, Infra.brokerHost(), brokerPort, !Infra.external())
                    .with("loom.sync.anti-entropy.interval", "0")
                    .start()
                    .awaitReady();
            f = NodeProcess.create(root, "f-" + suffix, mesh, Infra.brokerHost(), brokerPort, false)
                    .with("loom.sync.bootstrap", "false") // start time, not the time to take the graph
                    .with("loom.sync.anti-entropy.interval", "0");

            Path archive = root.resolve("loom-cds.jsa").toAbsolutePath();
            f.jvmArg("-XX:ArchiveClassesAtExit=" + archive).start().awaitReady(); // first start: the archive
            f.stop();
            f.clearJvmArgs();

            Path cache = root.resolve("loom.aot").toAbsolutePath();
            boolean aot = Files.isExecutable(JDK_25) && Files.exists(AOT_JAR);
            if (aot) { // the training run: a start, changes both ways and reads, a clean stop
                f.runWith(JDK_25, AOT_JAR)
                        .jvmArg("-XX:AOTCacheOutput=" + cache)
                        .start()
                        .awaitReady();
                train(f);
                f.stop(); // the JVM writes the cache as it exits
                f.clearJvmArgs().runAsUsual();
                aot = Files.exists(cache);
            }

            double[] plainReady = new double[ROUNDS];
            double[] plainSynced = new double[ROUNDS];
            double[] cdsReady = new double[ROUNDS];
            double[] cdsSynced = new double[ROUNDS];
            double[] aotReady = new double[ROUNDS];
            double[] aotSynced = new double[ROUNDS];
            double[] fastReady = new double[ROUNDS];
            double[] fastSynced = new double[ROUNDS];
            double[] killedReady = new double[ROUNDS];
            double[] killedSynced = new double[ROUNDS];
            for (int r = 0; r < ROUNDS; r++) {
                double[] plain = startOnce(f);
                plainReady[r] = plain[0];
                plainSynced[r] = plain[1];
                // serverless-style: stopped at any moment (SIGKILL, no shutdown), then started again
                f.start().awaitReady(POLL);
                writeOnA(); // something in flight to the node as it dies
                f.kill();
                double[] killed = startOnce(f);
                killedReady[r] = killed[0];
                killedSynced[r] = killed[1];
                double[] cds = startOnce(f.jvmArg("-XX:SharedArchiveFile=" + archive));
                f.clearJvmArgs();
                cdsReady[r] = cds[0];
                cdsSynced[r] = cds[1];
                if (aot) {
                    double[] cached = startOnce(f.runWith(JDK_25, AOT_JAR).jvmArg("-XX:AOTCache=" + cache));
                    f.clearJvmArgs().runAsUsual();
                    aotReady[r] = cached[0];
                    aotSynced[r] = cached[1];
                    f.runWith(JDK_25, AOT_JAR).jvmArg("-XX:AOTCache=" + cache);
                    FAST_START.forEach(f::jvmArg);
                    double[] fast = startOnce(f);
                    f.clearJvmArgs().runAsUsual();
                    fastReady[r] = fast[0];
                    fastSynced[r] = fast[1];
                }
            }
            System.out.printf(
                    "%nStart (ms), plain JVM 17 / after kill -9 / AppCDS / JDK 25 AOT cache / the same, fast start:%n"
                            + " ready %s%n %s%n %s%n %s%n %s%n synced %s%n %s%n %s%n %s%n %s%n",
                    java.util.Arrays.toString(plainReady),
                    java.util.Arrays.toString(killedReady),
                    java.util.Arrays.toString(cdsReady),
                    java.util.Arrays.toString(aotReady),
                    java.util.Arrays.toString(fastReady),
                    java.util.Arrays.toString(plainSynced),
                    java.util.Arrays.toString(killedSynced),
                    java.util.Arrays.toString(cdsSynced),
                    java.util.Arrays.toString(aotSynced),
                    java.util.Arrays.toString(fastSynced));
            BenchResults.add(
                    "start to ready, existing data dir, JVM 17 + AppCDS archive, ms",
                    cdsReady,
                    plainReady,
                    "JVM 17 without archive",
                    "ms",
                    Files.exists(archive) ? "" : "archive not written");
            BenchResults.add(
                    "start to first synced change, JVM 17 + AppCDS archive, ms",
                    cdsSynced,
                    plainSynced,
                    "JVM 17 without archive",
                    "ms",
                    "");
            BenchResults.add(
                    "start to ready after kill -9, JVM 17, ms",
                    killedReady,
                    plainReady,
                    "JVM 17 after a clean stop",
                    "ms",
                    "");
            BenchResults.add(
                    "start to first synced change after kill -9, JVM 17, ms",
                    killedSynced,
                    plainSynced,
                    "JVM 17 after a clean stop",
                    "ms",
                    "");
            String why = aot ? "" : "no JDK 25 at " + JDK_25 + " or no " + AOT_JAR + " (mvn -Pbench package)";
            BenchResults.add(
                    "start to ready, existing data dir, JDK 25 + AOT cache (aot-jar), ms",
                    aot ? aotReady : plainReady,
                    plainReady,
                    "JVM 17 without archive",
                    "ms",
                    why);
            BenchResults.add(
                    "start to first synced change, JDK 25 + AOT cache (aot-jar), ms",
                    aot ? aotSynced : plainSynced,
                    plainSynced,
                    "JVM 17 without archive",
                    "ms",
                    why);
            BenchResults.add(
                    "start to ready, existing data dir, JDK 25 + AOT cache, fast start (C1 only, serial GC), ms",
                    aot ? fastReady : plainReady,
                    plainReady,
                    "JVM 17 without archive",
                    "ms",
                    why);
            BenchResults.add(
                    "start to first synced change, JDK 25 + AOT cache, fast start (C1 only, serial GC), ms",
                    aot ? fastSynced : plainSynced,
                    plainSynced,
                    "JVM 17 without archive",
                    "ms",
                    why);
        } finally {
            if (f != null) {
                f.close();
            }
            if (a != null) {
                a.close();
            }
        }
    }

    /** What a node does in its first minutes: changes both ways, reads, lists and the status. */
    private void train(NodeProcess node) throws Exception {
        for (int i = 0; i < 50; i++) {
            String id = "train-" + i;
            node.api()
                    .body("{\"type\":\"Train\",\"properties\":{\"n\":" + i + "}}")
                    .put("/api/nodes/" + id)
                    .then()
                    .statusCode(201);
            node.api().get("/api/nodes/" + id).then().statusCode(200);
        }
        node.api().get("/api/nodes?type=Train").then().statusCode(200);
        node.api().get("/api/sync/status").then().statusCode(200);
        await().atMost(Duration.ofSeconds(30))
                .until(() -> a.api().get("/api/nodes/train-49").statusCode() == 200);
    }

    /** A change on A; its id. */
    private String writeOnA() {
        String id = "s" + sequence.incrementAndGet();
        a.api()
                .body("{\"type\":\"Bench\",\"properties\":{}}")
                .put("/api/nodes/" + id)
                .then()
                .statusCode(201);
        return id;
    }

    /** [ms to ready, ms to the first change written on A after ready arriving]. */
    private double[] startOnce(NodeProcess node) throws Exception {
        long start = System.nanoTime();
        node.start().awaitReady(POLL);
        double ready = (System.nanoTime() - start) / 1e6;
        String id = writeOnA();
        await().atMost(SyncLoad.ARRIVAL)
                .pollInterval(Duration.ofMillis(5))
                .until(() -> node.api().get("/api/nodes/" + id).statusCode() == 200);
        double synced = (System.nanoTime() - start) / 1e6;
        node.stop();
        return new double[] {ready, synced};
    }
}
