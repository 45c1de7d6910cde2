package dev.loomdb.edge.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loomdb.edge.flow.Change;
import dev.loomdb.edge.flow.Envelope;
import dev.loomdb.edge.mesh.EnvelopeCodec;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Tombstones are purged after loom.tombstone.retention, and a message older than that is rejected. */
class TombstoneRetentionIT {

    @RegisterExtension
    final Mesh single = Mesh.named("tombstones")
            .nodes("t")
            .with("loom.tombstone.retention", "3s")
            .with("loom.tombstone.purge-interval", "500ms");

    private NodeProcess node;
    private MqttProbe probe;
    private String mesh;

    @BeforeEach
    void start() throws Exception {
        node = single.node("t");
        mesh = single.name();
        probe = new MqttProbe(single.brokerHost(), single.brokerPort(), null);
    }

    @AfterEach
    void stop() {
        if (probe != null) {
            probe.close();
        }
    }

    private boolean rowExists(String id) throws Exception {
        try (Connection sql = node.sql();
                Statement s = sql.createStatement();
                ResultSet rs = s.executeQuery("SELECT 1 FROM loom.nodes WHERE id = '" + id + "'")) {
            return rs.next();
        }
    }

    @Test
    void tombstonesArePurgedAfterTheRetention() throws Exception {
        node.api()
                .body("{\"type\":\"FACT\"}")
                .put("/api/nodes/short-lived")
                .then()
                .statusCode(201);
        node.api().delete("/api/nodes/short-lived").then().statusCode(204);
        assertTrue(rowExists("short-lived"), "the delete is first kept as a tombstone");
        await().atMost(Duration.ofSeconds(15)).until(() -> !rowExists("short-lived"));
        await().atMost(Duration.ofSeconds(5))
                .until(() -> node.api().get("/api/sync/digest").jsonPath().getLong("tombstones") == 0);
    }

    @Test
    void aMessageOlderThanTheRetentionIsRejected() throws Exception {
        long old = (System.currentTimeMillis() - 60_000) << 16;
        Change stale = new Change(
                Change.Op.UPDATE, Change.Kind.NODE, "zombie", "FACT", "{}", null, null, old, 1, "far-away", false);
        byte[] payload = new EnvelopeCodec(new ObjectMapper())
                .encode(new Envelope(1, mesh, "far-away", 1, 1, "0/1", Instant.now(), 1, List.of(stale)));
        probe.publish("loom/" + mesh + "/changes/far-away", payload);
        await().atMost(Duration.ofSeconds(15))
                .until(() -> node.api().get("/api/sync/status").jsonPath().getLong("counters.rejected") == 1);
        node.api().get("/api/nodes/zombie").then().statusCode(404);
        try (Connection sql = node.sql();
                Statement s = sql.createStatement();
                ResultSet rs = s.executeQuery("SELECT reason FROM loom.rejected_messages")) {
            assertTrue(rs.next());
            assertTrue(rs.getString(1).contains("loom.tombstone.retention"), rs.getString(1));
        }
    }
}
