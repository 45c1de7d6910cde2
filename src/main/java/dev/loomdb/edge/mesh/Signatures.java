package dev.loomdb.edge.mesh;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;
import java.time.Duration;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.bouncycastle.crypto.params.Ed25519PrivateKeyParameters;
import org.bouncycastle.crypto.params.Ed25519PublicKeyParameters;
import org.bouncycastle.crypto.signers.Ed25519Signer;
import org.bouncycastle.crypto.util.PrivateKeyFactory;
import org.bouncycastle.crypto.util.PublicKeyFactory;

/**
 * Signed messages: every message a node publishes ends with a line {@code loom-sig v1 <algorithm> <counter>
 * <signature>}, a signature over the publishing node's id, the counter and the payload. With {@code ed25519}
 * (per-node keys) a receiver verifies it with the public key its trust list holds for the node whose topic
 * the message came on (so the signature also binds the topic's node id, and the envelope's origin is checked
 * against that id); with {@code hmac-sha256} every node holds one mesh-wide key. The
 * counter grows with every message a node signs (microseconds since the epoch, at least one more than the
 * last), and a message whose counter is older than the newest seen from that node by more than the replay
 * window is refused as replayed; within the window a repeat is harmless, as applying is idempotent.
 *
 * <p>The payload before the line is the message as it would be unsigned: readable JSON for changes.
 *
 * <p>The keys are read by the JDK (PKCS#8 and X.509, as openssl writes them); Ed25519 itself is computed by
 * Bouncy Castle's lightweight API, which signs and verifies about ten times faster than JDK 17's provider
 * (the signatures are the same: Ed25519 is deterministic). Native-ready: no JCA provider is registered.
 */
public final class Signatures {

    /** Most bytes the signature line adds to a message. */
    public static final int OVERHEAD = 128;

    private static final String MARK = "loom-sig v1 ";
    private static final String ED25519 = "ed25519";
    private static final String HMAC = "hmac-sha256";

    /** Why a message was refused. */
    public enum Problem {
        UNSIGNED,
        FORGED,
        REPLAYED
    }

    /** A checked message: its payload without the signature line, or why it was refused. */
    public record Checked(byte[] payload, Problem problem, String detail) {
        static Checked refused(Problem problem, String detail) {
            return new Checked(null, problem, detail);
        }
    }

    private final String nodeId;
    /** {@value #ED25519} or {@value #HMAC}. */
    private final String algorithm;

    private final Ed25519PrivateKeyParameters key;
    private final Map<String, Ed25519PublicKeyParameters> trusted;
    private final SecretKeySpec meshKey;
    private final long windowMicros;
    private final AtomicLong counter = new AtomicLong();
    private final Map<String, AtomicLong> newest = new ConcurrentHashMap<>();

    private Signatures(
            String nodeId,
            String algorithm,
            Ed25519PrivateKeyParameters key,
            Map<String, Ed25519PublicKeyParameters> trusted,
            SecretKeySpec meshKey,
            Duration window) {
        this.nodeId = nodeId;
        this.algorithm = algorithm;
        this.key = key;
        this.trusted = trusted;
        this.meshKey = meshKey;
        this.windowMicros = window.toNanos() / 1000;
    }

    /**
     * The mesh-wide mode: every node holds the same secret key (32 bytes or more, base64) and signs with
     * HMAC-SHA256. Cheaper than Ed25519 by orders of magnitude, but whoever holds the key can sign as any
     * node: no per-node revocation, and one leaked device key opens the whole mesh.
     */
    public static Signatures hmac(String nodeId, String base64Key, Duration window) {
        byte[] key;
        try {
            key = Base64.getDecoder().decode(base64Key.trim());
        } catch (IllegalArgumentException e) {
            throw new IllegalStateException("loom.security.signing.hmac-key is not base64: " + e.getMessage());
        }
        if (key.length < 32) {
            throw new IllegalStateException("loom.security.signing.hmac-key has " + key.length
                    + " bytes; it needs at least 32 (openssl rand -base64 32)");
        }
        return new Signatures(nodeId, HMAC, null, Map.of(), new SecretKeySpec(key, "HmacSHA256"), window);
    }

