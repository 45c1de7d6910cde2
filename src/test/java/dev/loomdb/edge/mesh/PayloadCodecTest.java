package dev.loomdb.edge.mesh;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Compression and mesh-key encryption of messages: round trips, rotation, and every way a message is unreadable. */
class PayloadCodecTest {

    private static final String TOPIC = "loom/demo/changes/node-a/node/FACT";

    private static String key() {
        byte[] bytes = new byte[32];
        new SecureRandom().nextBytes(bytes);
        return Base64.getEncoder().encodeToString(bytes);
    }

    private static byte[] json(int facts) {
        StringBuilder json = new StringBuilder("{\"v\":1,\"changes\":[");
        for (int i = 0; i < facts; i++) {
            json.append(i == 0 ? "" : ",").append("{\"id\":\"fact-").append(i).append("\",\"text\":\"water boils\"}");
        }
        return json.append("]}").toString().getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void plainByDefaultCompressedAboveTheThresholdWhenSmaller() throws Exception {
        PayloadCodec off = new PayloadCodec(0, null, Map.of(), 1 << 20);
        byte[] message = json(50);
        assertSame(message, off.wrap(TOPIC, message));
        PayloadCodec compressing = new PayloadCodec(256, null, Map.of(), 1 << 20);
        byte[] small = json(1);
        assertSame(small, compressing.wrap(TOPIC, small), "below the threshold");
        byte[] wire = compressing.wrap(TOPIC, message);
        assertTrue(wire.length < message.length / 3, wire.length + " of " + message.length);
        assertTrue(new String(wire, StandardCharsets.ISO_8859_1).startsWith("loom-wrap v1 z -\n"));
        assertArrayEquals(message, off.unwrap(TOPIC, wire), "a node that does not compress reads it");
    }

    @Test
    void encryptedWithTheActiveKeyReadableOnlyWithIt() throws Exception {
        String k1 = key();
        PayloadCodec a = new PayloadCodec(256, "k1", Map.of("k1", k1), 1 << 20);
        byte[] message = json(20);
        byte[] wire = a.wrap(TOPIC, message);
        assertFalse(new String(wire, StandardCharsets.ISO_8859_1).contains("water boils"), "ciphertext only");
        assertArrayEquals(message, a.unwrap(TOPIC, wire));

        PayloadCodec stranger = new PayloadCodec(0, null, Map.of("k1", key()), 1 << 20);
        assertThrows(PayloadCodec.Unreadable.class, () -> stranger.unwrap(TOPIC, wire), "another key named k1");
        PayloadCodec keyless = new PayloadCodec(0, null, Map.of(), 1 << 20);
        assertTrue(assertThrows(PayloadCodec.Unreadable.class, () -> keyless.unwrap(TOPIC, wire))
                .getMessage()
                .contains("does not have"));
        assertThrows(
                PayloadCodec.Unreadable.class, () -> a.unwrap("loom/demo/changes/node-b/node/FACT", wire), "moved");
        byte[] tampered = wire.clone();
        tampered[tampered.length - 20] ^= 1;
        assertThrows(PayloadCodec.Unreadable.class, () -> a.unwrap(TOPIC, tampered), "changed on the way");
        assertThrows(PayloadCodec.Unreadable.class, () -> a.unwrap(TOPIC, message), "plain where the mesh encrypts");
    }

    @Test
    void aKeyRotatesWithoutDowntime() throws Exception {
        String k1 = key();
        String k2 = key();
        PayloadCodec old = new PayloadCodec(0, "k1", Map.of("k1", k1), 1 << 20);
        PayloadCodec rotating = new PayloadCodec(0, "k2", Map.of("k1", k1, "k2", k2), 1 << 20);
        PayloadCodec oldWithNewKey = new PayloadCodec(0, "k1", Map.of("k1", k1, "k2", k2), 1 << 20);
        byte[] message = json(3);
        assertArrayEquals(message, rotating.unwrap(TOPIC, old.wrap(TOPIC, message)), "new reads old");
        assertArrayEquals(
                message, oldWithNewKey.unwrap(TOPIC, rotating.wrap(TOPIC, message)), "old, given k2, reads new");
    }

    @Test
    void aCompressionBombOrGarbageIsUnreadableNotACrash() {
        PayloadCodec reader = new PayloadCodec(0, null, Map.of(), 1 << 16);
        PayloadCodec compressing = new PayloadCodec(1, null, Map.of(), 1 << 30);
        byte[] bomb = compressing.wrap(TOPIC, new byte[1 << 20]);
        assertTrue(bomb.length < 5000);
        assertTrue(assertThrows(PayloadCodec.Unreadable.class, () -> reader.unwrap(TOPIC, bomb))
                .getMessage()
                .contains("inflates beyond"));
        byte[] garbage = "loom-wrap v1 z -\nnot deflate at all".getBytes(StandardCharsets.US_ASCII);
        assertThrows(PayloadCodec.Unreadable.class, () -> reader.unwrap(TOPIC, garbage));
        assertThrows(PayloadCodec.Unreadable.class, () -> reader.unwrap(TOPIC, "loom-wrap v1 e".getBytes()));
        assertEquals(
                "loom.security.encryption.keys.k has 3 bytes; an AES-256 key has 32 (openssl rand -base64 32)",
                assertThrows(IllegalStateException.class, () -> new PayloadCodec(0, "k", Map.of("k", "AAAA"), 1))
                        .getMessage());
    }
}
