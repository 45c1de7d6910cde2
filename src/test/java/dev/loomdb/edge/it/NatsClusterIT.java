package dev.loomdb.edge.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import io.restassured.path.json.JsonPath;
import io.restassured.response.Response;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A mesh on a three-server NATS cluster (JetStream replicas 3, each server's MQTT gateway): nodes on
 * different servers sync, and one server killed with SIGKILL in the middle of a stream of thousands of
 * changes each way loses nothing — the node on it moves to the next server and its persistent session
 * (kept by the cluster) follows it. NATS 2.9 does not always deliver every QoS 1 message it acknowledged
 * across such a kill (now and then a few dozen changes of the stream never reach the other node, see
 * docs/operations.md), and anti-entropy is what brings them. So the periodic rounds are off, the broker
 * path gets its chance first (what it did not bring is printed: the broker's loss), then each node asks
 * a round of anti-entropy of the other, as rounds would come on their schedule, and after them both
 * graphs are whole and equal, with nothing rejected or parked. Needs nats-server; not part of the
 * default suite (.ci/run runs it with the NATS tests:
 * {@code mvn verify -Dloom.it.infra=external -Dit.test=NatsClusterIT}).
 */
class NatsClusterIT {

    private static final int CHANGES = 3000;
    private static final Duration SYNC = Duration.ofMinutes(2);
    /** Longer than the MQTT gateway's ack wait (30 s), after which it delivers again what was not acknowledged. */
    private static final Duration BROKER_PATH = Duration.ofSeconds(75);

    private final Path root = Infra.workDir("nats-cluster");
    private final String mesh = "natscluster-" + Infra.suffix();
    private final List<AutoCloseable> started = new ArrayList<>();

    @AfterEach
    void stop() throws Exception {
        for (int i = started.size() - 1; i >= 0; i--) {
            started.get(i).close();
        }
    }

    private NodeProcess node(String name, String servers) {
        NodeProcess node = NodeProcess.create(root, name + "-" + Infra.suffix(), mesh, "127.0.0.1", 1, false)
                .with("loom.mqtt.servers", servers)
                .with("loom.sync.anti-entropy.interval", "0");
        started.add(node);
        return node.start().awaitReady();
    }

    @Test
    void aServerKilledMidStreamLosesNothing() throws Exception {
        NatsCluster cluster = new NatsCluster(root.resolve("cluster"));
        started.add(cluster.start());
        NodeProcess a = node("a", cluster.servers(0));
        NodeProcess b = node("b", cluster.servers(1));
        assertEquals("127.0.0.1:" + cluster.mqttPort(0), broker(a));
        assertEquals("127.0.0.1:" + cluster.mqttPort(1), broker(b));

        CompletableFuture<Void> fromA = CompletableFuture.runAsync(() -> write(a, "a"));
        CompletableFuture<Void> fromB = CompletableFuture.runAsync(() -> write(b, "b"));
        await("a third of the stream through").atMost(SYNC).until(() -> count(b, "a") >= CHANGES / 3);
        cluster.kill(0); // a's server, mid-stream
        fromA.get(3, TimeUnit.MINUTES);
        fromB.get(3, TimeUnit.MINUTES);

        try {
            await("every change on both nodes through the broker")
                    .atMost(BROKER_PATH)
                    .pollInterval(Duration.ofMillis(500))
                    .until(() -> whole(a, b));
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            // NATS 2.9 dropped some in the failover: anti-entropy must bring them (below)
        }
        String lost = "the broker did not bring " + missing(b, "a") + " of a's " + CHANGES + " changes to b, "
                + missing(a, "b") + " of b's to a";
        JsonPath askedByA = round(a, b);
        JsonPath askedByB = round(b, a);
        System.out.printf(
                "NatsClusterIT: %s; a round of anti-entropy asked by a: %d rows received, %d sent; by b: %d, %d%n",
                lost,
                askedByA.getLong("rowsReceived"),
                askedByA.getLong("rowsSent"),
                askedByB.getLong("rowsReceived"),
                askedByB.getLong("rowsSent"));
        try {
            await("every change on both nodes after a round of anti-entropy each way")
                    .atMost(SYNC)
                    .pollInterval(Duration.ofMillis(500))
                    .until(() -> whole(a, b));
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            throw new AssertionError(
                    lost + "; after a round of anti-entropy each way b still lacks " + missing(b, "a") + " and a "
                            + missing(a, "b") + "\n" + warnings(a) + warnings(b) + cluster.logs(),
                    e);
        }
        for (NodeProcess node : List.of(a, b)) {
            JsonPath status = node.api().get("/api/sync/status").jsonPath();
            assertEquals(
                    0,
                    status.getLong("counters.rejected"),
                    () -> node.nodeId() + " rejected messages:\n" + warnings(node));
            assertEquals(
                    0, status.getLong("counters.parked"), () -> node.nodeId() + " parked messages:\n" + warnings(node));
        }
        assertNotEquals("127.0.0.1:" + cluster.mqttPort(0), broker(a), "a moved off the killed server");
        await("identical graphs").atMost(SYNC).until(() -> digest(a).equals(digest(b)));
    }

    /** CHANGES transactions on the node's own database, each an insert then an update of the same row. */
    private static void write(NodeProcess node, String prefix) {
        try (Connection sql = node.sql();
                PreparedStatement insert = sql.prepareStatement(
                        "INSERT INTO loom.nodes (id, type, properties) VALUES (?, 'Stream', '{\"n\": 0}')");
                PreparedStatement update =
                        sql.prepareStatement("UPDATE loom.nodes SET properties = '{\"n\": 1}' WHERE id = ?")) {
            for (int i = 0; i < CHANGES; i++) {
                insert.setString(1, prefix + "-" + i);
                insert.execute();
                if (i % 10 == 0) {
                    update.setString(1, prefix + "-" + (i / 2));
                    update.execute();
                }
                if (i % 100 == 99) {
                    Thread.sleep(100); // about 1,000 changes a second: the stream lasts past the kill
                }
            }
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** Whether each node has every row of the other's stream. */
    private static boolean whole(NodeProcess a, NodeProcess b) throws Exception {
        return count(b, "a") == CHANGES && count(a, "b") == CHANGES;
    }

    /** The live rows of the stream {@code prefix} wrote: {@code FROM ... WHERE ...}. */
    private static String streamRows(String prefix) {
        return " FROM loom.nodes WHERE type = 'Stream' AND id LIKE '" + prefix + "-%' AND NOT tombstone";
    }

    private static long count(NodeProcess node, String prefix) throws Exception {
        try (Connection sql = node.sql();
                Statement s = sql.createStatement();
                ResultSet rs = s.executeQuery("SELECT count(*)" + streamRows(prefix))) {
            rs.next();
            return rs.getLong(1);
        }
    }

    /**
     * A round of anti-entropy that {@code node} asks of {@code peer} (POST /api/sync/anti-entropy), as it
     * answered; asked again while the node does not see the peer online yet (409: presence after a failover).
     */
    private static JsonPath round(NodeProcess node, NodeProcess peer) {
        AtomicReference<Response> answer = new AtomicReference<>();
        await("a round of anti-entropy by " + node.nodeId() + " with " + peer.nodeId())
                .atMost(SYNC)
                .pollInterval(Duration.ofSeconds(1))
                .until(() -> {
                    answer.set(node.api().queryParam("peer", peer.nodeId()).post("/api/sync/anti-entropy"));
                    return answer.get().statusCode() != 409;
                });
        assertEquals(200, answer.get().statusCode(), answer.get().asString());
        return answer.get().jsonPath();
    }

    /** The ids of the stream {@code prefix} wrote that {@code node} lacks: how many, and their numbers as ranges. */
    private static String missing(NodeProcess node, String prefix) throws Exception {
        boolean[] present = new boolean[CHANGES];
        try (Connection sql = node.sql();
                Statement s = sql.createStatement();
                ResultSet rs = s.executeQuery("SELECT id" + streamRows(prefix))) {
            while (rs.next()) {
                present[Integer.parseInt(rs.getString(1).substring(prefix.length() + 1))] = true;
            }
        }
        List<String> ranges = new ArrayList<>();
        int count = 0;
        for (int i = 0; i < CHANGES; i++) {
            if (!present[i]) {
                int start = i;
                while (i + 1 < CHANGES && !present[i + 1]) {
                    i++;
                }
                count += i - start + 1;
                ranges.add(start == i ? String.valueOf(start) : start + "-" + i);
            }
        }
        return count == 0 ? "0" : count + " " + ranges;
    }

    /** The node's warnings and errors, for a failure's message. */
    private static String warnings(NodeProcess node) {
        StringBuilder out = new StringBuilder("--- ").append(node.nodeId()).append('\n');
        node.log()
                .lines()
                .filter(l -> l.contains(" WARN ") || l.contains(" ERROR "))
                .limit(80)
                .forEach(l -> out.append(l).append('\n'));
        return out.toString();
    }

    private static String broker(NodeProcess node) {
        return node.api().get("/api/sync/status").jsonPath().getString("broker");
    }

    private static String digest(NodeProcess node) {
        return node.api().get("/api/sync/digest").jsonPath().getString("sha256");
    }
}
