package dev.loomdb.edge.it;

import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A mesh of N node processes for an integration test, registered with {@code @RegisterExtension}:
 * a static field starts it once for the class, an instance field for every test. Each node has its
 * own PostgreSQL (embedded, or a database on the machine's); in the embedded default the first node
 * also runs the broker, against the machine's services every node uses Mosquitto. The mesh has a
 * name of its own, so tests cannot see each other's traffic. After a failed test every node's log
 * tail is printed (failsafe keeps it in the report); at the end every node is stopped and its
 * database dropped.
 *
 * <pre>
 * &#64;RegisterExtension
 * static final Mesh MESH = Mesh.named("two-nodes").nodes("a", "b").with("loom.conflict.types.DOC", "merge");
 * ... MESH.node("a").api().put(...); MESH.node("b").sql() ...
 * </pre>
 *
 * Tests that start, stop, kill and reconfigure nodes one by one ask for {@link #unstarted()} nodes:
 * the mesh makes and cleans them up, the test starts them. {@link #standaloneBroker()} gives the mesh
 * a broker process of its own that the test may stop and start ({@link #broker()});
 * {@link #hostedBroker()} makes the first node embed the broker on every infrastructure.
 */
public final class Mesh implements BeforeAllCallback, AfterAllCallback, BeforeEachCallback, AfterEachCallback {

    private final String name;
    private final List<String> names = new ArrayList<>();
    private final Map<String, String> everyNode = new LinkedHashMap<>();
    private final Map<String, Map<String, String>> perNode = new LinkedHashMap<>();
    private final Map<String, NodeProcess> nodes = new LinkedHashMap<>();
    private String mesh;
    private int brokerPort;
    private boolean startedForClass;
    private boolean unstarted;
    private boolean standalone;
    private boolean hosted;
    private StandaloneBroker broker;
    private NodeProcess brokerNode; // the node that embeds the broker, if one does

    private Mesh(String name) {
        this.name = name;
    }

    /** A mesh whose work directory and topic root are named after {@code name} and a suffix of this run. */
    public static Mesh named(String name) {
        return new Mesh(name);
    }

    /** The nodes, started side by side (when the first hosts the broker, once its broker listens). */
    public Mesh nodes(String... nodeNames) {
        names.addAll(List.of(nodeNames));
        return this;
    }

    /** A setting for every node. */
    public Mesh with(String key, String value) {
        everyNode.put(key, value);
        return this;
    }

    /** A setting for one node. */
    public Mesh with(String node, String key, String value) {
        perNode.computeIfAbsent(node, n -> new LinkedHashMap<>()).put(key, value);
        return this;
    }

    /** The nodes are made (with the mesh's settings) and cleaned up by the mesh, but started by the test. */
    public Mesh unstarted() {
        unstarted = true;
        return this;
    }

    /** The nodes use a broker process of the mesh's own, which the test may stop and start. */
    public Mesh standaloneBroker() {
        standalone = true;
        return this;
    }

    /** The first node embeds the broker, also when the tests run against the machine's services. */
    public Mesh hostedBroker() {
        hosted = true;
        return this;
    }

    /** The mesh's own broker ({@link #standaloneBroker()}). */
    public StandaloneBroker broker() {
        if (broker == null) {
            throw new IllegalStateException("mesh " + name + " has no standalone broker");
        }
        return broker;
    }

    public NodeProcess node(String nodeName) {
        NodeProcess node = nodes.get(nodeName);
        if (node == null) {
            throw new IllegalArgumentException("no node " + nodeName + " in mesh " + name + ": " + nodes.keySet());
        }
        return node;
    }

    public List<NodeProcess> all() {
        return List.copyOf(nodes.values());
    }

    /** The mesh's name: the topic root is {@code loom/<name>/}. */
    public String name() {
        return mesh;
    }

    /** The topic under which a node publishes its changes ({@code <this>/<kind>/<type>}). */
    public String topicOf(NodeProcess node) {
        return "loom/" + mesh + "/changes/" + node.nodeId();
    }

    public String brokerHost() {
        return standalone || hosted ? "127.0.0.1" : Infra.brokerHost();
    }

    /** The broker's port: Mosquitto's, or the one the first node embeds its broker on (chosen at start). */
    public int brokerPort() {
        return brokerPort;
    }

    @Override
    public void beforeAll(ExtensionContext context) {
        startedForClass = true;
        start();
    }

    @Override
    public void beforeEach(ExtensionContext context) {
        if (!startedForClass) {
            start();
        }
    }

    @Override
    public void afterEach(ExtensionContext context) {
        if (context.getExecutionException().isPresent()) {
            for (NodeProcess node : nodes.values()) {
                System.out.printf(
                        "%n--- log of node %s after %s ---%n%s%n",
                        node.nodeId(), context.getDisplayName(), node.logTail());
            }
        }
        if (!startedForClass) {
            stop();
        }
    }

    @Override
    public void afterAll(ExtensionContext context) {
        if (startedForClass) {
            stop();
        }
    }

    private void start() {
        String suffix = Infra.suffix();
        mesh = name + "-" + suffix;
        Path root = Infra.workDir(name);
        try {
            if (standalone) {
                broker = new StandaloneBroker(root.resolve("broker-" + suffix)).start();
                brokerPort = broker.port();
            } else {
                brokerPort = hosted ? Infra.freePort() : Infra.brokerPort();
            }
            for (String nodeName : names) {
                boolean first = nodes.isEmpty();
                boolean embedsBroker = first && !standalone && (hosted || !Infra.external());
                NodeProcess node = NodeProcess.create(
                        root, nodeName + "-" + suffix, mesh, brokerHost(), brokerPort(), embedsBroker);
                everyNode.forEach(node::with);
                perNode.getOrDefault(nodeName, Map.of()).forEach(node::with);
                nodes.put(nodeName, node);
                brokerNode = embedsBroker ? node : brokerNode;
            }
            if (!unstarted) {
                startAll();
            }
        } catch (IOException | InterruptedException | RuntimeException e) {
            stop();
            throw new IllegalStateException("mesh " + name + " did not start: " + e.getMessage(), e);
        }
    }

    /**
     * Starts every node of the mesh side by side, with the settings given so far (an {@link #unstarted()}
     * mesh's test may give each its own first), and waits until all are ready. When the first node hosts
     * the broker, the others start once its broker listens.
     */
    public void startAll() {
        for (NodeProcess node : nodes.values()) {
            node.start();
            if (node == brokerNode) {
                awaitBroker(node);
            }
        }
        nodes.values().forEach(NodeProcess::awaitReady);
    }

    /**
     * Waits until the first node's embedded broker listens (it starts before the node's Quarkus does),
     * so that the other nodes start side by side with the rest of its start instead of after it.
     */
    private void awaitBroker(NodeProcess node) {
        await("the embedded broker of " + node.nodeId() + " listening on " + brokerPort)
                .atMost(Duration.ofSeconds(90))
                .pollInterval(Duration.ofMillis(100))
                .until(() -> {
                    node.requireAlive();
                    try (Socket ignored = new Socket(brokerHost(), brokerPort)) {
                        return true;
                    } catch (IOException notYet) {
                        return false;
                    }
                });
    }

    /**
     * Starts one more node into the running mesh (a late joiner) with the mesh's settings and its own,
     * and returns it without waiting for it to be ready; {@code jvmOptions} for its JVM (a heap size, say).
     */
    public NodeProcess join(String nodeName, String... jvmOptions) {
        NodeProcess node = NodeProcess.create(
                Infra.workDir(name),
                nodeName + "-" + mesh.substring(name.length() + 1),
                mesh,
                brokerHost(),
                brokerPort(),
                false);
        everyNode.forEach(node::with);
        perNode.getOrDefault(nodeName, Map.of()).forEach(node::with);
        for (String option : jvmOptions) {
            node.jvmArg(option);
        }
        nodes.put(nodeName, node);
        return node.start();
    }

    private void stop() {
        List<NodeProcess> reverse = new ArrayList<>(nodes.values());
        java.util.Collections.reverse(reverse);
        reverse.forEach(NodeProcess::close);
        nodes.clear();
        brokerNode = null;
        if (broker != null) {
            try {
                broker.close();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            broker = null;
        }
    }
}
