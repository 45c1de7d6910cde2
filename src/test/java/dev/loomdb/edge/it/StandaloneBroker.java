package dev.loomdb.edge.it;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A broker the test can stop and start while nodes use it, keeping its persistent sessions: a real
 * Mosquitto process against the machine's services (or, with {@code -Dloom.it.broker=nats|rabbitmq}, a
 * nats-server with JetStream and its MQTT gateway, or a RabbitMQ server with its MQTT plugin); in the embedded default, a third node ("hub")
 * whose embedded broker the others use, as on a device that serves as the mesh's broker.
 */
public final class StandaloneBroker implements AutoCloseable {

    private final Path dataDir;
    private final int port;
    private NodeProcess hub;
    private Process mosquitto;
    private Process nats;
    private RabbitMqProcess rabbit;
    private boolean alwaysMosquitto;

    public StandaloneBroker(Path dataDir) {
        this.dataDir = dataDir;
        this.port = Infra.freePort();
    }

    /** A Mosquitto process of its own whatever the infrastructure (a second broker beside the mesh's). */
    public static StandaloneBroker mosquitto(Path dataDir) {
        StandaloneBroker broker = new StandaloneBroker(dataDir);
        broker.alwaysMosquitto = true;
        return broker;
    }

    public int port() {
        return port;
    }

    /** The broker's process id (Mosquitto, nats-server, RabbitMQ's, or the hub node's JVM), for its CPU time. */
    public long pid() {
        if (mosquitto != null) {
            return mosquitto.pid();
        }
        if (nats != null) {
            return nats.pid();
        }
        if (rabbit != null) {
            return rabbit.pid();
        }
        return hub.process().pid();
    }

    public StandaloneBroker start() throws IOException, InterruptedException {
        Files.createDirectories(dataDir);
        if (alwaysMosquitto) {
            startMosquitto();
        } else if (Infra.external() && Infra.broker().equals("nats")) {
            startNats();
        } else if (Infra.external() && Infra.broker().equals("rabbitmq")) {
            RabbitMqProcess.assumeInstalled();
            if (rabbit == null) {
                rabbit = new RabbitMqProcess(dataDir.resolve("rabbitmq"), port);
            }
            rabbit.start();
        } else if (Infra.external()) {
            startMosquitto();
        } else {
            if (hub == null) {
                hub = NodeProcess.create(dataDir, "hub-" + Infra.suffix(), "hub", "127.0.0.1", port, true);
            }
            hub.start().awaitReady();
        }
        return this;
    }

    /** Mosquitto on the broker's port, persistent sessions kept in the data directory. */
    private void startMosquitto() throws IOException, InterruptedException {
        // Started as root, Mosquitto drops to its own user: it must be able to write its persistence file here,
        // or a restart silently loses the messages queued for persistent sessions.
        Files.setPosixFilePermissions(dataDir, java.nio.file.attribute.PosixFilePermissions.fromString("rwxrwxrwx"));
        Path conf = dataDir.resolve("mosquitto.conf");
        Files.write(
                conf,
                List.of(
                        "listener " + port + " 127.0.0.1",
                        "allow_anonymous true",
                        "persistence true",
                        "persistence_location " + dataDir.toAbsolutePath() + "/",
                        "max_queued_messages 0",
                        "max_inflight_messages 100"));
        mosquitto = new ProcessBuilder("mosquitto", "-c", conf.toString())
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(
                        dataDir.resolve("mosquitto.log").toFile()))
                .start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!listening() && System.nanoTime() < deadline) {
            Thread.sleep(50); // waiting for a child process to bind its port; nothing to subscribe to
        }
    }

    /**
     * nats-server with JetStream (the store in the data directory, so sessions outlive a restart) and its
     * MQTT gateway on the broker's port; messages up to 16 MiB, as the nodes send.
     */
    private void startNats() throws IOException, InterruptedException {
        nats = startNats(dataDir, "loomit_" + port, port, List.of(), List.of());
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!listening() && System.nanoTime() < deadline) {
            Thread.sleep(50); // waiting for a child process to bind its port; nothing to subscribe to
        }
    }

    /**
     * Starts a nats-server in {@code dir} (its config, JetStream store and log there): JetStream, the MQTT
     * gateway on {@code mqttPort}, messages up to 16 MiB as the nodes send; {@code topLevel} and
     * {@code mqtt} add lines to the config and to its {@code mqtt} block (a cluster's routes, replicas).
     */
    static Process startNats(Path dir, String name, int mqttPort, List<String> topLevel, List<String> mqtt)
            throws IOException {
        List<String> conf = new java.util.ArrayList<>(List.of(
                "server_name: " + name,
                "listen: 127.0.0.1:" + Infra.freePort(),
                "max_payload: 16MB",
                "max_pending: 64MB",
                "jetstream {",
                "  store_dir: \"" + dir.toAbsolutePath().resolve("jetstream") + "\"",
                "}"));
        conf.addAll(topLevel);
        conf.add("mqtt {");
        conf.add("  listen: 127.0.0.1:" + mqttPort);
        mqtt.forEach(line -> conf.add("  " + line));
        conf.add("}");
        Path file = dir.resolve("nats.conf");
        Files.write(file, conf);
        return new ProcessBuilder("nats-server", "-c", file.toString())
                .redirectErrorStream(true)
                .redirectOutput(
                        ProcessBuilder.Redirect.appendTo(dir.resolve("nats.log").toFile()))
                .start();
    }

    private boolean listening() {
        try (java.net.Socket ignored = new java.net.Socket("127.0.0.1", port)) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    public void stop() throws InterruptedException {
        if (nats != null) {
            nats.destroy();
            nats.waitFor(20, TimeUnit.SECONDS);
            nats = null;
        }
        if (rabbit != null) {
            rabbit.stop();
        }
        if (mosquitto != null) {
            mosquitto.destroy();
            mosquitto.waitFor(20, TimeUnit.SECONDS);
            mosquitto = null;
        }
        if (hub != null) {
            hub.stop();
        }
    }

    @Override
    public void close() throws InterruptedException {
        stop();
        if (hub != null) {
            hub.close();
        }
    }
}
