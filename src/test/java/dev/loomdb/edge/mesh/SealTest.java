package dev.loomdb.edge.mesh;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loomdb.edge.it.SigningKeys;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Base64;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SealTest {

    private static final String TOPIC_OF_A = "loom/m/changes/a/node/T";
    private static final byte[] BODY =
            "{\"v\":1,\"changes\":[{\"id\":\"n1\"}]}".repeat(40).getBytes(StandardCharsets.UTF_8);

    @TempDir
    Path dir;

    private final KeyPair keyOfA = SigningKeys.generate();
    private final KeyPair keyOfB = SigningKeys.generate();
    private final String meshKey = key();

    private static String key() {
        byte[] key = new byte[32];
        new SecureRandom().nextBytes(key);
        return Base64.getEncoder().encodeToString(key);
    }

    private Seal seal(String node, KeyPair own, boolean encrypt) throws Exception {
        Path pem = dir.resolve(node + ".pem");
        Files.writeString(pem, SigningKeys.privatePem(own));
        Map<String, String> trust = Map.of(
                "a", SigningKeys.publicBase64(keyOfA),
                "b", SigningKeys.publicBase64(keyOfB));
        Signatures signatures = Signatures.load(node, pem, trust, Duration.ofHours(1));
        PayloadCodec codec =
                new PayloadCodec(256, encrypt ? "k1" : null, encrypt ? Map.of("k1", meshKey) : Map.of(), 1 << 20);
        return new Seal("m", node, signatures, codec);
    }

    @Test
    void aSealedMessageOpensOnThePeerAsItWasAndShowsNothingOnTheWire() throws Exception {
        Seal a = seal("a", keyOfA, true);
        Seal b = seal("b", keyOfB, true);
        byte[] wire = a.close(TOPIC_OF_A, BODY);
        assertFalse(
                new String(wire, StandardCharsets.ISO_8859_1).contains("changes"), "the graph data is not readable");
        Seal.Opened opened = b.open(TOPIC_OF_A, wire);
        assertNull(opened.problem(), opened.detail());
        assertArrayEquals(BODY, opened.payload());
    }

    @Test
    void aMessageOnAnotherNodesTopicIsForgedAndOneWithoutSignatureIsUnsigned() throws Exception {
        Seal a = seal("a", keyOfA, false);
        Seal b = seal("b", keyOfB, false);
        byte[] wire = a.close(TOPIC_OF_A, BODY);
        assertEquals(
                Seal.Problem.FORGED, b.open("loom/m/changes/c/node/T", wire).problem(), "signed by a, came on c's");
        assertEquals(Seal.Problem.UNSIGNED, b.open(TOPIC_OF_A, BODY).problem());
    }

    @Test
    void theMeshWideKeySignsForEveryHolderAndRefusesAnyOtherKeyOrMode() throws Exception {
        String shared = key();
        PayloadCodec plain = new PayloadCodec(0, null, Map.of(), 1 << 20);
        Seal a = new Seal("m", "a", Signatures.hmac("a", shared, Duration.ofHours(1)), plain);
        Seal b = new Seal("m", "b", Signatures.hmac("b", shared, Duration.ofHours(1)), plain);
        byte[] wire = a.close(TOPIC_OF_A, BODY);
        assertTrue(new String(wire, StandardCharsets.US_ASCII).contains("\nloom-sig v1 hmac-sha256 "));
        Seal.Opened opened = b.open(TOPIC_OF_A, wire);
        assertNull(opened.problem(), opened.detail());
        assertArrayEquals(BODY, opened.payload());

        byte[] changed = wire.clone();
        changed[5] ^= 1;
        assertEquals(Seal.Problem.FORGED, b.open(TOPIC_OF_A, changed).problem(), "changed on the way");
        assertEquals(
                Seal.Problem.FORGED,
                b.open("loom/m/changes/c/node/T", wire).problem(),
                "the topic's node id is signed too");
        Seal stranger = new Seal("m", "x", Signatures.hmac("x", key(), Duration.ofHours(1)), plain);
        assertEquals(
                Seal.Problem.FORGED,
                b.open(TOPIC_OF_A, stranger.close(TOPIC_OF_A, BODY)).problem());
        Seal.Opened otherMode = b.open(TOPIC_OF_A, seal("a", keyOfA, false).close(TOPIC_OF_A, BODY));
        assertEquals(Seal.Problem.FORGED, otherMode.problem());
        assertTrue(otherMode.detail().contains("loom.security.signing.mode"), otherMode.detail());
    }

    @Test
    void aShortOrUnreadableMeshKeyIsRefusedWithTheSettingNamed() {
        IllegalStateException shortKey = org.junit.jupiter.api.Assertions.assertThrows(
                IllegalStateException.class,
                () -> Signatures.hmac("a", Base64.getEncoder().encodeToString(new byte[16]), Duration.ofHours(1)));
        assertTrue(shortKey.getMessage().contains("loom.security.signing.hmac-key"), shortKey.getMessage());
        assertTrue(shortKey.getMessage().contains("at least 32"), shortKey.getMessage());
        org.junit.jupiter.api.Assertions.assertThrows(
                IllegalStateException.class, () -> Signatures.hmac("a", "not base64!", Duration.ofHours(1)));
    }

    @Test
    void aPlainMessageWhereTheMeshEncryptsIsUnreadableExceptThisNodesOwn() throws Exception {
        Seal plainA = new Seal("m", "a", null, new PayloadCodec(0, null, Map.of(), 1 << 20));
        Seal encryptingB = new Seal("m", "b", null, new PayloadCodec(0, "k1", Map.of("k1", meshKey), 1 << 20));
        byte[] wire = plainA.close(TOPIC_OF_A, BODY);
        assertEquals(Seal.Problem.UNREADABLE, encryptingB.open(TOPIC_OF_A, wire).problem());
        Seal encryptingA = new Seal("m", "a", null, new PayloadCodec(0, "k1", Map.of("k1", meshKey), 1 << 20));
        assertNull(encryptingA.open(TOPIC_OF_A, wire).problem(), "its own message, ignored anyway, is not refused");
    }
}
