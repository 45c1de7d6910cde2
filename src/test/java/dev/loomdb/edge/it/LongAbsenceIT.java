package dev.loomdb.edge.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A node back after longer than the tombstone retention rebuilds from its peers: a row deleted
 * elsewhere whose tombstone is purged meanwhile does not come back, on it or on the peers; what the
 * peers wrote while it was away (now older than the retention too) reaches it; what it wrote while
 * away reaches the peers. B is away with its sync stopped, then restarted. The retention here is
 * 20 s so that the test can outlast it.
 */
class LongAbsenceIT {

    private static final Duration RETENTION = Duration.ofSeconds(20);

    @RegisterExtension
    final Mesh mesh = Mesh.named("long-absence")
            .nodes("a", "b")
            .with("loom.tombstone.retention", RETENTION.getSeconds() + "s")
            .with("loom.tombstone.purge-interval", "1s");

    private static long rows(NodeProcess node, String where) throws Exception {
        try (Connection sql = node.sql();
                Statement s = sql.createStatement();
                ResultSet rs = s.executeQuery("SELECT count(*) FROM loom.nodes WHERE " + where)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static void put(NodeProcess node, String id) {
        node.api()
                .body("{\"type\":\"T\",\"properties\":{\"n\":1}}")
                .put("/api/nodes/" + id)
                .then()
                .statusCode(201);
    }

    private static String digest(NodeProcess node) {
        return node.api().get("/api/sync/digest").jsonPath().getString("sha256");
    }

    @Test
    void aNodeBackAfterTheRetentionDropsWhatPeersDeletedAndPurgedAndKeepsEverythingElse() throws Exception {
        NodeProcess a = mesh.node("a");
        NodeProcess b = mesh.node("b");
        put(a, "deleted-while-away");
        put(a, "kept");
        await().atMost(Duration.ofSeconds(20)).until(() -> rows(b, "id IN ('deleted-while-away', 'kept')") == 2);

        b.api().post("/api/sync/stop").then().statusCode(200); // B is away from the mesh from here
        a.api().delete("/api/nodes/deleted-while-away").then().statusCode(204);
        put(a, "written-while-away");
        await("A purges the tombstone after the retention")
                .atMost(RETENTION.multipliedBy(3))
                .until(() -> rows(a, "id = 'deleted-while-away'") == 0);
        await("what A wrote after B left is older than the retention (so B was away longer)")
                .atMost(RETENTION.multipliedBy(3))
                .until(() -> rows(
                                a,
                                "id = 'written-while-away' AND hlc < ((extract(epoch FROM clock_timestamp()) * 1000)::bigint"
                                        + " - " + RETENTION.toMillis() + ") << 16")
                        == 1);

        put(b, "b-wrote-while-away"); // captured once B syncs again; newer than the retention horizon
        b.stop();
        b.start().awaitReady(); // B reads how long it was away, and rebuilds
        await("the same graph on A and B")
                .atMost(Duration.ofSeconds(60))
                .pollInterval(Duration.ofMillis(500))
                .until(() -> digest(a).equals(digest(b))
                        && !b.api().get("/api/sync/status").jsonPath().getBoolean("stateSync.rebuild.active"));

        assertEquals(0, rows(b, "id = 'deleted-while-away'"), "B dropped the row A deleted and purged");
        assertEquals(0, rows(a, "id = 'deleted-while-away'"), "and did not send it back to A");
        assertEquals(1, rows(b, "id = 'written-while-away' AND NOT tombstone"), "what A wrote meanwhile is on B");
        assertEquals(1, rows(a, "id = 'b-wrote-while-away' AND NOT tombstone"), "what B wrote meanwhile is on A");
        assertEquals(1, rows(b, "id = 'kept' AND NOT tombstone"));
        assertTrue(
                b.api().get("/api/sync/status").jsonPath().getLong("stateSync.rebuild.droppedRows") >= 1,
                "the status counts the dropped row");
        assertTrue(b.log().contains("longer than loom.tombstone.retention"), "B says why it rebuilds");
    }
}
