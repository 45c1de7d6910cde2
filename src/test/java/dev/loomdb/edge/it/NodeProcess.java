package dev.loomdb.edge.it;

import static org.awaitility.Awaitility.await;

import dev.loomdb.edge.config.Names;
import io.restassured.RestAssured;
import io.restassured.specification.RequestSpecification;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A LoomDB Edge node run the way users run it: {@code java -jar target/quarkus-app/quarkus-run.jar}
 * in a working directory of its own, as a separate process that a test can stop, kill and start
 * again. Its log goes to {@code <workdir>/node.log}.
 */
public final class NodeProcess implements AutoCloseable {

    private static final HttpClient HTTP = HttpClient.newHttpClient();

    private final String nodeId;
    private final Path workDir;
    private final Map<String, String> properties;
    private final int httpPort;
    private final String database;
    private final int postgresPort;
    private Process process;
    private final List<String> jvmArgs = new ArrayList<>();
    private final Map<String, String> environment = new LinkedHashMap<>();
    private static final Path JAVA = Path.of(System.getProperty("java.home"), "bin", "java");
    private static final Path APP = Path.of(System.getProperty("loom.it.app", "target/quarkus-app/quarkus-run.jar"));
    /** The JVM options every node of the run gets ({@code it.node-jvm-options} in the pom; none for benchmarks). */
    private static final List<String> RUN_JVM_OPTIONS = Arrays.stream(
                    System.getProperty("loom.it.node-jvm-options", "").trim().split("\\s+"))
            .filter(option -> !option.isEmpty())
            .toList();

    private Path java = JAVA;
    private Path app = APP;
    private boolean initdb;

    private NodeProcess(
            String nodeId,
            Path workDir,
            Map<String, String> properties,
            int httpPort,
            String database,
            int postgresPort) {
        this.nodeId = nodeId;
        this.workDir = workDir;
        this.properties = properties;
        this.httpPort = httpPort;
        this.database = database;
        this.postgresPort = postgresPort;
    }

    /**
     * A node with its own database (embedded PostgreSQL, or a new database on the machine's), connected
     * to the given broker, or embedding one when {@code embedBrokerPort} is not null.
     */
    public static NodeProcess create(
            Path root, String nodeId, String mesh, String brokerHost, int brokerPort, boolean embedBroker) {
        Path workDir = root.resolve(nodeId);
        Map<String, String> props = new LinkedHashMap<>();
        int httpPort = Infra.freePort();
        props.put("loom.node-id", nodeId);
        props.put("loom.mesh", mesh);
        props.put("quarkus.http.port", Integer.toString(httpPort));
        props.put("loom.mqtt.reconnect-interval", "300ms");
        props.put("loom.api.auth.enabled", "false"); // ApiAuthIT turns it on
        String database;
        int postgresPort;
        if (Infra.external()) {
            database = "loom_it_" + nodeId.replace('-', '_');
            postgresPort = 5432;
            Infra.createExternalDatabase(database);
            props.put("loom.embedded.postgres", "false");
            props.put("quarkus.datasource.reactive.url", "postgresql://127.0.0.1:5432/" + database);
        } else {
            database = "postgres";
            postgresPort = Infra.freePort();
            props.put("loom.embedded.postgres.port", Integer.toString(postgresPort));
        }
        if (embedBroker) {
            props.put("loom.embedded.broker.port", Integer.toString(brokerPort));
        } else {
            props.put("loom.embedded.broker", "false");
            props.put("loom.mqtt.host", brokerHost);
            props.put("loom.mqtt.port", Integer.toString(brokerPort));
        }
        return new NodeProcess(nodeId, workDir, props, httpPort, database, postgresPort);
    }

    /** Adds a JVM option for the next starts (e.g. a class-data-sharing archive). */
    public NodeProcess jvmArg(String option) {
        jvmArgs.add(option);
        return this;
    }

