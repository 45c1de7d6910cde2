package dev.loomdb.edge.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Two groups of nodes on two brokers write conflicting changes to the same rows (updates on both
 * sides, deletes on one side against updates on the other), then the partition heals: the lone node
 * moves to the other group's broker, where it has no session and nobody has seen its writes. Every
 * node ends with the same graph, each row as the merge rule decides between the two sides' states.
 */
class PartitionIT {

    private static final int ROWS = 60;

    @RegisterExtension
    final Mesh mesh = Mesh.named("partition")
            .nodes("a", "b", "c")
            .standaloneBroker()
            .unstarted()
            .with("loom.sync.anti-entropy.interval", "5s");

    private StandaloneBroker otherBroker;

    @AfterEach
    void stopOtherBroker() throws Exception {
        if (otherBroker != null) {
            otherBroker.close();
        }
    }

    /** A row's state: who wins is decided by (hlc, origin) under last-write-wins. */
    private record State(long hlc, String origin, boolean tombstone, String properties) {
        boolean beats(State other) {
            return hlc != other.hlc ? hlc > other.hlc : origin.compareTo(other.origin) > 0;
        }
    }

    private static Map<String, State> states(NodeProcess node) throws Exception {
        Map<String, State> states = new HashMap<>();
        try (Connection sql = node.sql();
                Statement s = sql.createStatement();
                ResultSet rs = s.executeQuery(
                        "SELECT id, hlc, origin, tombstone, properties::text FROM loom.nodes WHERE id LIKE 'shared-%'")) {
            while (rs.next()) {
                states.put(
                        rs.getString(1), new State(rs.getLong(2), rs.getString(3), rs.getBoolean(4), rs.getString(5)));
            }
        }
        return states;
    }

    private static String digest(NodeProcess node) {
        return node.api().get("/api/sync/digest").jsonPath().getString("sha256");
    }

    private static void write(NodeProcess node, String side, int from, int to) {
        for (int i = from; i <= to; i++) {
            node.api()
                    .body("{\"type\":\"T\",\"properties\":{\"side\":\"" + side + "\",\"n\":" + i + "}}")
                    .put("/api/nodes/shared-" + i)
                    .then()
                    .statusCode(org.hamcrest.Matchers.anyOf(
                            org.hamcrest.Matchers.equalTo(200), org.hamcrest.Matchers.equalTo(201)));
        }
    }

    private static void delete(NodeProcess node, int from, int to) {
        for (int i = from; i <= to; i++) {
            node.api().delete("/api/nodes/shared-" + i).then().statusCode(204);
        }
    }

    @Test
    void twoGroupsThatWroteConflictingChangesConvergeOnceHealed() throws Exception {
        otherBroker = new StandaloneBroker(Infra.workDir("partition").resolve("broker-2-" + mesh.name())).start();
        NodeProcess a = mesh.node("a");
        NodeProcess b = mesh.node("b");
        NodeProcess c = mesh.node("c").with("loom.mqtt.port", Integer.toString(otherBroker.port()));
        mesh.startAll();

        // interleaved, so that each side wins some rows
        write(a, "ab", 1, ROWS);
        write(c, "c", 1, ROWS);
        write(b, "ab-later", 1, ROWS / 2);
        delete(c, 1, 10); // deletes on c against updates on a and b
        delete(a, ROWS - 9, ROWS); // deletes on a against c's updates
        write(c, "c-later", ROWS / 2 - 5, ROWS / 2 + 5);
        await("b holds group 1's writes")
                .atMost(Duration.ofSeconds(20))
                .until(() -> digest(a).equals(digest(b)));

        Map<String, State> group1 = states(a);
        Map<String, State> group2 = states(c);
        Map<String, State> expected = new HashMap<>();
        for (int i = 1; i <= ROWS; i++) {
            State one = group1.get("shared-" + i);
            State two = group2.get("shared-" + i);
            expected.put("shared-" + i, one.beats(two) ? one : two);
        }
        long fromEach = expected.values().stream().map(State::origin).distinct().count();
        assertTrue(fromEach >= 2, "both groups win some rows: " + expected);

        c.stop();
        c.with("loom.mqtt.port", Integer.toString(mesh.brokerPort())).start().awaitReady();

        List<NodeProcess> all = List.of(a, b, c);
        await("the same graph on a, b and c")
                .atMost(Duration.ofSeconds(90))
                .pollInterval(Duration.ofMillis(500))
                .until(() -> all.stream()
                                .map(PartitionIT::digest)
                                .collect(Collectors.toSet())
                                .size()
                        == 1);
        for (NodeProcess node : all) {
            Map<String, State> now = states(node);
            for (Map.Entry<String, State> row : expected.entrySet()) {
                State got = now.get(row.getKey());
                assertEquals(row.getValue().hlc(), got.hlc(), node.nodeId() + " " + row.getKey());
                assertEquals(row.getValue().tombstone(), got.tombstone(), node.nodeId() + " " + row.getKey());
                assertEquals(row.getValue().properties(), got.properties(), node.nodeId() + " " + row.getKey());
            }
        }
    }
}