    /**
     * From the node's private key (a PKCS#8 PEM file, as {@code openssl genpkey -algorithm ed25519} writes)
     * and the trust list (node id to the base64 of its X.509 public key, the body of {@code openssl pkey
     * -pubout}). Fails with a sentence naming the setting when a key cannot be read.
     */
    public static Signatures load(String nodeId, Path privateKeyPem, Map<String, String> trust, Duration window) {
        try {
            KeyFactory ed25519 = KeyFactory.getInstance("Ed25519");
            Ed25519PrivateKeyParameters key;
            try {
                PrivateKey read =
                        ed25519.generatePrivate(new PKCS8EncodedKeySpec(pem(Files.readString(privateKeyPem))));
                key = (Ed25519PrivateKeyParameters) PrivateKeyFactory.createKey(read.getEncoded());
            } catch (IOException | GeneralSecurityException | IllegalArgumentException | ClassCastException e) {
                throw new IllegalStateException("loom.security.signing.private-key-file: cannot read an Ed25519"
                        + " private key (PKCS#8 PEM) from " + privateKeyPem + ": " + e.getMessage()
                        + ". Make one with: openssl genpkey -algorithm ed25519 -out node.pem");
            }
            Map<String, Ed25519PublicKeyParameters> keys = new HashMap<>();
            for (Map.Entry<String, String> entry : trust.entrySet()) {
                try {
                    PublicKey read = ed25519.generatePublic(new X509EncodedKeySpec(pem(entry.getValue())));
                    keys.put(
                            entry.getKey(), (Ed25519PublicKeyParameters) PublicKeyFactory.createKey(read.getEncoded()));
                } catch (IOException | GeneralSecurityException | IllegalArgumentException | ClassCastException e) {
                    throw new IllegalStateException("loom.security.signing.trust." + entry.getKey()
                            + " is not an Ed25519 public key (the base64 body of openssl pkey -in node.pem -pubout): "
                            + e.getMessage());
                }
            }
            return new Signatures(nodeId, ED25519, key, Map.copyOf(keys), null, window);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("This JVM has no Ed25519: " + e.getMessage(), e);
        }
    }

    /** The DER bytes of a PEM text, or of bare base64. */
    static byte[] pem(String text) {
        String body = text.replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
        return Base64.getDecoder().decode(body);
    }

    /** The message with its signature line. */
    public byte[] sign(byte[] payload) {
        long now = System.currentTimeMillis() * 1000;
        long n = counter.updateAndGet(last -> Math.max(last + 1, now));
        try {
            byte[] signature;
            if (meshKey != null) {
                Mac mac = Mac.getInstance("HmacSHA256");
                mac.init(meshKey);
                mac.update(prefix(nodeId, n));
                signature = mac.doFinal(payload);
            } else {
                Ed25519Signer signer = new Ed25519Signer();
                signer.init(true, key);
                byte[] prefix = prefix(nodeId, n);
                signer.update(prefix, 0, prefix.length);
                signer.update(payload, 0, payload.length);
                signature = signer.generateSignature();
            }
            byte[] line = ("\n" + MARK + algorithm + " " + n + " "
                            + Base64.getEncoder().encodeToString(signature))
                    .getBytes(StandardCharsets.US_ASCII);
            byte[] out = new byte[payload.length + line.length];
            System.arraycopy(payload, 0, out, 0, payload.length);
            System.arraycopy(line, 0, out, payload.length, line.length);
            return out;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("Could not sign a message: " + e.getMessage(), e);
        }
    }

    /** A message without its signature line, unchecked (this node's own, which it does not act on). */
    public static byte[] strip(byte[] message) {
        int newline = signatureLine(message);
        return newline < 0 ? message : java.util.Arrays.copyOf(message, newline);
    }