    /** Adds JVM options for the next starts, space-separated as on a command line (blank: none). */
    public NodeProcess jvmArgs(String options) {
        for (String option : options.trim().split("\\s+")) {
            if (!option.isEmpty()) {
                jvmArgs.add(option);
            }
        }
        return this;
    }

    /** Sets an environment variable of the node's process for the next starts (e.g. {@code MALLOC_ARENA_MAX}). */
    public NodeProcess env(String name, String value) {
        environment.put(name, value);
        return this;
    }

    /** Runs the next starts with this {@code java} and this application jar (a JDK 25 and an aot-jar, say). */
    public NodeProcess runWith(Path javaExecutable, Path applicationJar) {
        this.java = javaExecutable;
        this.app = applicationJar;
        return this;
    }

    /** Runs the next starts as every node runs: the test JVM's {@code java} and the built fast-jar. */
    public NodeProcess runAsUsual() {
        return runWith(JAVA, APP);
    }

    /** Removes the JVM options added. */
    public NodeProcess clearJvmArgs() {
        jvmArgs.clear();
        return this;
    }

    /** Sets a configuration property for the next start. */
    public NodeProcess with(String key, String value) {
        properties.put(key, value);
        return this;
    }

    /**
     * The node's first start runs {@code initdb} itself, as a user's does, instead of starting on a copy
     * of {@link PostgresTemplate}.
     */
    public NodeProcess initdbOnFirstStart() {
        initdb = true;
        return this;
    }

    public NodeProcess start() {
        try {
            Files.createDirectories(workDir);
            Path dataDir = workDir.resolve("loom-data/postgres"); // the default loom.embedded.postgres.data-dir
            boolean embeddedPostgres = !"false".equals(properties.get("loom.embedded.postgres")); // false: external
            if (!initdb
                    && embeddedPostgres
                    && !properties.containsKey("loom.embedded.postgres.data-dir")
                    && !Files.exists(dataDir)) {
                PostgresTemplate.copyTo(dataDir);
            }
            List<String> command = new ArrayList<>();
            command.add(java.toString());
            command.add("-Xmx256m");
            command.addAll(RUN_JVM_OPTIONS);
            command.addAll(jvmArgs);
            properties.forEach((k, v) -> command.add("-D" + k + "=" + v));
            command.add("-jar");
            command.add(app.toAbsolutePath().toString());
            Path log = workDir.resolve("node.log");
            ProcessBuilder builder = new ProcessBuilder(command)
                    .directory(workDir.toFile())
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
            builder.environment().putAll(environment);
            process = builder.start();
        } catch (IOException e) {
            throw new IllegalStateException("cannot start node " + nodeId, e);
        }
        return this;
    }

    public NodeProcess awaitReady() {
        return awaitReady(Duration.ofMillis(250));
    }

    /** As {@link #awaitReady()}, asking every {@code poll} (a start-time benchmark asks often). */
    public NodeProcess awaitReady(Duration poll) {
        try {
            await("node " + nodeId + " ready")
                    .atMost(Duration.ofSeconds(90))
                    .pollInterval(poll)
                    .until(() -> {
                        requireAlive();
                        return ready();
                    });
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            throw new AssertionError(e.getMessage() + "; its log:\n" + logTail(), e);
        }
        return this;
    }

    /** Fails, with the node's log, when its process has exited (a start that cannot succeed any more). */
    void requireAlive() {
        if (!process.isAlive()) {
            throw new IllegalStateException(
                    "node " + nodeId + " exited with " + process.exitValue() + "; its log:\n" + logTail());
        }
    }

    private boolean ready() {
        try {
            HttpResponse<String> response = HTTP.send(
                    HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + httpPort + "/q/health/ready"))
                            .timeout(Duration.ofSeconds(2))
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            return response.statusCode() == 200;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** SIGKILL: no shutdown of any kind. */
    public void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
    }

