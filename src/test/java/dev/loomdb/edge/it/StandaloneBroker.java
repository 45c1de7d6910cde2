package dev.loomdb.edge.it;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A broker the test can stop and start while nodes use it, keeping its persistent sessions: a real
 * Mosquitto process against the machine's services; in the embedded default, a third node ("hub")
 * whose embedded broker the others use, as on a device that serves as the mesh's broker.
 */
public final class StandaloneBroker implements AutoCloseable {

    private final Path dataDir;
    private final int port;
    private NodeProcess hub;
    private Process mosquitto;

    public StandaloneBroker(Path dataDir) {
        this.dataDir = dataDir;
        this.port = Infra.freePort();
    }

    public int port() {
        return port;
    }

    public StandaloneBroker start() throws IOException, InterruptedException {
        Files.createDirectories(dataDir);
        if (Infra.external()) {
            // Started as root, Mosquitto drops to its own user: it must be able to write its persistence file here,
            // or a restart silently loses the messages queued for persistent sessions.
            Files.setPosixFilePermissions(
                    dataDir, java.nio.file.attribute.PosixFilePermissions.fromString("rwxrwxrwx"));
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
        } else {
            if (hub == null) {
                hub = NodeProcess.create(dataDir, "hub-" + Infra.suffix(), "hub", "127.0.0.1", port, true);
            }
            hub.start().awaitReady();
        }
        return this;
    }

    private boolean listening() {
        try (java.net.Socket ignored = new java.net.Socket("127.0.0.1", port)) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    public void stop() throws InterruptedException {
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
