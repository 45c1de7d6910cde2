package dev.loomdb.edge.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.restassured.path.json.JsonPath;
import io.restassured.response.Response;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Selective sync on real nodes: a node that follows one node type of ten receives those rows, all of
 * them, none of the others, and about a tenth of the bytes; types a node keeps to itself never leave
 * it; a late joiner's bootstrap and anti-entropy keep to what it follows; following more types later
 * fetches their rows.
 */
class SelectiveSyncIT {

    private static final int PER_TYPE = 100;
    private static final Duration SYNC = Duration.ofSeconds(60);

    @RegisterExtension
    final Mesh mesh = Mesh.named("selective")
            .nodes("a", "b", "s")
            .with("loom.sync.anti-entropy.interval", "10m")
            .with("loom.sync.bootstrap.page-size", "50")
            .with("a", "loom.sync.publish.node-types", "T0,T1,T2,T3,T4,T5,T6,T7,T8,T9")
            .with("s", "loom.sync.node-types", "T3")
            .with("s", "loom.sync.edge-types", "-")
            .with("j", "loom.sync.node-types", "T3")
            .with("j", "loom.sync.edge-types", "-");

    /** Rows of each node type (and edges) on a node, by type. */
    private static Map<String, Integer> types(NodeProcess node) throws Exception {
        Map<String, Integer> counts = new TreeMap<>();
        try (Connection sql = node.sql();
                Statement statement = sql.createStatement();
                ResultSet rows = statement.executeQuery("SELECT type, count(*) FROM loom.nodes WHERE NOT tombstone"
                        + " GROUP BY type UNION ALL SELECT 'edge ' || type, count(*) FROM loom.edges GROUP BY type")) {
            while (rows.next()) {
                counts.put(rows.getString(1), rows.getInt(2));
            }
        }
        return counts;
    }

    /** Transactions on {@code a} that each write one node of every type T0..T9 (and a private one). */
    private static void writeTenTypes(NodeProcess a, String prefix) throws Exception {
        try (Connection sql = a.sql();
                Statement statement = sql.createStatement()) {
            for (int i = 0; i < PER_TYPE; i++) {
                statement.execute("INSERT INTO loom.nodes (id, type, properties) SELECT '" + prefix + i
                        + "-' || t, 'T' || t, jsonb_build_object('i', " + i
                        + ", 'text', repeat('x', 100)) FROM generate_series(0, 9) t");
            }
            statement.execute("INSERT INTO loom.nodes (id, type) SELECT '" + prefix + "private-' || g, 'PRIVATE'"
                    + " FROM generate_series(1, 20) g");
            statement.execute("INSERT INTO loom.edges (id, type, source_id, target_id) SELECT '" + prefix
                    + "e' || g, 'LINK', '" + prefix + "' || g || '-3', '" + prefix + "' || g || '-4'"
                    + " FROM generate_series(0, 9) g");
        }
    }

    private static long counter(NodeProcess node, String name) {
        return node.api().get("/api/sync/status").jsonPath().getLong("counters." + name);
    }