    /** SIGTERM: the graceful shutdown a user's Ctrl-C or Kubernetes gives; returns the exit code. */
    public int stop() throws InterruptedException {
        if (process == null || !process.isAlive()) {
            return process == null ? 0 : process.exitValue();
        }
        process.destroy();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new IllegalStateException("node " + nodeId + " did not stop within 30 s");
        }
        return process.exitValue();
    }

    /**
     * SIGSTOP ({@code true}) or SIGCONT ({@code false}): a benchmark keeps the nodes it does not measure
     * from taking the CPU (their timers, JIT and GC) while it measures another. Keep a pause well under the
     * MQTT keep-alive (30 s) and PostgreSQL's {@code wal_sender_timeout} (60 s).
     */
    public void pause(boolean paused) throws IOException, InterruptedException {
        int exit = new ProcessBuilder("kill", paused ? "-STOP" : "-CONT", String.valueOf(process.pid()))
                .inheritIO()
                .start()
                .waitFor();
        if (exit != 0) {
            throw new IllegalStateException("kill " + (paused ? "-STOP" : "-CONT") + " of node " + nodeId + " failed");
        }
    }

    public Process process() {
        return process;
    }

    public String logTail() {
        try {
            List<String> lines = Files.readAllLines(workDir.resolve("node.log"));
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 60), lines.size()));
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    public String log() {
        try {
            return Files.readString(workDir.resolve("node.log"));
        } catch (IOException e) {
            return "";
        }
    }

    public RequestSpecification api() {
        return RestAssured.given().baseUri("http://127.0.0.1:" + httpPort).contentType("application/json");
    }

    /** The port of this node's PostgreSQL server (5432 for the machine's). */
    public int postgresPort() {
        return postgresPort;
    }

    /** A plain SQL connection to another database of this node's PostgreSQL server. */
    public Connection sql(String otherDatabase) throws SQLException {
        return DriverManager.getConnection(
                "jdbc:postgresql://127.0.0.1:" + postgresPort + "/" + otherDatabase, "postgres", "");
    }

    /** The name of this node's database on its PostgreSQL server. */
    public String database() {
        return database;
    }

    public int httpPort() {
        return httpPort;
    }

    /** The node's working directory (its relative data directories are below it). */
    public Path workDir() {
        return workDir;
    }

    public String nodeId() {
        return nodeId;
    }

    public String slot() {
        return Names.slotFor(nodeId);
    }

    /** How far this node's slot is confirmed, as a byte position in the WAL. */
    public long confirmedFlushLsn(Connection sql) throws SQLException {
        try (java.sql.Statement s = sql.createStatement();
                java.sql.ResultSet rs = s.executeQuery(
                        "SELECT confirmed_flush_lsn - '0/0'::pg_lsn FROM pg_replication_slots WHERE slot_name = '"
                                + slot() + "'")) {
            return rs.next() ? rs.getLong(1) : -1;
        }
    }

    /** How far the WAL sender serving this node's slot has read, as a byte position in the WAL; -1 when none serves it. */
    public long walSenderSentLsn(Connection sql) throws SQLException {
        try (java.sql.Statement s = sql.createStatement();
                java.sql.ResultSet rs = s.executeQuery(
                        "SELECT r.sent_lsn - '0/0'::pg_lsn FROM pg_replication_slots s JOIN pg_stat_replication r"
                                + " ON r.pid = s.active_pid WHERE s.slot_name = '" + slot() + "'")) {
            return rs.next() ? rs.getLong(1) : -1;
        }
    }

    /** A plain SQL connection to this node's database, as psql or an app would have. */
    public Connection sql() throws SQLException {
        return DriverManager.getConnection(
                "jdbc:postgresql://127.0.0.1:" + postgresPort + "/" + database, "postgres", "");
    }

    @Override
    public void close() {
        try {
            stop();
        } catch (Exception e) {
            if (process != null) {
                process.destroyForcibly();
            }
        }
        if (Infra.external()) {
            Infra.dropExternalDatabase(database, Names.applyOriginFor(nodeId));
        }
    }
}
