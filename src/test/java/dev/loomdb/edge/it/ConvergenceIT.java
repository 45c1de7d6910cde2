package dev.loomdb.edge.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Three nodes write conflicting changes to the same few nodes and edges at the same time (property
 * writes, merges, deletes, re-creates, edges), while every message is also delivered again later,
 * out of order; in the end every node holds the same graph.
 */
class ConvergenceIT {

    private static final int OPERATIONS_PER_NODE = 150;
    /** Nodes (type FACT) merge property by property; edges go by last-write-wins. */
    @RegisterExtension
    final Mesh meshOfThree = Mesh.named("converge").nodes("n1", "n2", "n3").with("loom.conflict.types.FACT", "merge");

    private List<NodeProcess> nodes;
    private MqttProbe observer;
    private MqttProbe injector;
    private String mesh;

    @BeforeEach
    void start() throws Exception {
        nodes = meshOfThree.all();
        mesh = meshOfThree.name();
        observer = new MqttProbe(meshOfThree.brokerHost(), meshOfThree.brokerPort(), "loom/" + mesh + "/changes/#");
        injector = new MqttProbe(meshOfThree.brokerHost(), meshOfThree.brokerPort(), null);
    }

    @AfterEach
    void stop() {
        if (observer != null) {
            observer.close();
        }
        if (injector != null) {
            injector.close();
        }
    }

    private static void randomOperation(NodeProcess node, Random random) {
        String id = "n" + random.nextInt(6);
        int value = random.nextInt(1000);
        switch (random.nextInt(6)) {
            case 0, 1 ->
                node.api()
                        .body("{\"type\":\"FACT\",\"properties\":{\"v\":" + value + ",\"by\":\"" + node.nodeId()
                                + "\"}}")
                        .put("/api/nodes/" + id);
            case 2 ->
                node.api()
                        .body("{\"properties\":{\"p" + random.nextInt(3) + "\":" + value + "}}")
                        .patch("/api/nodes/" + id);
            case 3 -> node.api().delete("/api/nodes/" + id);
            case 4 ->
                node.api()
                        .body("{\"type\":\"LINK\",\"source\":\"" + id + "\",\"target\":\"n" + random.nextInt(6)
                                + "\",\"properties\":{\"w\":" + value + "}}")
                        .put("/api/edges/e" + random.nextInt(4));
            default -> node.api().delete("/api/edges/e" + random.nextInt(4));
        }
    }

    private Set<String> digests() {
        return nodes.stream()
                .map(n -> n.api().get("/api/sync/digest").jsonPath().getString("sha256"))
                .collect(Collectors.toSet());
    }

    @Test
    void concurrentConflictingWritesWithDuplicatedAndReorderedDeliveryConverge() throws Exception {
        long seed = System.nanoTime();
        List<CompletableFuture<Void>> writers = new ArrayList<>();
        for (int i = 0; i < nodes.size(); i++) {
            NodeProcess node = nodes.get(i);
            Random random = new Random(seed + i);
            writers.add(CompletableFuture.runAsync(() -> {
                for (int op = 0; op < OPERATIONS_PER_NODE; op++) {
                    randomOperation(node, random);
                }
            }));
        }
        Random replay = new Random(seed);
        int replayed = 0;
        while (!writers.stream().allMatch(CompletableFuture::isDone)) {
            List<MqttProbe.Message> seen = observer.distinctMessages();
            if (!seen.isEmpty() && replayed < 2 * OPERATIONS_PER_NODE) { // a delayed duplicate, out of order
                MqttProbe.Message old = seen.get(replay.nextInt(seen.size()));
                injector.publish(old.topic(), old.payload());
                replayed++;
            }
        }
        CompletableFuture.allOf(writers.toArray(CompletableFuture[]::new)).join();
        List<MqttProbe.Message> all = new ArrayList<>(observer.distinctMessages());
        Collections.shuffle(all, replay);
        for (MqttProbe.Message message : all) {
            injector.publish(message.topic(), message.payload());
        }
        replayed += all.size();

        await("the same graph on all three nodes (seed " + seed + ")")
                .atMost(Duration.ofSeconds(180))
                .pollInterval(Duration.ofMillis(500))
                .until(() -> digests().size() == 1);
        String graphOnFirst = nodes.get(0).api().get("/api/nodes?limit=1000").asString();
        for (NodeProcess node : nodes) {
            assertEquals(graphOnFirst, node.api().get("/api/nodes?limit=1000").asString());
            assertEquals(0, node.api().get("/api/sync/status").jsonPath().getLong("counters.rejected"));
        }
        assertTrue(replayed > 0);
    }
}
