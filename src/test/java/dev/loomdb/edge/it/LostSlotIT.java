package dev.loomdb.edge.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A replication slot dropped behind the node's back, with local writes made while it was gone: the
 * node says so, makes the slot anew and publishes those writes again, so peers get them. Anti-entropy
 * is off here, so that nothing else could bring them.
 */
class LostSlotIT {

    @RegisterExtension
    final Mesh mesh = Mesh.named("lostslot").nodes("a", "b").with("loom.sync.anti-entropy.interval", "0");

    @Test
    void aDroppedSlotIsMadeAnewAndTheWritesItMissedReachPeers() throws Exception {
        NodeProcess a = mesh.node("a");
        NodeProcess b = mesh.node("b");
        a.api()
                .body("{\"type\":\"DOC\",\"properties\":{\"v\":1}}")
                .put("/api/nodes/before")
                .then()
                .statusCode(201);
        await("b has the first write")
                .atMost(Duration.ofSeconds(30))
                .until(() -> b.api().get("/api/nodes/before").statusCode() == 200);

        a.api().post("/api/sync/stop").then().statusCode(200);
        try (Connection sql = a.sql();
                Statement statement = sql.createStatement()) {
            statement.execute("INSERT INTO loom.nodes (id, type, properties) SELECT 'gap-' || g, 'DOC', '{}'"
                    + " FROM generate_series(1, 50) g");
            statement.execute("UPDATE loom.nodes SET properties = '{\"v\":2}' WHERE id = 'before'");
            await("the slot dropped")
                    .atMost(Duration.ofSeconds(30))
                    .pollInterval(Duration.ofMillis(200))
                    .ignoreExceptions()
                    .until(() -> {
                        try (PreparedStatement drop = sql.prepareStatement("SELECT pg_drop_replication_slot(?)")) {
                            drop.setString(1, a.slot());
                            drop.execute();
                            return true;
                        }
                    });
        }
        a.api().post("/api/sync/start").then().statusCode(200);

        await("b has the writes made while the slot was gone")
                .atMost(Duration.ofSeconds(30))
                .pollInterval(Duration.ofMillis(250))
                .until(() -> b.api().get("/api/nodes/gap-50").statusCode() == 200
                        && b.api().get("/api/nodes/before").jsonPath().getInt("properties.v") == 2);
        assertEquals(
                50,
                b.api()
                                .get("/api/nodes?type=DOC&limit=1000")
                                .jsonPath()
                                .getList("items")
                                .size()
                        - 1);
        String log = a.log();
        assertTrue(log.contains("Replication slot " + a.slot() + " is missing"), a.logTail());
        assertTrue(log.contains("max_slot_wal_keep_size"), a.logTail());
        assertTrue(log.contains("published again 51 local changes"), a.logTail());
    }
}
