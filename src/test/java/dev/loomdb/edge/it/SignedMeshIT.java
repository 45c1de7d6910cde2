package dev.loomdb.edge.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loomdb.edge.flow.Change;
import dev.loomdb.edge.flow.Envelope;
import dev.loomdb.edge.mesh.EnvelopeCodec;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.Signature;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Two nodes whose messages are signed (Ed25519 keys made at test time, each node trusting the other):
 * what A writes reaches B; unsigned messages, messages of a node not trusted, messages changed on the way
 * and old messages replayed are rejected on B, counted by reason and kept aside, and none is applied.
 */
class SignedMeshIT {

    private static final Duration SYNC = Duration.ofSeconds(20);

    @RegisterExtension
    final Mesh mesh = Mesh.named("signed")
            .nodes("a", "b")
            .unstarted()
            .with("loom.security.signing.enabled", "true")
            .with("loom.security.signing.replay-window", "2s");

    private NodeProcess a;
    private NodeProcess b;
    private MqttProbe probe;

    private void startSigned() throws Exception {
        a = mesh.node("a");
        b = mesh.node("b");
        SigningKeys.trustEachOther(List.of(a, b));
        a.start().awaitReady();
        b.start().awaitReady();
        probe = new MqttProbe(mesh.brokerHost(), mesh.brokerPort(), "loom/" + mesh.name() + "/changes/#");
    }

    @AfterEach
    void stop() {
        if (probe != null) {
            probe.close();
        }
    }

    private long rejected(String reason) {
        return b.api().get("/api/sync/status").jsonPath().getLong("rejectedByReason." + reason);
    }

    private byte[] envelope(String origin, String id) {
        Change change = new Change(
                Change.Op.UPDATE,
                Change.Kind.NODE,
                id,
                "FACT",
                "{}",
                null,
                null,
                System.currentTimeMillis() << 16,
                1,
                origin,
                false);
        return new EnvelopeCodec(new ObjectMapper())
                .encode(new Envelope(1, mesh.name(), origin, 1, 1, "0/1", Instant.now(), 1, List.of(change)));
    }

    /** The counter of a signed message's line, or -1 for a message without one. */
    private static long counter(byte[] message) {
        String text = new String(message, StandardCharsets.UTF_8);
        String line = text.substring(text.lastIndexOf('\n') + 1);
        return line.startsWith("loom-sig v1 ed25519 ") ? Long.parseLong(line.split(" ")[3]) : -1;
    }

