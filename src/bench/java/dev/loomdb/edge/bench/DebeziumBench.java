package dev.loomdb.edge.bench;

import static org.awaitility.Awaitility.await;

import dev.loomdb.edge.it.Infra;
import dev.loomdb.edge.it.NodeProcess;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Change capture against Debezium's, in one run: the same 100,000 upserts (transactions of 1,000) into
 * node A's {@code loom.nodes}, captured by node A up to the broker's acknowledgement of every change
 * (its {@code publishedChanges} counter), and captured by Debezium's embedded engine (PostgreSQL
 * connector, pgoutput, a slot of its own on the same database) up to its callback having taken every
 * change as JSON. Each system is measured alone: while Debezium captures, A's sync is stopped (its WAL
 * sender exits); while A captures, no Debezium engine runs. Debezium runs in a JVM of its own
 * ({@code src/bench/debezium}), kept across the rounds so that both sides run compiled code; both take
 * the same warm-up first.
 */
class DebeziumBench {

    private static final boolean QUICK = BenchResults.QUICK;
    private static final int ROUNDS = 3;
    private static final int ROWS = QUICK ? 10_000 : 100_000;
    /** Both JVMs compile their hot paths on it: Debezium's engine still sped up after 20,000. */
    private static final int WARM_UP = ROWS;

    private static final Duration BOUND = Duration.ofMinutes(5);
    private static final Pattern PUBLISHED = Pattern.compile("\"publishedChanges\"\\s*:\\s*(\\d+)");

    private final Path root = Infra.workDir("bench-debezium");
    private final String suffix = Infra.suffix();
    private final AtomicLong sequence = new AtomicLong();
    private final HttpClient http = HttpClient.newHttpClient();
    /** Changes written into A's graph so far: what A has published once it has caught up. */
    private long written;

    @Test
    void captureAgainstDebezium() throws Exception {
        System.out.printf(
                Locale.ROOT,
                "%nChange capture against Debezium's embedded engine (%s mode, %s): %,d upserts%n",
                QUICK ? "quick" : "full",
                Infra.external() ? "machine PostgreSQL 15 + Mosquitto" : "embedded PostgreSQL + broker",
                ROWS);
        try (NodeProcess a = NodeProcess.create(
                                root,
                                "a-" + suffix,
                                "bench-dbz-" + suffix,
                                Infra.brokerHost(),
                                Infra.brokerPort(),
                                !Infra.external())
                        .with("loom.debounce", "0")
                        .with("loom.sync.anti-entropy.interval", "0")
                        .start()
                        .awaitReady();
                Debezium debezium = Debezium.start(a, root)) {
            long base = published(a);
            double[] ours = new double[ROUNDS];
            double[] theirs = new double[ROUNDS];
            CpuMeter.Usage[] oursCpu = new CpuMeter.Usage[ROUNDS];
            CpuMeter.Usage[] theirsCpu = new CpuMeter.Usage[ROUNDS];
            List<CpuMeter.Server> servers =
                    List.of(new CpuMeter.Server(a::sql, db -> db.equals(a.database()) ? "A" : null));
            Map<Long, String> jvms = Map.of(
                    a.process().pid(),
                    Infra.external() ? "A: node JVM" : "A: node JVM (and the embedded broker)",
                    debezium.pid(),
                    "Debezium embedded engine JVM");

            awaitPublished(a, base, write(a, WARM_UP)); // the same warm-up for both
            for (int r = 0; r < ROUNDS; r++) {
                try (CpuMeter meter = CpuMeter.start(servers, jvms)) {
                    long start = System.nanoTime();
                    awaitPublished(a, base, write(a, ROWS));
                    ours[r] = ROWS / ((System.nanoTime() - start) / 1e9);
                    oursCpu[r] = meter.stop();
                }

                SyncLoad.pauseSync(List.of(a));
                debezium.begin("loom_it_dbz_" + suffix.replace('-', '_') + "_" + r);
                if (r == 0) {
                    write(a, WARM_UP);
                    debezium.awaitCount(WARM_UP);
                }
                long before = debezium.count();
                try (CpuMeter meter = CpuMeter.start(servers, jvms)) {
                    long start = System.nanoTime();
                    write(a, ROWS);
                    debezium.awaitCount(before + ROWS);
                    theirs[r] = ROWS / ((System.nanoTime() - start) / 1e9);
                    theirsCpu[r] = meter.stop();
                }
                debezium.end();
                SyncLoad.resumeSync(List.of(a));
                awaitPublished(a, base, written); // A publishes what it missed before the next round
                System.out.printf(
                        Locale.ROOT,
                        "  round %d: ours %,.0f changes/s, Debezium %,.0f changes/s%n",
                        r + 1,
                        ours[r],
                        theirs[r]);
            }
            BenchResults.add(
                    "change capture, " + ROWS + " upserts in batches of " + SyncLoad.BATCH
                            + ": A to the broker's acknowledgement, changes/s",
                    ours,
                    theirs,
                    "Debezium embedded engine, capture to callback (JSON)",
                    "changes/s",
                    "goal: >= 1.0");
            BenchResults.add(
                    "CPU per captured change, all processes, core-µs",
                    BenchResults.cpu("LoomDB Edge capture to the broker", oursCpu, ROWS),
                    BenchResults.cpu("Debezium embedded engine capture", theirsCpu, ROWS),
                    "Debezium embedded engine",
                    "core-µs",
                    "lower is better; breakdown in cpuMicrosPerRow");
            BenchResults.throughputPoint("LoomDB Edge capture to broker ack", BenchResults.median(ours));
            BenchResults.throughputPoint("Debezium embedded engine capture", BenchResults.median(theirs));
        }
    }

