package dev.loomdb.edge.capture.pgoutput;

import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import dev.loomdb.edge.fuzz.Mutations;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.function.Consumer;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * Mutation fuzzing of the pgoutput decoder ({@link Mutations}): whatever the bytes, a message decodes or is
 * refused with a {@link PgOutputException} (capture then stops after its retries, naming the LSN) — never
 * another exception, and never a hang.
 */
class PgOutputFuzzTest {

    private static final Duration BOUND = Duration.ofSeconds(2);

    /** Valid pgoutput messages: begin, relation, insert, update with an unchanged TOAST value, delete, commit. */
    private static List<byte[]> pgoutput() {
        return List.of(
                wire(w -> w.byte1('B').int64(0x16B3748L).int64(1_000_000L).int32(759)),
                wire(w ->
                        w.byte1('C').int8(0).int64(0x16B3748L).int64(0x16B3790L).int64(1_000_000L)),
                wire(w -> w.byte1('O').int64(0x16B3748L).string("loom_apply_node_b")),
                wire(w -> w.byte1('R')
                        .int32(16384)
                        .string("loom")
                        .string("nodes")
                        .int8('f')
                        .int16(3)
                        .int8(1)
                        .string("id")
                        .int32(25)
                        .int32(-1)
                        .int8(0)
                        .string("properties")
                        .int32(3802)
                        .int32(-1)
                        .int8(0)
                        .string("version")
                        .int32(20)
                        .int32(-1)),
                wire(w -> w.byte1('I')
                        .int32(16384)
                        .byte1('N')
                        .int16(3)
                        .text("fact-1")
                        .text("{\"a\": 1}")
                        .text("1")),
                wire(w -> w.byte1('U')
                        .int32(16384)
                        .byte1('O')
                        .int16(3)
                        .text("fact-1")
                        .byte1('u')
                        .text("1")
                        .byte1('N')
                        .int16(3)
                        .text("fact-1")
                        .byte1('u')
                        .text("2")),
                wire(w -> w.byte1('D')
                        .int32(16384)
                        .byte1('O')
                        .int16(3)
                        .text("fact-1")
                        .byte1('n')
                        .text("2")),
                wire(w -> w.byte1('T').int32(1).int8(0).int32(16384)));
    }

    @Provide
    Arbitrary<byte[]> mutatedPgoutput() {
        return Mutations.of(pgoutput());
    }

    @Property(tries = 1000)
    void aPgoutputMessageDecodesOrIsRefused(@ForAll("mutatedPgoutput") byte[] message) {
        PgOutputDecoder decoder = new PgOutputDecoder();
        assertTimeoutPreemptively(BOUND, () -> {
            try {
                decoder.decode(ByteBuffer.wrap(message));
            } catch (PgOutputException expected) {
                // capture stops after its retries, naming the LSN
            }
        });
    }

    private static byte[] wire(Consumer<PgOutputDecoderTest.Wire> writing) {
        PgOutputDecoderTest.Wire wire = new PgOutputDecoderTest.Wire();
        writing.accept(wire);
        return wire.bytes();
    }
}