    @Test
    void signedWritesSyncAndEveryOtherMessageIsRefused() throws Exception {
        startSigned();
        a.api()
                .body("{\"type\":\"FACT\",\"properties\":{\"n\":1}}")
                .put("/api/nodes/s-1")
                .then()
                .statusCode(201);
        await().atMost(SYNC).until(() -> b.api().get("/api/nodes/s-1").statusCode() == 200);
        String topic = "loom/" + mesh.name() + "/changes/" + a.nodeId() + "/node/FACT";
        await().atMost(SYNC).until(() -> !probe.on(topic).isEmpty());
        byte[] signed = probe.on(topic).get(0).payload();
        String text = new String(signed, StandardCharsets.UTF_8);
        assertTrue(text.startsWith("{") && text.contains("\nloom-sig v1 ed25519 "), text);

        // unsigned, on A's topic
        probe.publish(topic, envelope(a.nodeId(), "s-unsigned"));
        await().atMost(SYNC).until(() -> rejected("unsigned") == 1);

        // changed on the way: the same signature over different bytes
        byte[] tampered = text.replace("\"n\": 1", "\"n\": 9").getBytes(StandardCharsets.UTF_8);
        assertTrue(!Arrays.equals(tampered, signed));
        probe.publish(topic, tampered);
        // signed by a node nobody trusts, on its own topic
        KeyPair evil = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
        byte[] body = envelope("evil-x", "s-evil");
        Signature signer = Signature.getInstance("Ed25519");
        signer.initSign(evil.getPrivate());
        long n = System.currentTimeMillis() * 1000;
        signer.update(("evil-x\n" + n + "\n").getBytes(StandardCharsets.UTF_8));
        signer.update(body);
        byte[] line = ("\nloom-sig v1 ed25519 " + n + " " + Base64.getEncoder().encodeToString(signer.sign()))
                .getBytes(StandardCharsets.US_ASCII);
        byte[] evilMessage = Arrays.copyOf(body, body.length + line.length);
        System.arraycopy(line, 0, evilMessage, body.length, line.length);
        probe.publish("loom/" + mesh.name() + "/changes/evil-x/node/FACT", evilMessage);
        await().atMost(SYNC).until(() -> rejected("forged") == 2);

        // an old message of A, published again once A has signed messages more than the window later
        long first = counter(signed);
        int[] written = {0};
        await().atMost(SYNC).pollInterval(Duration.ofMillis(250)).until(() -> {
            a.api()
                    .body("{\"type\":\"FACT\",\"properties\":{\"n\":" + (++written[0] + 1) + "}}")
                    .put("/api/nodes/s-1");
            return probe.on(topic).stream().anyMatch(m -> counter(m.payload()) - first > 2_500_000);
        });
        long newest = probe.on(topic).stream()
                .mapToLong(m -> counter(m.payload()))
                .max()
                .orElseThrow();
        await().atMost(SYNC)
                .until(() -> b.api().get("/api/nodes/s-1").jsonPath().getInt("version") >= 2);
        probe.publish(topic, signed);
        await().atMost(SYNC).until(() -> rejected("replayed") == 1);
        assertTrue(newest > first);

        b.api().get("/api/nodes/s-unsigned").then().statusCode(404);
        b.api().get("/api/nodes/s-evil").then().statusCode(404);
        assertEquals(
                a.api().get("/api/nodes/s-1").jsonPath().getInt("properties.n"),
                b.api().get("/api/nodes/s-1").jsonPath().getInt("properties.n"));
        // state sync is signed too: a round of anti-entropy between the two answers
        b.api().post("/api/sync/anti-entropy?peer=" + a.nodeId()).then().statusCode(200);
    }

    @Test
    void theMeshWideKeySignsForEveryNodeAndAMessageWithAnotherKeyIsRefused() throws Exception {
        a = mesh.node("a");
        b = mesh.node("b");
        byte[] shared = new byte[32];
        new java.security.SecureRandom().nextBytes(shared);
        for (NodeProcess node : List.of(a, b)) {
            node.with("loom.security.signing.mode", "hmac")
                    .with("loom.security.signing.hmac-key", Base64.getEncoder().encodeToString(shared));
        }
        a.start().awaitReady();
        b.start().awaitReady();
        probe = new MqttProbe(mesh.brokerHost(), mesh.brokerPort(), "loom/" + mesh.name() + "/changes/#");
        a.api()
                .body("{\"type\":\"FACT\",\"properties\":{\"n\":1}}")
                .put("/api/nodes/h-1")
                .then()
                .statusCode(201);
        await().atMost(SYNC).until(() -> b.api().get("/api/nodes/h-1").statusCode() == 200);
        String topic = "loom/" + mesh.name() + "/changes/" + a.nodeId() + "/node/FACT";
        await().atMost(SYNC).until(() -> !probe.on(topic).isEmpty());
        String text = new String(probe.on(topic).get(0).payload(), StandardCharsets.UTF_8);
        assertTrue(text.contains("\nloom-sig v1 hmac-sha256 "), text);

        // signed with a key of the right length that is not the mesh's
        byte[] body = envelope(a.nodeId(), "h-evil");
        javax.crypto.Mac mac = javax.crypto.Mac.getInstance("HmacSHA256");
        mac.init(new javax.crypto.spec.SecretKeySpec(new byte[32], "HmacSHA256"));
        long n = System.currentTimeMillis() * 1000;
        mac.update((a.nodeId() + "\n" + n + "\n").getBytes(StandardCharsets.UTF_8));
        byte[] line = ("\nloom-sig v1 hmac-sha256 " + n + " "
                        + Base64.getEncoder().encodeToString(mac.doFinal(body)))
                .getBytes(StandardCharsets.US_ASCII);
        byte[] evil = Arrays.copyOf(body, body.length + line.length);
        System.arraycopy(line, 0, evil, body.length, line.length);
        probe.publish(topic, evil);
        await().atMost(SYNC).until(() -> rejected("forged") == 1);
        b.api().get("/api/nodes/h-evil").then().statusCode(404);
    }
}
