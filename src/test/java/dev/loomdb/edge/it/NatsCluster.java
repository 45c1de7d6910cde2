package dev.loomdb.edge.it;

import java.io.IOException;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * Three nats-server processes in one cluster on this machine (their own ports and stores, routes to each
 * other), JetStream on each, and each server's MQTT gateway keeping sessions and QoS 1 messages in streams
 * replicated on all three: the deployment of docs/operations.md's large mesh, on one machine.
 */
public final class NatsCluster implements AutoCloseable {

    private static final int SERVERS = 3;

    private final Path dataDir;
    private final int[] mqttPorts = new int[SERVERS];
    private final int[] routePorts = new int[SERVERS];
    private final Process[] processes = new Process[SERVERS];

    public NatsCluster(Path dataDir) {
        this.dataDir = dataDir;
        for (int i = 0; i < SERVERS; i++) {
            mqttPorts[i] = Infra.freePort();
            routePorts[i] = Infra.freePort();
        }
    }

    /** The MQTT port of server {@code i} (0, 1 or 2). */
    public int mqttPort(int i) {
        return mqttPorts[i];
    }

    /** {@code host:port} of the servers, starting with {@code first}: a node's loom.mqtt.servers. */
    public String servers(int first) {
        List<String> list = new ArrayList<>();
        for (int k = 0; k < SERVERS; k++) {
            list.add("127.0.0.1:" + mqttPorts[(first + k) % SERVERS]);
        }
        return String.join(",", list);
    }

    public NatsCluster start() throws IOException, InterruptedException {
        String routes = java.util.Arrays.stream(routePorts)
                .mapToObj(p -> "nats-route://127.0.0.1:" + p)
                .collect(Collectors.joining(", "));
        for (int i = 0; i < SERVERS; i++) {
            Path dir = dataDir.resolve("n" + i);
            Files.createDirectories(dir);
            processes[i] = StandaloneBroker.startNats(
                    dir,
                    "loomit_n" + i,
                    mqttPorts[i],
                    List.of(
                            "cluster {",
                            "  name: loomit",
                            "  listen: 127.0.0.1:" + routePorts[i],
                            "  routes: [ " + routes + " ]",
                            "}"),
                    List.of("stream_replicas: 3", "consumer_replicas: 3"));
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!(allListening() && metaLeaderElected()) && System.nanoTime() < deadline) {
            Thread.sleep(100); // child processes binding their ports and electing a JetStream leader
        }
        return this;
    }

    /** SIGKILL of server {@code i}: no goodbye to its clients or to the other servers. */
    public void kill(int i) throws InterruptedException {
        processes[i].destroyForcibly();
        processes[i].waitFor(20, TimeUnit.SECONDS);
    }

    /** The logs of the three servers, for a failure's message. */
    public String logs() {
        StringBuilder all = new StringBuilder();
        for (int i = 0; i < SERVERS; i++) {
            try {
                List<String> lines = Files.readAllLines(dataDir.resolve("n" + i).resolve("nats.log"));
                all.append("--- server ").append(i).append('\n');
                lines.subList(Math.max(0, lines.size() - 15), lines.size())
                        .forEach(l -> all.append(l).append('\n'));
            } catch (IOException e) {
                all.append("--- server ")
                        .append(i)
                        .append(": ")
                        .append(e.getMessage())
                        .append('\n');
            }
        }
        return all.toString();
    }

    private boolean allListening() {
        for (int port : mqttPorts) {
            try (Socket ignored = new Socket("127.0.0.1", port)) {
                // listening
            } catch (IOException e) {
                return false;
            }
        }
        return true;
    }

    private boolean metaLeaderElected() {
        for (int i = 0; i < SERVERS; i++) {
            try {
                if (Files.readString(dataDir.resolve("n" + i).resolve("nats.log"))
                        .contains("new metadata leader")) {
                    return true;
                }
            } catch (IOException e) {
                // not written yet
            }
        }
        return false;
    }

    @Override
    public void close() throws InterruptedException {
        for (Process process : processes) {
            if (process != null && process.isAlive()) {
                process.destroy();
                process.waitFor(20, TimeUnit.SECONDS);
            }
        }
    }
}
