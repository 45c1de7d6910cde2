package dev.loomdb.edge.fuzz;

import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loomdb.edge.flow.Change;
import dev.loomdb.edge.flow.Envelope;
import dev.loomdb.edge.flow.MalformedEnvelopeException;
import dev.loomdb.edge.mesh.EnvelopeCodec;
import dev.loomdb.edge.mesh.PayloadCodec;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * Mutation fuzzing of what the node reads from the mesh: envelopes and their compressed and encrypted
 * wrapping (pgoutput messages: {@code PgOutputFuzzTest}). Whatever the bytes, a decoder
 * answers with a value or its own rejection (the one the caller turns into a counted, kept-aside
 * rejection, or a stopped capture naming the LSN) — never another exception, and never a hang.
 */
class DecoderFuzzTest {

    private static final Duration BOUND = Duration.ofSeconds(2);
    private static final EnvelopeCodec CODEC = new EnvelopeCodec(new ObjectMapper());
    private static final String TOPIC = "loom/demo/changes/node-a/node/FACT";
    private static final PayloadCodec WRAP =
            new PayloadCodec(64, "k1", Map.of("k1", Base64.getEncoder().encodeToString(new byte[32])), 1 << 20);

    private static List<byte[]> envelopes() {
        long hlc = System.currentTimeMillis() << 16;
        Change node = new Change(
                Change.Op.INSERT,
                Change.Kind.NODE,
                "fact-1",
                "FACT",
                "{\"text\": \"water boils\", \"n\": 12345678901234567890.5, \"tags\": [\"a\", {\"b\": null}]}",
                null,
                null,
                hlc,
                1,
                "node-a",
                false);
        Change edge = new Change(
                Change.Op.UPDATE,
                Change.Kind.EDGE,
                "e-1",
                "FROM",
                "{}",
                "fact-1",
                "doc-1",
                hlc + 1,
                3,
                "node-a",
                false);
        Change gone = new Change(
                Change.Op.DELETE, Change.Kind.NODE, "old", "FACT", "{}", null, null, hlc + 2, 4, "node-a", true);
        Envelope whole =
                new Envelope(1, "demo", "node-a", 7, 7, "0/16B3748", Instant.now(), 1, List.of(node, edge, gone));
        return List.of(
                CODEC.encode(whole),
                CODEC.encode(whole.part(1, 2, List.of(node))),
                CODEC.encode(new Envelope(1, "demo", "node-a", 8, 8, "0/1", Instant.now(), 1, List.of(edge))));
    }

    @Provide
    Arbitrary<byte[]> mutatedEnvelopes() {
        return Mutations.of(envelopes());
    }

    @Property(tries = 1000)
    void anEnvelopeDecodesOrIsMalformed(@ForAll("mutatedEnvelopes") byte[] payload) {
        assertTimeoutPreemptively(BOUND, () -> {
            try {
                CODEC.decode(payload);
            } catch (MalformedEnvelopeException expected) {
                // rejected as malformed, counted and kept aside by the caller
            }
        });
    }

    @Provide
    Arbitrary<byte[]> mutatedWrapped() {
        return Mutations.of(envelopes().stream().map(e -> WRAP.wrap(TOPIC, e)).toList());
    }

    @Property(tries = 600)
    void aWrappedMessageUnwrapsOrIsUnreadable(@ForAll("mutatedWrapped") byte[] message) {
        assertTimeoutPreemptively(BOUND, () -> {
            try {
                CODEC.decode(WRAP.unwrap(TOPIC, message));
            } catch (PayloadCodec.Unreadable | MalformedEnvelopeException expected) {
                // rejected as unreadable or malformed
            }
        });
    }
}
