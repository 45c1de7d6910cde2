package dev.loomdb.edge.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A replication slot dropped behind the node's back, or dropped and created again, with local writes
 * made while it was gone: the node says so, makes the slot anew where it is missing, and publishes
 * those writes again, so peers get them. A plain stop and start is not taken for either. Anti-entropy
 * is off here, so that nothing else could bring them.
 */
class LostSlotIT {

    @RegisterExtension
    final Mesh mesh = Mesh.named("lostslot").nodes("a", "b").with("loom.sync.anti-entropy.interval", "0");

    @Test
    void aDroppedOrRecreatedSlotIsFoundAndTheWritesItMissedReachPeers() throws Exception {
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
                    .until(() -> dropSlot(sql, a));
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

        // a plain stop and start, with a write while stopped: the slot is the one this node confirmed
        a.api().post("/api/sync/stop").then().statusCode(200);
        try (Connection sql = a.sql();
                Statement statement = sql.createStatement()) {
            statement.execute("INSERT INTO loom.nodes (id, type, properties) VALUES ('plain', 'DOC', '{}')");
        }
        a.api().post("/api/sync/start").then().statusCode(200);
        await("b has the write made while a was stopped")
                .atMost(Duration.ofSeconds(30))
                .until(() -> b.api().get("/api/nodes/plain").statusCode() == 200);
        assertFalse(a.log().contains("made anew or moved"), a.logTail());

        // dropped and created again while a is stopped: the slot is there, but starts after the writes
        a.api().post("/api/sync/stop").then().statusCode(200);
        try (Connection sql = a.sql();
                Statement statement = sql.createStatement()) {
            statement.execute("INSERT INTO loom.nodes (id, type, properties) SELECT 'again-' || g, 'DOC', '{}'"
                    + " FROM generate_series(1, 20) g");
            await("the slot dropped")
                    .atMost(Duration.ofSeconds(30))
                    .pollInterval(Duration.ofMillis(200))
                    .ignoreExceptions()
                    .until(() -> dropSlot(sql, a));
            try (PreparedStatement create =
                    sql.prepareStatement("SELECT pg_create_logical_replication_slot(?, 'pgoutput')")) {
                create.setString(1, a.slot());
                create.execute();
            }
        }
        a.api().post("/api/sync/start").then().statusCode(200);
        await("b has the writes the recreated slot never saw")
                .atMost(Duration.ofSeconds(30))
                .pollInterval(Duration.ofMillis(250))
                .until(() -> b.api().get("/api/nodes/again-20").statusCode() == 200);
        assertEquals(
                72,
                b.api()
                        .get("/api/nodes?type=DOC&limit=1000")
                        .jsonPath()
                        .getList("items")
                        .size(),
                "all of a's");
        log = a.log();
        assertTrue(
                log.contains("Replication slot " + a.slot() + " was made anew or moved by someone else"), a.logTail());
        assertEquals(2, log.split("local changes newer than", -1).length - 1, a.logTail());
    }

    private static boolean dropSlot(Connection sql, NodeProcess node) throws Exception {
        try (PreparedStatement drop = sql.prepareStatement("SELECT pg_drop_replication_slot(?)")) {
            drop.setString(1, node.slot());
            drop.execute();
            return true;
        }
    }
}