    /** Upserts {@code rows} new rows into A's graph; returns the changes written into it so far. */
    private long write(NodeProcess a, int rows) throws SQLException {
        try (Connection sql = a.sql()) {
            SyncLoad.writeBatches(sql, "loom.nodes", "d" + sequence.incrementAndGet() + "-", rows);
        }
        written += rows;
        return written;
    }

    private void awaitPublished(NodeProcess a, long base, long changes) {
        await("A published " + changes + " changes")
                .atMost(BOUND)
                .pollDelay(Duration.ZERO)
                .pollInterval(Duration.ofMillis(20))
                .until(() -> published(a) - base >= changes);
    }

    /** A's count of changes the broker has acknowledged (GET /api/sync/status, counters.publishedChanges). */
    private long published(NodeProcess a) throws IOException, InterruptedException {
        HttpResponse<String> response = http.send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + a.httpPort() + "/api/sync/status"))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        Matcher m = PUBLISHED.matcher(response.body());
        return m.find() ? Long.parseLong(m.group(1)) : 0;
    }

    /**
     * Debezium's embedded engine in a JVM of its own: {@code src/bench/debezium/DebeziumCapture.java}
     * with the class path Maven resolves for {@code src/bench/debezium/pom.xml}.
     */
    private static final class Debezium implements AutoCloseable {

        private final Process process;
        private final Writer commands;
        private final BlockingQueue<String> answers = new LinkedBlockingQueue<>();
        private final AtomicLong count = new AtomicLong();
        private final NodeProcess server;
        private String slot;

        private Debezium(Process process, NodeProcess server) {
            this.process = process;
            this.server = server;
            this.commands = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
            Thread reader = new Thread(this::read, "debezium-answers");
            reader.setDaemon(true);
            reader.start();
        }

        static Debezium start(NodeProcess server, Path root) throws IOException, InterruptedException {
            Path project = Path.of("src", "bench", "debezium").toAbsolutePath();
            Files.createDirectories(root);
            Path classpath = root.resolve("debezium.classpath");
            Path log = root.resolve("debezium-resolve.log");
            String home = System.getProperty("bench.maven.home", "");
            List<String> mvn = new ArrayList<>(List.of(
                    home.isBlank() ? "mvn" : Path.of(home, "bin", "mvn").toString(),
                    "-B",
                    "-q",
                    "-ntp",
                    "-f",
                    project.resolve("pom.xml").toString(),
                    "dependency:build-classpath",
                    "-Dmdep.outputFile=" + classpath,
                    "-o"));
            // from the local repository when it has them, else from the remote ones
            if (run(mvn, log) != 0 && run(mvn.subList(0, mvn.size() - 1), log) != 0) {
                throw new IllegalStateException("cannot resolve Debezium's class path (" + String.join(" ", mvn) + "): "
                        + Files.readString(log));
            }
            String java =
                    Path.of(System.getProperty("java.home"), "bin", "java").toString();
            Process process = new ProcessBuilder(
                            java,
                            "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                            "-cp",
                            Files.readString(classpath).trim(),
                            project.resolve("DebeziumCapture.java").toString(),
                            "127.0.0.1",
                            Integer.toString(server.postgresPort()),
                            server.database(),
                            "postgres",
                            "loom.nodes")
                    .redirectError(root.resolve("debezium.log").toFile())
                    .start();
            return new Debezium(process, server);
        }

        private static int run(List<String> command, Path log) throws IOException, InterruptedException {
            Process process = new ProcessBuilder(command)
                    .redirectErrorStream(true)
                    .redirectOutput(log.toFile())
                    .start();
            if (!process.waitFor(10, TimeUnit.MINUTES)) {
                process.destroyForcibly();
                return -1;
            }
            return process.exitValue();
        }

        long pid() {
            return process.pid();
        }

        long count() {
            return count.get();
        }

        /** A new engine with a new slot, streaming from now. */
        void begin(String slot) throws IOException, InterruptedException {
            this.slot = slot;
            count.set(0);
            command("start " + slot, "started");
        }

        /** Closes the engine (its slot is dropped) and drops its publication. */
        void end() throws IOException, InterruptedException, SQLException {
            command("stop", "stopped");
            try (Connection sql = server.sql();
                    Statement s = sql.createStatement()) {
                s.execute("DROP PUBLICATION IF EXISTS " + slot);
                s.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '"
                        + slot + "' AND NOT active");
            }
        }

        void awaitCount(long changes) {
            await("Debezium took " + changes + " changes")
                    .atMost(BOUND)
                    .pollDelay(Duration.ZERO)
                    .pollInterval(Duration.ofMillis(5))
                    .until(() -> {
                        if (!process.isAlive()) {
                            throw new IllegalStateException("Debezium's JVM exited: see its log");
                        }
                        return count.get() >= changes;
                    });
        }

        private void command(String command, String expected) throws IOException, InterruptedException {
            commands.write(command + "\n");
            commands.flush();
            String answer = answers.poll(3, TimeUnit.MINUTES);
            if (!expected.equals(answer)) {
                throw new IllegalStateException(
                        "Debezium answered " + answer + " to " + command + " (its log: bench-debezium/debezium.log)");
            }
        }

        private void read() {
            try (BufferedReader in =
                    new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = in.readLine()) != null) {
                    if (line.startsWith("count ")) {
                        count.set(Long.parseLong(line.substring(6).trim()));
                    } else {
                        answers.add(line);
                    }
                }
            } catch (IOException e) {
                answers.add("error " + e);
            }
        }

        @Override
        public void close() throws InterruptedException {
            try {
                commands.close(); // end of input: the engine stops and the JVM exits
            } catch (IOException e) {
                // exited already
            }
            if (!process.waitFor(1, TimeUnit.MINUTES)) {
                process.destroyForcibly();
            }
        }
    }
}