    @Test
    void aNodeThatFollowsOneTypeOfTenHoldsExactlyThoseAndReceivesATenthOfTheBytes() throws Exception {
        NodeProcess a = mesh.node("a");
        NodeProcess b = mesh.node("b");
        NodeProcess s = mesh.node("s");
        JsonPath status = s.api().get("/api/sync/status").jsonPath();
        assertEquals(
                java.util.List.of("loom/" + mesh.name() + "/changes/+/node/T3"),
                status.getList("subscriptions").stream()
                        .filter(f -> f.toString().contains("/changes/"))
                        .toList(),
                "the broker filters: s subscribes to its one type");
        long bBefore = counter(b, "receivedBytes");
        long sBefore = counter(s, "receivedBytes");

        writeTenTypes(a, "n");
        Map<String, Integer> everything = new TreeMap<>();
        for (int t = 0; t < 10; t++) {
            everything.put("T" + t, PER_TYPE);
        }
        everything.put("edge LINK", 10);
        await("b holds every published type").atMost(SYNC).until(() -> types(b).equals(everything));
        await("s holds T3, all of it").atMost(SYNC).until(() -> types(s).equals(Map.of("T3", PER_TYPE)));
        assertEquals(20, types(a).get("PRIVATE"), "a keeps its private rows");

        double ratio = (double) (counter(s, "receivedBytes") - sBefore) / (counter(b, "receivedBytes") - bBefore);
        System.out.printf("selective sync: s received %.3f of the bytes b received%n", ratio);
        assertTrue(
                ratio > 0.05 && ratio < 0.15, "following 1 type of 10 receives about a tenth of the bytes: " + ratio);

        // a row s lost without a trace comes back by anti-entropy, which sends s nothing else
        try (Connection sql = s.sql();
                Statement statement = sql.createStatement()) {
            statement.execute("BEGIN; SET LOCAL loom.purge = 'on'; DELETE FROM loom.nodes WHERE id = 'n7-3'; COMMIT");
        }
        a.api()
                .body("{\"type\":\"T3\"}")
                .put("/api/nodes/after-the-loss")
                .then()
                .statusCode(201);
        await().atMost(SYNC)
                .until(() -> s.api().get("/api/nodes/after-the-loss").statusCode() == 200);
        Response round = s.api().post("/api/sync/anti-entropy?peer=" + b.nodeId());
        assertEquals(200, round.statusCode(), round.asString());
        assertEquals(1, round.jsonPath().getInt("rowsChanged"), round.asString());
        assertEquals(java.util.List.of("T3"), round.jsonPath().getList("scope.node"), round.asString());
        assertEquals(200, s.api().get("/api/nodes/n7-3").statusCode());
        assertEquals(Map.of("T3", PER_TYPE + 1), types(s), "anti-entropy brought nothing s does not follow");
    }

    @Test
    void aLateJoinerTakesOnlyWhatItFollowsAndFetchesTypesItFollowsLater() throws Exception {
        NodeProcess a = mesh.node("a");
        NodeProcess b = mesh.node("b");
        writeTenTypes(a, "m");
        await().atMost(SYNC).until(() -> types(b).getOrDefault("T9", 0) == PER_TYPE);

        NodeProcess j = mesh.join("j").awaitReady();
        JsonPath status = j.api().get("/api/sync/status").jsonPath();
        assertEquals("completed", status.getString("stateSync.bootstrap.state"));
        assertEquals(Map.of("T3", PER_TYPE), types(j), "the bootstrap took T3 only");
        assertTrue(
                status.getLong("counters.repairReceivedBytes") < 100_000,
                "a tenth of the graph's bytes: " + status.getLong("counters.repairReceivedBytes"));

        j.stop();
        j.with("loom.sync.node-types", "T3,T4").with("loom.sync.edge-types", "*");
        j.start().awaitReady();
        assertTrue(j.log().contains("now follows"), j.logTail());
        await("j fetched what it follows now")
                .atMost(SYNC)
                .until(() -> types(j).equals(Map.of("T3", PER_TYPE, "T4", PER_TYPE, "edge LINK", 10)));
        JsonPath after = j.api().get("/api/sync/status").jsonPath();
        assertEquals(
                java.util.List.of(
                        "loom/" + mesh.name() + "/changes/+/node/T3",
                        "loom/" + mesh.name() + "/changes/+/node/T4",
                        "loom/" + mesh.name() + "/changes/+/edge/+"),
                after.getList("subscriptions").stream()
                        .filter(f -> f.toString().contains("/changes/"))
                        .toList());

        // live: j now receives T4 as well, and still not T5
        a.api().body("{\"type\":\"T4\"}").put("/api/nodes/new-four").then().statusCode(201);
        a.api().body("{\"type\":\"T5\"}").put("/api/nodes/new-five").then().statusCode(201);
        await().atMost(SYNC).until(() -> j.api().get("/api/nodes/new-four").statusCode() == 200);
        await().atMost(SYNC).until(() -> b.api().get("/api/nodes/new-five").statusCode() == 200);
        assertEquals(404, j.api().get("/api/nodes/new-five").statusCode());
    }
}
