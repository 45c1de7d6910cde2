package dev.loomdb.edge.it;

import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * A RabbitMQ server of a test's own (Debian's {@code rabbitmq-server}): its own node name, AMQP port and
 * data directory, so that the test can stop and start it without touching the machine's. Without the
 * package a test is skipped with that message, unless {@code LOOM_IT_RABBITMQ=required} (CI), which
 * fails it instead.
 */
public final class RabbitMqProcess implements AutoCloseable {

    private static final Path SERVER = Path.of("/usr/lib/rabbitmq/bin/rabbitmq-server");

    private final Path dir;
    private final int port = Infra.freePort();
    private final int distributionPort = Infra.freePort();
    private final String nodeName = "loomit" + port + "@localhost";
    /** The MQTT plugin's port, or 0 without the plugin. */
    private final int mqttPort;

    private Process process;

    public RabbitMqProcess(Path dir) {
        this(dir, 0);
    }

    /** With {@code mqttPort} > 0, the server also speaks MQTT there (the rabbitmq_mqtt plugin, anonymous). */
    public RabbitMqProcess(Path dir, int mqttPort) {
        this.dir = dir;
        this.mqttPort = mqttPort;
    }

    /** Skips the calling test when RabbitMQ is missing (fails it when it is required). */
    public static void assumeInstalled() {
        if ("required".equals(System.getenv("LOOM_IT_RABBITMQ"))) {
            if (!Files.isExecutable(SERVER)) {
                throw new AssertionError(
                        "LOOM_IT_RABBITMQ=required but " + SERVER + " is missing (apt-get install rabbitmq-server)");
            }
            return;
        }
        Assumptions.assumeTrue(
                Files.isExecutable(SERVER), "RabbitMQ is not installed (apt-get install rabbitmq-server)");
    }

    public int port() {
        return port;
    }

    /** Starts the server (again, on the same data) and waits until it accepts AMQP connections. */
    /** The server's process id (its start script: the Erlang VM is among its descendants). */
    public long pid() {
        return process.pid();
    }

    public RabbitMqProcess start() throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("enabled_plugins"), mqttPort > 0 ? "[rabbitmq_mqtt]." : "[].");
        Files.writeString(
                dir.resolve("rabbitmq.conf"),
                mqttPort > 0
                        ? String.join(
                                "\n",
                                "mqtt.listeners.tcp.default = 127.0.0.1:" + mqttPort,
                                "mqtt.allow_anonymous = true",
                                "mqtt.default_user = guest",
                                "mqtt.default_pass = guest",
                                "")
                        : "");
        ProcessBuilder builder = new ProcessBuilder(SERVER.toString())
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(
                        dir.resolve("server.log").toFile()));
        Map<String, String> env = builder.environment();
        env.put("HOME", dir.toString()); // its Erlang cookie
        env.put("RABBITMQ_NODENAME", nodeName);
        env.put("RABBITMQ_NODE_PORT", Integer.toString(port));
        env.put("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1");
        env.put("RABBITMQ_DIST_PORT", Integer.toString(distributionPort));
        env.put("RABBITMQ_MNESIA_BASE", dir.resolve("mnesia").toString());
        env.put("RABBITMQ_LOG_BASE", dir.resolve("log").toString());
        env.put("RABBITMQ_ENABLED_PLUGINS_FILE", dir.resolve("enabled_plugins").toString());
        env.put("RABBITMQ_PID_FILE", dir.resolve("server.pid").toString());
        env.put("RABBITMQ_CONFIG_FILE", dir.resolve("rabbitmq").toString());
        env.put("RABBITMQ_ADVANCED_CONFIG_FILE", dir.resolve("advanced.config").toString());
        process = builder.start();
        await("RabbitMQ on port " + port)
                .atMost(Duration.ofMinutes(2))
                .pollInterval(Duration.ofMillis(250))
                .until(() -> {
                    if (!process.isAlive()) {
                        throw new IllegalStateException("rabbitmq-server exited with " + process.exitValue() + "; see "
                                + dir.resolve("server.log"));
                    }
                    return listening(port) && (mqttPort == 0 || listening(mqttPort));
                });
        return this;
    }

    /** Stops the server the way a service manager does (SIGTERM) and waits until it is gone. */
    public void stop() throws InterruptedException {
        if (process == null || !process.isAlive()) {
            return;
        }
        process.descendants().forEach(ProcessHandle::destroy);
        process.destroy();
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            process.descendants().forEach(ProcessHandle::destroyForcibly);
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
        await("RabbitMQ on port " + port + " gone")
                .atMost(Duration.ofSeconds(30))
                .pollInterval(Duration.ofMillis(100))
                .until(() -> !listening(port));
    }

    private static boolean listening(int port) {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress("127.0.0.1", port), 200);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    @Override
    public void close() throws InterruptedException {
        stop();
    }
}
