package dev.loomdb.edge.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The device profiles of {@code edge-configs/}, each selected with one setting
 * ({@code quarkus.config.locations}): a node started with each syncs a change both ways with a plain
 * node, and what a profile sets shows (the small board's tight batch limit, the hub's change history).
 * The test's own addresses (database, broker, port) override the profiles' as a deployment's environment
 * would.
 */
class EdgeProfilesIT {

    private static final Duration SYNC = Duration.ofSeconds(60);

    private final Path root = Infra.workDir("profiles");
    private final String mesh = "profiles-" + Infra.suffix();
    private final List<NodeProcess> nodes = new ArrayList<>();

    @AfterEach
    void stop() {
        for (NodeProcess node : nodes) {
            node.close();
        }
    }

    private NodeProcess node(String name, int brokerPort, boolean hostBroker, String profile) throws Exception {
        NodeProcess node =
                NodeProcess.create(root, name + "-" + Infra.suffix(), mesh, "127.0.0.1", brokerPort, hostBroker);
        if (profile != null) {
            node.with(
                    "quarkus.config.locations",
                    Path.of("edge-configs", profile + ".properties")
                            .toAbsolutePath()
                            .toString());
            // the environment of this machine, over the profile's addresses
            node.with("quarkus.datasource.username", "postgres");
            if (!Infra.external()) {
                node.with("loom.embedded.postgres", "true");
            }
        }
        nodes.add(node);
        return node.start().awaitReady();
    }

    private static void put(NodeProcess node, String id) {
        node.api()
                .body("{\"type\":\"Sensor\",\"properties\":{\"at\":\"" + id + "\"}}")
                .put("/api/nodes/" + id)
                .then()
                .statusCode(201);
    }

    @Test
    void aNodeOfEachProfileSyncsBothWays() throws Exception {
        int brokerPort = Infra.brokerPort();
        NodeProcess plain = node("plain", brokerPort, !Infra.external(), null);
        for (String profile : List.of("small-board", "gateway", "cloud-hub")) {
            NodeProcess device = node(profile, brokerPort, false, profile);
            put(device, "from-" + profile);
            await(profile + " -> plain")
                    .atMost(SYNC)
                    .until(() -> plain.api().get("/api/nodes/from-" + profile).statusCode() == 200);
            put(plain, "to-" + profile);
            await("plain -> " + profile)
                    .atMost(SYNC)
                    .until(() -> device.api().get("/api/nodes/to-" + profile).statusCode() == 200);
            assertTrue(device.log().contains("Node " + device.nodeId() + " syncs mesh " + mesh), device.logTail());
        }

        // what the profiles set is in effect
        NodeProcess board = nodes.get(1);
        StringBuilder batch = new StringBuilder("{\"operations\":[");
        for (int i = 0; i < 201; i++) {
            batch.append(i == 0 ? "" : ",")
                    .append("{\"op\":\"putNode\",\"id\":\"b-")
                    .append(i)
                    .append("\",\"type\":\"T\"}");
        }
        board.api()
                .body(batch.append("]}").toString())
                .post("/api/batch")
                .then()
                .statusCode(413)
                .body("detail", org.hamcrest.Matchers.containsString("200"));
        NodeProcess hub = nodes.get(3);
        assertTrue(hub.api().get("/api/sync/status").jsonPath().getBoolean("historyEnabled"), "the hub keeps history");
    }
}
