package dev.loomdb.edge.it;

import static org.awaitility.Awaitility.await;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loomdb.edge.flow.Change;
import dev.loomdb.edge.flow.Envelope;
import dev.loomdb.edge.flow.Hlc;
import dev.loomdb.edge.mesh.EnvelopeCodec;
import io.restassured.path.json.JsonPath;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * With loom.conflict.auto-resolve=false, a concurrent change is kept aside with both versions instead
 * of being decided, listed at /api/conflicts, and its resolution syncs to every peer like any write.
 */
class ConflictResolutionIT {

    private static final Duration SYNC = Duration.ofSeconds(20);

    @RegisterExtension
    final Mesh meshOfTwo = Mesh.named("conflicts").nodes("a", "b").with("loom.conflict.auto-resolve", "false");

    private NodeProcess a;
    private NodeProcess b;
    private MqttProbe probe;
    private String mesh;

    @BeforeEach
    void start() throws Exception {
        a = meshOfTwo.node("a");
        b = meshOfTwo.node("b");
        mesh = meshOfTwo.name();
        probe = new MqttProbe(meshOfTwo.brokerHost(), meshOfTwo.brokerPort(), null);
    }

    @AfterEach
    void stop() {
        if (probe != null) {
            probe.close();
        }
    }

    @Test
    void concurrentChangeIsKeptAsideAndItsResolutionSyncs() throws Exception {
        a.api()
                .body("{\"type\":\"FACT\",\"properties\":{\"claim\":\"original\"}}")
                .put("/api/nodes/c-1")
                .then()
                .statusCode(201);
        await().atMost(SYNC)
                .untilAsserted(() -> b.api().get("/api/nodes/c-1").then().statusCode(200));
        long original = Long.parseLong(a.api().get("/api/nodes/c-1").jsonPath().getString("hlc"));
        a.api()
                .body("{\"properties\":{\"claim\":\"edited on a\"}}")
                .patch("/api/nodes/c-1")
                .then()
                .statusCode(200);
        await().atMost(SYNC)
                .untilAsserted(
                        () -> b.api().get("/api/nodes/c-1").then().body("properties.claim", equalTo("edited on a")));

        SseClient watcher = new SseClient(b.httpPort(), "/api/sync/events?kind=conflict-detected").awaitSubscribed();
        // A third node edited the original too, without seeing a's edit, and with a later clock.
        long later = Long.parseLong(a.api().get("/api/nodes/c-1").jsonPath().getString("hlc")) + (1L << 20);
        Change concurrent = new Change(
                Change.Op.UPDATE,
                Change.Kind.NODE,
                "c-1",
                "FACT",
                "{\"claim\": \"edited on c\"}",
                null,
                null,
                new Hlc(later),
                2,
                "zz-c",
                false,
                "{}",
                new Hlc(original));
        probe.publish(
                "loom/" + mesh + "/changes/zz-c",
                new EnvelopeCodec(new ObjectMapper())
                        .encode(new Envelope(1, mesh, "zz-c", 1, 1, "0/1", Instant.now(), 1, List.of(concurrent))));

        SseClient.Event detected = watcher.awaitEvent(SYNC, e -> "conflict-detected".equals(e.name()));
        watcher.close();
        JsonPath event = new JsonPath(detected.data());
        assertEquals("c-1", event.getString("change.id"));
        assertEquals("zz-c", event.getString("peer"));
        assertEquals("edited on c", event.getString("change.properties.claim"));
        assertTrue(event.getString("detail").contains("/api/conflicts/"), event.getString("detail"));

        for (NodeProcess node : List.of(a, b)) {
            await().atMost(SYNC)
                    .until(() -> node.api()
                                    .get("/api/conflicts")
                                    .jsonPath()
                                    .getList("$")
                                    .size()
                            == 1);
            JsonPath conflict = node.api().get("/api/conflicts").jsonPath();
            assertEquals("edited on a", conflict.getString("[0].local.properties.claim"));
            assertEquals("edited on c", conflict.getString("[0].remote.properties.claim"));
            node.api().get("/api/nodes/c-1").then().body("properties.claim", equalTo("edited on a"));
        }

        long id = b.api().get("/api/conflicts").jsonPath().getLong("[0].id");
        b.api()
                .body("{\"resolution\":\"remote\"}")
                .post("/api/conflicts/" + id + "/resolve")
                .then()
                .statusCode(200);
        b.api()
                .body("{\"resolution\":\"remote\"}")
                .post("/api/conflicts/" + id + "/resolve")
                .then()
                .statusCode(409);

        for (NodeProcess node : List.of(b, a)) {
            await().atMost(SYNC)
                    .untilAsserted(() ->
                            node.api().get("/api/nodes/c-1").then().body("properties.claim", equalTo("edited on c")));
            await().atMost(SYNC)
                    .until(() -> node.api()
                            .get("/api/conflicts")
                            .jsonPath()
                            .getList("$")
                            .isEmpty());
        }
        assertEquals(
                a.api().get("/api/sync/digest").jsonPath().getString("sha256"),
                b.api().get("/api/sync/digest").jsonPath().getString("sha256"));
    }
}