    /** Where the signature line's newline is (the last one, within the line's length of the end), or -1. */
    private static int signatureLine(byte[] message) {
        for (int i = message.length - 1; i >= 0 && i >= message.length - OVERHEAD - 1; i--) {
            if (message[i] == '\n') {
                return new String(message, i + 1, message.length - i - 1, StandardCharsets.US_ASCII).startsWith(MARK)
                        ? i
                        : -1;
            }
        }
        return -1;
    }

    /**
     * Checks a message that came from {@code publisher} (the node whose topic it came on); {@code replayable}
     * skips the replay check (a retained presence, or the will the broker publishes long after it was signed).
     */
    public Checked check(String publisher, byte[] message, boolean replayable) {
        int newline = signatureLine(message);
        if (newline < 0) {
            return Checked.refused(Problem.UNSIGNED, "no signature line (loom.security.signing is on)");
        }
        String line = new String(message, newline + 1, message.length - newline - 1, StandardCharsets.US_ASCII);
        String[] parts = line.substring(MARK.length()).split(" ");
        long n;
        byte[] signature;
        try {
            n = Long.parseLong(parts[1]);
            signature = Base64.getDecoder().decode(parts[2]);
        } catch (RuntimeException e) {
            return Checked.refused(Problem.FORGED, "an unreadable signature line");
        }
        if (!algorithm.equals(parts[0])) {
            return Checked.refused(
                    Problem.FORGED,
                    "signed with " + parts[0] + ", and this node checks " + algorithm
                            + " (loom.security.signing.mode must be the same on every node)");
        }
        byte[] payload = java.util.Arrays.copyOf(message, newline);
        try {
            boolean valid;
            if (meshKey != null) {
                Mac mac = Mac.getInstance("HmacSHA256");
                mac.init(meshKey);
                mac.update(prefix(publisher, n));
                valid = java.security.MessageDigest.isEqual(mac.doFinal(payload), signature);
            } else {
                Ed25519PublicKeyParameters signer = trusted.get(publisher);
                if (signer == null) {
                    return Checked.refused(
                            Problem.FORGED,
                            "'" + publisher + "' is not in this node's trust list (loom.security.signing.trust)");
                }
                Ed25519Signer verifier = new Ed25519Signer();
                verifier.init(false, signer);
                byte[] prefix = prefix(publisher, n);
                verifier.update(prefix, 0, prefix.length);
                verifier.update(payload, 0, payload.length);
                valid = verifier.verifySignature(signature);
            }
            if (!valid) {
                return Checked.refused(
                        Problem.FORGED,
                        "the signature does not match the message and '" + publisher
                                + "''s key: forged or changed on the way");
            }
        } catch (GeneralSecurityException e) {
            return Checked.refused(Problem.FORGED, "the signature cannot be checked: " + e.getMessage());
        }
        if (replayable) {
            return new Checked(payload, null, null);
        }
        AtomicLong seen = newest.computeIfAbsent(publisher, p -> new AtomicLong());
        long latest = seen.accumulateAndGet(n, Math::max);
        if (n < latest - windowMicros) {
            return Checked.refused(
                    Problem.REPLAYED,
                    "signed " + (latest - n) / 1_000_000 + " s before the newest message of '" + publisher
                            + "' (loom.security.signing.replay-window)");
        }
        return new Checked(payload, null, null);
    }

    /** What is signed before the payload: the publishing node's id and the counter. */
    private static byte[] prefix(String publisher, long n) {
        return (publisher + "\n" + n + "\n").getBytes(StandardCharsets.UTF_8);
    }

    /** The node whose topic this is: {@code changes/<node>/...}, {@code nodes/<node>}, {@code sync/<to>/<node>}. */
    public static String publisher(String mesh, String topic) {
        String root = "loom/" + mesh + "/";
        if (!topic.startsWith(root)) {
            return null;
        }
        String[] parts = topic.substring(root.length()).split("/");
        return switch (parts[0]) {
            case "changes", "nodes" -> parts.length >= 2 ? parts[1] : null;
            case "sync" -> parts.length >= 3 ? parts[2] : null;
            default -> null;
        };
    }
}
