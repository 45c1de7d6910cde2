package dev.loomdb.edge.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * loom.mqtt.servers: nodes given two broker servers connect to the first that answers and move on to the
 * next when it is lost; a node whose first server is down starts on the second. The two servers here are
 * separate brokers (Mosquitto processes against the machine's services, nodes hosting the embedded broker
 * in the default), as a cluster's servers would be to a client; what one queued for a node is mended by
 * anti-entropy after the move.
 */
class BrokerFailoverIT {

    private static final Duration SYNC = Duration.ofSeconds(60);

    private final Path root = Infra.workDir("failover");
    private final String mesh = "failover-" + Infra.suffix();
    private final List<AutoCloseable> started = new ArrayList<>();

    @AfterEach
    void stop() throws Exception {
        for (int i = started.size() - 1; i >= 0; i--) {
            started.get(i).close();
        }
    }

    private NodeProcess node(String name, String servers) throws Exception {
        NodeProcess node = NodeProcess.create(root, name + "-" + Infra.suffix(), mesh, "127.0.0.1", 1, false)
                .with("loom.mqtt.servers", servers)
                .with("loom.sync.anti-entropy.interval", "5s");
        started.add(node);
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
    void nodesMoveToTheNextServerWhenTheirsIsLostAndStartOnOneThatAnswers() throws Exception {
        StandaloneBroker first = new StandaloneBroker(root.resolve("broker-1"));
        StandaloneBroker second = new StandaloneBroker(root.resolve("broker-2"));
        started.add(second.start());
        started.add(first.start());
        String servers = "127.0.0.1:" + first.port() + ",tcp://127.0.0.1:" + second.port();
        NodeProcess a = node("a", servers);
        NodeProcess b = node("b", servers);
        assertEquals(
                "127.0.0.1:" + first.port(),
                a.api().get("/api/sync/status").jsonPath().getString("broker"));

        put(a, "on-first");
        await().atMost(SYNC).until(() -> b.api().get("/api/nodes/on-first").statusCode() == 200);

        first.close();
        await("both nodes on the second server")
                .atMost(SYNC)
                .until(() -> List.of(a, b).stream()
                        .allMatch(
                                n -> n.api().get("/api/sync/status").jsonPath().getBoolean("brokerConnected")
                                        && n.api()
                                                .get("/api/sync/status")
                                                .jsonPath()
                                                .getString("broker")
                                                .equals("127.0.0.1:" + second.port())));
        put(a, "on-second");
        await().atMost(SYNC).until(() -> b.api().get("/api/nodes/on-second").statusCode() == 200);
        assertTrue(a.log().contains("reconnecting to 127.0.0.1:" + second.port()), a.logTail());

        // a node whose first server is down starts on the next
        NodeProcess c = node("c", "127.0.0.1:" + Infra.freePort() + ",127.0.0.1:" + second.port());
        assertEquals(
                "127.0.0.1:" + second.port(),
                c.api().get("/api/sync/status").jsonPath().getString("broker"));
        put(c, "from-c");
        await().atMost(SYNC).until(() -> a.api().get("/api/nodes/from-c").statusCode() == 200);
        await().atMost(SYNC).until(() -> c.api().get("/api/nodes/on-second").statusCode() == 200);
    }
}
