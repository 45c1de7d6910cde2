package dev.loomdb.edge.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Three nodes with a mesh key, one of them holding another key of the same name, messages over 512 bytes
 * compressed: the two with the key sync, the third rejects every message as unreadable, and nothing on the
 * broker is plaintext.
 */
class EncryptedMeshIT {

    private static final Duration SYNC = Duration.ofSeconds(20);

    private static final String K1 = Base64.getEncoder().encodeToString(new byte[] {
        1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30,
        31, 32
    });
    private static final String OTHER = Base64.getEncoder().encodeToString(new byte[32]);

    /** p and q share the mesh key, r holds another of the same name; messages over 512 bytes are compressed. */
    @RegisterExtension
    final Mesh privateMesh = Mesh.named("private")
            .nodes("p", "q", "r")
            .with("loom.mqtt.compress-above", "512")
            .with("loom.security.encryption.active-key", "k1")
            .with("p", "loom.security.encryption.keys.k1", K1)
            .with("q", "loom.security.encryption.keys.k1", K1)
            .with("r", "loom.security.encryption.keys.k1", OTHER);

    @Test
    void encryptedMessagesAreReadOnlyByNodesWithTheMeshKey() throws Exception {
        NodeProcess p = privateMesh.node("p");
        NodeProcess q = privateMesh.node("q");
        NodeProcess r = privateMesh.node("r");
        try (MqttProbe watcher = new MqttProbe(
                privateMesh.brokerHost(), privateMesh.brokerPort(), "loom/" + privateMesh.name() + "/#")) {
            String secret = "the-secret-recipe-" + "x".repeat(600);
            p.api()
                    .body("{\"type\":\"FACT\",\"properties\":{\"text\":\"" + secret + "\"}}")
                    .put("/api/nodes/private-1")
                    .then()
                    .statusCode(201);
            await().atMost(SYNC).until(() -> q.api().get("/api/nodes/private-1").statusCode() == 200);
            assertEquals(secret, q.api().get("/api/nodes/private-1").jsonPath().getString("properties.text"));
            await().atMost(SYNC)
                    .until(() ->
                            r.api().get("/api/sync/status").jsonPath().getLong("rejectedByReason.unreadable") >= 1);
            r.api().get("/api/nodes/private-1").then().statusCode(404);
            String topic = "loom/" + privateMesh.name() + "/changes/" + p.nodeId() + "/node/FACT";
            await().atMost(SYNC).until(() -> !watcher.on(topic).isEmpty());
            for (MqttProbe.Message message : watcher.messages()) {
                String text = new String(message.payload(), StandardCharsets.ISO_8859_1);
                assertTrue(!text.contains("the-secret-recipe"), "plaintext on " + message.topic());
                assertTrue(text.startsWith("loom-wrap v1 "), message.topic() + ": " + text.substring(0, 20));
            }
            // state sync between p and q is encrypted too
            q.api().post("/api/sync/anti-entropy?peer=" + p.nodeId()).then().statusCode(200);
        }
    }
}
