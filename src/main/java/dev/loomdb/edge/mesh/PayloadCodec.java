package dev.loomdb.edge.mesh;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.DataFormatException;
import java.util.zip.Deflater;
import java.util.zip.Inflater;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * What a message carries on the wire besides its JSON: compressed (Deflate) when that makes it smaller and
 * it is at least the threshold, then encrypted (AES-256-GCM with a mesh key, the topic as associated data,
 * so a message cannot be moved to another topic) when a key is active. A wrapped message starts with the
 * line {@code loom-wrap v1 <flags> <key id or ->} (flags: {@code z} compressed, {@code e} encrypted), then
 * the bytes (for {@code e}: a 12-byte nonce and the ciphertext with its tag). An unwrapped message is the
 * JSON itself. Several keys may be known at once, so that a mesh rotates its key without downtime.
 */
public final class PayloadCodec {

    /** Most bytes wrapping adds to a message. */
    public static final int OVERHEAD = 96;

    private static final String MARK = "loom-wrap v1 ";
    private static final byte[] MARK_BYTES = MARK.getBytes(StandardCharsets.US_ASCII);
    private static final int NONCE = 12;
    private static final int TAG_BITS = 128;

    /** Why a message could not be unwrapped. */
    public static final class Unreadable extends Exception {
        Unreadable(String message) {
            super(message);
        }
    }

    private final int compressAbove;
    private final String activeKey;
    private final Map<String, SecretKeySpec> keys;
    private final boolean requireEncryption;
    private final int maxInflated;
    private final SecureRandom random = new SecureRandom();

    /**
     * @param compressAbove compress messages of at least this many bytes (0: never)
     * @param activeKey the key id new messages are encrypted with, or null for none
     * @param keys every key id this node can decrypt with, to its 32 bytes in base64
     * @param maxInflated the largest message a compressed one may inflate to
     */
    public PayloadCodec(int compressAbove, String activeKey, Map<String, String> keys, int maxInflated) {
        this.compressAbove = compressAbove;
        this.maxInflated = maxInflated;
        Map<String, SecretKeySpec> parsed = new LinkedHashMap<>();
        keys.forEach((id, base64) -> {
            byte[] bytes;
            try {
                bytes = Base64.getDecoder().decode(base64.trim());
            } catch (IllegalArgumentException e) {
                throw new IllegalStateException("loom.security.encryption.keys." + id + " is not base64");
            }
            if (bytes.length != 32) {
                throw new IllegalStateException("loom.security.encryption.keys." + id + " has " + bytes.length
                        + " bytes; an AES-256 key has 32 (openssl rand -base64 32)");
            }
            if (id.contains(" ") || id.isEmpty()) {
                throw new IllegalStateException(
                        "loom.security.encryption key ids are words without spaces: '" + id + "'");
            }
            parsed.put(id, new SecretKeySpec(bytes, "AES"));
        });
        if (activeKey != null && !parsed.containsKey(activeKey)) {
            throw new IllegalStateException("loom.security.encryption.active-key is '" + activeKey
                    + "' but there is no loom.security.encryption.keys." + activeKey);
        }
        this.activeKey = activeKey;
        this.keys = Map.copyOf(parsed);
        this.requireEncryption = activeKey != null;
    }

    /** Whether this node can read encrypted messages (it has keys), whether or not it encrypts its own. */
    public boolean knowsKeys() {
        return !keys.isEmpty();
    }

    /** Whether messages are changed at all on the way out. */
    public boolean active() {
        return compressAbove > 0 || activeKey != null;
    }

    public byte[] wrap(String topic, byte[] payload) {
        byte[] body = payload;
        StringBuilder flags = new StringBuilder();
        if (compressAbove > 0 && payload.length >= compressAbove) {
            byte[] compressed = deflate(payload);
            if (compressed.length < payload.length) {
                body = compressed;
                flags.append('z');
            }
        }
        if (activeKey != null) {
            byte[] nonce = new byte[NONCE];
            random.nextBytes(nonce);
            try {
                Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
                cipher.init(Cipher.ENCRYPT_MODE, keys.get(activeKey), new GCMParameterSpec(TAG_BITS, nonce));
                cipher.updateAAD(topic.getBytes(StandardCharsets.UTF_8));
                byte[] sealed = cipher.doFinal(body);
                body = ByteBuffer.allocate(NONCE + sealed.length)
                        .put(nonce)
                        .put(sealed)
                        .array();
            } catch (GeneralSecurityException e) {
                throw new IllegalStateException("Could not encrypt a message: " + e.getMessage(), e);
            }
            flags.append('e');
        }
        if (flags.isEmpty()) {
            return payload;
        }
        byte[] head =
                (MARK + flags + " " + (activeKey == null ? "-" : activeKey) + "\n").getBytes(StandardCharsets.US_ASCII);
        return ByteBuffer.allocate(head.length + body.length)
                .put(head)
                .put(body)
                .array();
    }

