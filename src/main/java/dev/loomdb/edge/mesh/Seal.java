package dev.loomdb.edge.mesh;

/**
 * What happens to every message on the wire, in one place: going out it is compressed and encrypted
 * ({@link PayloadCodec}) and then signed ({@link Signatures}); coming in it is verified against the
 * trust list and then decrypted and inflated. A message this node published itself (it comes back on
 * the wildcard subscription and is ignored) is only stripped of its signature: it is neither checked nor
 * refused.
 */
public final class Seal {

    /** Why an incoming message was refused. */
    public enum Problem {
        UNSIGNED,
        FORGED,
        REPLAYED,
        /** Encrypted with a key this node lacks, changed on the way, not encrypted where the mesh encrypts. */
        UNREADABLE
    }

    /** An incoming message opened: the payload to act on, or the problem that refused it. */
    public record Opened(byte[] payload, Problem problem, String detail) {
        static Opened ok(byte[] payload) {
            return new Opened(payload, null, null);
        }

        static Opened refused(Problem problem, String detail) {
            return new Opened(null, problem, detail);
        }
    }

    private final String mesh;
    private final String nodeId;
    private final String presencePrefix;
    private final Signatures signatures;
    private final PayloadCodec codec;

    /** {@code signatures} null: messages are neither signed nor checked for a signature. */
    public Seal(String mesh, String nodeId, Signatures signatures, PayloadCodec codec) {
        this.mesh = mesh;
        this.nodeId = nodeId;
        this.presencePrefix = "loom/" + mesh + "/nodes/";
        this.signatures = signatures;
        this.codec = codec;
    }

    /** The message to publish on {@code topic} for {@code payload}: compressed, encrypted, signed as set. */
    public byte[] close(String topic, byte[] payload) {
        byte[] wire = codec.wrap(topic, payload);
        return signatures == null ? wire : signatures.sign(wire);
    }

    /** The payload of a message received on {@code topic}, or why it is refused. */
    public Opened open(String topic, byte[] message) {
        String publisher = Signatures.publisher(mesh, topic);
        boolean own = nodeId.equals(publisher);
        byte[] payload = message;
        if (signatures != null && own) {
            payload = Signatures.strip(payload);
        } else if (signatures != null) {
            Signatures.Checked checked =
                    signatures.check(publisher == null ? "" : publisher, payload, topic.startsWith(presencePrefix));
            if (checked.problem() != null) {
                return Opened.refused(
                        switch (checked.problem()) {
                            case UNSIGNED -> Problem.UNSIGNED;
                            case FORGED -> Problem.FORGED;
                            case REPLAYED -> Problem.REPLAYED;
                        },
                        checked.detail());
            }
            payload = checked.payload();
        }
        try { // a peer may compress or encrypt whether or not this node does
            return Opened.ok(codec.unwrap(topic, payload));
        } catch (PayloadCodec.Unreadable e) {
            // its own message, which it ignores anyway, is never refused
            return own ? Opened.ok(payload) : Opened.refused(Problem.UNREADABLE, e.getMessage());
        }
    }
}
