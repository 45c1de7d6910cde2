package dev.loomdb.edge.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loomdb.edge.it.Infra;
import dev.loomdb.edge.it.NodeProcess;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * What Hibernate Reactive with Panache would cost the node (issue 15's rule: keep it only if start to
 * ready grows by less than 10 % and RSS by less than 10 %). The node as built by this run, against the
 * same sources built with {@code -Phibernate-trial} ({@code quarkus-hibernate-reactive-panache},
 * {@code loom.conflicts} mapped as an entity and read through it, {@code src/trial/hibernate}) in a copy of
 * the project under {@code target/}: each started {@value #ROUNDS_FULL} times on the same data, rounds
 * interleaved, timed from the launch to readiness; RSS when ready and after 200 REST reads (the trial's
 * also reading through Hibernate).
 */
class HibernateCostBench {

    private static final int ROUNDS_FULL = 5;
    private static final int ROUNDS = BenchResults.QUICK ? 3 : ROUNDS_FULL;
    private static final int READS = 200;

    private final Path root = Infra.workDir("hibernate-bench");
    private final String suffix = Infra.suffix();

    @Test
    void whatHibernateReactiveCosts() throws Exception {
        Path trialJar = buildTrial();
        Path plainJar = Path.of("target/quarkus-app/quarkus-run.jar");
        NodeProcess node = NodeProcess.create(
                        root, "h-" + suffix, "hibernate-" + suffix, "127.0.0.1", Infra.freePort(), true)
                .with("loom.sync.anti-entropy.interval", "0");
        try {
            // first starts: the schema, the slot, the operating system's file cache for both builds
            node.start().awaitReady();
            node.stop();
            node.runWith(javaOfThisJvm(), trialJar).start().awaitReady();
            assertEquals(
                    200,
                    node.api().get("/api/trial/conflicts").statusCode(),
                    "the trial build reads loom.conflicts through Hibernate Reactive");
            node.stop();

            double[][] plain = new double[3][ROUNDS];
            double[][] trial = new double[3][ROUNDS];
            for (int r = 0; r < ROUNDS; r++) {
                measure(node.runWith(javaOfThisJvm(), plainJar), false, plain, r);
                measure(node.runWith(javaOfThisJvm(), trialJar), true, trial, r);
            }
            node.runAsUsual();
            System.out.printf(
                    "%nHibernate Reactive cost: start to ready (ms) plain %s trial %s%n RSS ready (MiB) plain %s trial %s%n"
                            + " RSS after %d reads (MiB) plain %s trial %s%n",
                    Arrays.toString(plain[0]),
                    Arrays.toString(trial[0]),
                    Arrays.toString(plain[1]),
                    Arrays.toString(trial[1]),
                    READS,
                    Arrays.toString(plain[2]),
                    Arrays.toString(trial[2]));
            BenchResults.add(
                    "start to ready with Hibernate Reactive + Panache (-Phibernate-trial), ms",
                    trial[0],
                    plain[0],
                    "the node (reactive SQL client)",
                    "ms",
                    "keep only below 1.10");
            BenchResults.add(
                    "RSS when ready with Hibernate Reactive + Panache, MiB",
                    trial[1],
                    plain[1],
                    "the node (reactive SQL client)",
                    "MiB",
                    "keep only below 1.10");
            BenchResults.add(
                    "RSS after " + READS + " REST reads with Hibernate Reactive + Panache, MiB",
                    trial[2],
                    plain[2],
                    "the node (reactive SQL client)",
                    "MiB",
                    "keep only below 1.10");
        } finally {
            node.close();
        }
    }

    private static Path javaOfThisJvm() {
        return Path.of(System.getProperty("java.home"), "bin", "java");
    }

    /** One start: [ms to ready, RSS MiB when ready, RSS MiB after the reads] into column {@code r}. */
    private static void measure(NodeProcess node, boolean trial, double[][] into, int r) throws Exception {
        long start = System.nanoTime();
        node.start().awaitReady(Duration.ofMillis(20));
        into[0][r] = (System.nanoTime() - start) / 1e6;
        long pid = node.process().pid();
        into[1][r] = rssMiB(pid);
        for (int i = 0; i < READS; i++) {
            node.api().get("/api/nodes?limit=10").then().statusCode(200);
        }
        if (trial) {
            node.api().get("/api/trial/conflicts").then().statusCode(200);
        }
        into[2][r] = rssMiB(pid);
        node.stop();
    }

    private static double rssMiB(long pid) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024.0;
            }
        }
        throw new IllegalStateException("no VmRSS for process " + pid);
    }

    /**
     * Builds the node with {@code -Phibernate-trial} in a copy of the project (its own {@code target/}, so
     * this run's build is untouched); the trial's {@code quarkus-run.jar}.
     */
    private Path buildTrial() throws Exception {
        Path copy = Path.of("target", "hibernate-trial").toAbsolutePath();
        Path jar = copy.resolve("target/quarkus-app/quarkus-run.jar");
        copyTree(Path.of("pom.xml"), copy.resolve("pom.xml"));
        for (String dir : List.of("src/main", "src/trial")) {
            copyTree(Path.of(dir), copy.resolve(dir));
        }
        Path log = copy.resolve("build.log");
        Process mvn = new ProcessBuilder(
                        "mvn",
                        "-B",
                        "-ntp",
                        "-q",
                        "package",
                        "-Phibernate-trial",
                        "-DskipTests",
                        "-Dspotless.check.skip=true",
                        "-Dspotless.apply.skip=true")
                .directory(copy.toFile())
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
        assertTrue(mvn.waitFor(10, TimeUnit.MINUTES), "the trial build took over 10 minutes");
        assertEquals(0, mvn.exitValue(), () -> "the trial build failed, see " + log);
        assertTrue(Files.exists(jar), "no " + jar);
        return jar;
    }

    private static void copyTree(Path from, Path to) throws IOException {
        if (Files.isRegularFile(from)) {
            Files.createDirectories(to.getParent());
            Files.copy(from, to, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            return;
        }
        try (Stream<Path> paths = Files.walk(from)) {
            for (Path path : (Iterable<Path>) paths::iterator) {
                Path target = to.resolve(from.relativize(path).toString());
                if (Files.isDirectory(path)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(path, target, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
    }
}