    /** The JSON of a message as received on {@code topic}. */
    public byte[] unwrap(String topic, byte[] message) throws Unreadable {
        if (!startsWithMark(message)) {
            if (requireEncryption) {
                throw new Unreadable("not encrypted, and this mesh encrypts (loom.security.encryption.active-key)");
            }
            return message;
        }
        int end = MARK_BYTES.length;
        while (end < message.length && end < 200 && message[end] != '\n') {
            end++;
        }
        if (end >= message.length || message[end] != '\n') {
            throw new Unreadable("a loom-wrap line without its end");
        }
        String[] head =
                new String(message, MARK_BYTES.length, end - MARK_BYTES.length, StandardCharsets.US_ASCII).split(" ");
        if (head.length != 2) {
            throw new Unreadable("a loom-wrap line that is not '<flags> <key>'");
        }
        String flags = head[0];
        byte[] body = java.util.Arrays.copyOfRange(message, end + 1, message.length);
        if (flags.contains("e")) {
            SecretKeySpec key = keys.get(head[1]);
            if (key == null) {
                throw new Unreadable("encrypted with key '" + head[1] + "', which this node does not have"
                        + " (loom.security.encryption.keys)");
            }
            if (body.length < NONCE + TAG_BITS / 8) {
                throw new Unreadable("an encrypted body too short to hold its nonce and tag");
            }
            try {
                Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
                cipher.init(Cipher.DECRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, body, 0, NONCE));
                cipher.updateAAD(topic.getBytes(StandardCharsets.UTF_8));
                body = cipher.doFinal(body, NONCE, body.length - NONCE);
            } catch (GeneralSecurityException e) {
                throw new Unreadable("does not decrypt with key '" + head[1] + "' on this topic: changed on the"
                        + " way, moved from another topic, or another key of the same name");
            }
        } else if (requireEncryption) {
            throw new Unreadable("not encrypted, and this mesh encrypts (loom.security.encryption.active-key)");
        }
        if (flags.contains("z")) {
            body = inflate(body);
        }
        return body;
    }

    private static boolean startsWithMark(byte[] message) {
        if (message.length < MARK_BYTES.length) {
            return false;
        }
        for (int i = 0; i < MARK_BYTES.length; i++) {
            if (message[i] != MARK_BYTES[i]) {
                return false;
            }
        }
        return true;
    }

    private static byte[] deflate(byte[] payload) {
        Deflater deflater = new Deflater(Deflater.DEFAULT_COMPRESSION);
        try {
            deflater.setInput(payload);
            deflater.finish();
            ByteArrayOutputStream out = new ByteArrayOutputStream(payload.length / 2 + 64);
            byte[] buffer = new byte[8192];
            while (!deflater.finished()) {
                out.write(buffer, 0, deflater.deflate(buffer));
            }
            return out.toByteArray();
        } finally {
            deflater.end();
        }
    }

    private byte[] inflate(byte[] body) throws Unreadable {
        Inflater inflater = new Inflater();
        try {
            inflater.setInput(body);
            ByteArrayOutputStream out = new ByteArrayOutputStream(body.length * 4);
            byte[] buffer = new byte[8192];
            while (!inflater.finished()) {
                int n = inflater.inflate(buffer);
                if (n == 0 && (inflater.needsInput() || inflater.needsDictionary())) {
                    throw new Unreadable("a compressed body that ends too soon");
                }
                out.write(buffer, 0, n);
                if (out.size() > maxInflated) {
                    throw new Unreadable("a compressed body that inflates beyond " + maxInflated + " bytes");
                }
            }
            return out.toByteArray();
        } catch (DataFormatException e) {
            throw new Unreadable("a compressed body that is not Deflate data: " + e.getMessage());
        } finally {
            inflater.end();
        }
    }
}
