package dev.loomdb.edge.fuzz;

import java.util.Arrays;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;

/**
 * Inputs for mutation fuzzing: a valid sample with a few random edits (bit flips, bytes set to edge values,
 * insertions, deletions, truncation, a block duplicated), the way coverage-free fuzzers find the inputs a
 * parser does not expect. jqwik shrinks a failing input to a small one and replays it by its seed.
 */
public final class Mutations {

    private Mutations() {}

    /** One edit at a position given as a fraction of the input's length. */
    record Edit(int kind, double at, int value, int length) {
        byte[] apply(byte[] in) {
            if (in.length == 0) {
                return new byte[] {(byte) value};
            }
            int i = Math.min(in.length - 1, (int) (at * in.length));
            return switch (kind) {
                case 0 -> { // flip one bit
                    byte[] out = in.clone();
                    out[i] ^= (byte) (1 << (value & 7));
                    yield out;
                }
                case 1 -> { // an edge value
                    byte[] out = in.clone();
                    byte[] edges = {
                        0, (byte) 0xff, (byte) 0x7f, (byte) 0x80, '"', '\\', '{', '}', '[', ']', ',', ':', '\n'
                    };
                    out[i] = edges[Math.floorMod(value, edges.length)];
                    yield out;
                }
                case 2 -> { // insert bytes
                    byte[] out = new byte[in.length + length];
                    System.arraycopy(in, 0, out, 0, i);
                    Arrays.fill(out, i, i + length, (byte) value);
                    System.arraycopy(in, i, out, i + length, in.length - i);
                    yield out;
                }
                case 3 -> { // delete bytes
                    int n = Math.min(length, in.length - i);
                    byte[] out = new byte[in.length - n];
                    System.arraycopy(in, 0, out, 0, i);
                    System.arraycopy(in, i + n, out, i, in.length - i - n);
                    yield out;
                }
                case 4 -> Arrays.copyOf(in, i); // truncate
                default -> { // duplicate a block
                    int n = Math.min(length, in.length - i);
                    byte[] out = new byte[in.length + n];
                    System.arraycopy(in, 0, out, 0, i + n);
                    System.arraycopy(in, i, out, i + n, in.length - i);
                    yield out;
                }
            };
        }
    }

    static Arbitrary<Edit> edits() {
        return Combinators.combine(
                        Arbitraries.integers().between(0, 5),
                        Arbitraries.doubles().between(0, 1),
                        Arbitraries.integers().between(0, 255),
                        Arbitraries.integers().between(1, 64))
                .as(Edit::new);
    }

    /** A sample of {@code samples} with 1 to 4 edits. */
    public static Arbitrary<byte[]> of(List<byte[]> samples) {
        return Combinators.combine(
                        Arbitraries.of(samples), edits().list().ofMinSize(1).ofMaxSize(4))
                .as((sample, list) -> {
                    byte[] out = sample;
                    for (Edit edit : list) {
                        out = edit.apply(out);
                    }
                    return out;
                });
    }
}
