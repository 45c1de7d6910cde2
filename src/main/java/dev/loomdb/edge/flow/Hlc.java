package dev.loomdb.edge.flow;

import java.time.Duration;
import java.time.Instant;

/**
 * A hybrid logical clock reading, as the stamping trigger writes it: milliseconds since the epoch
 * shifted left by 16 bits, plus a 16-bit logical counter, so that it orders writes by time and
 * every write is later than the state it replaced. Prints itself as the decimal number (what the
 * database, the envelope and the REST API carry: a JavaScript number cannot hold it exactly).
 */
public record Hlc(long value) implements Comparable<Hlc> {

    public static final Hlc ZERO = new Hlc(0);

    /** The earliest clock of {@code time}: its milliseconds, counter 0. */
    public static Hlc at(Instant time) {
        return new Hlc(time.toEpochMilli() << 16);
    }

    /** The clock {@code age} before now: what is older is beyond a retention of that length. */
    public static Hlc horizon(Duration age) {
        return new Hlc((System.currentTimeMillis() - age.toMillis()) << 16);
    }

    public static Hlc parse(String decimal) {
        return new Hlc(Long.parseLong(decimal));
    }

    /** The wall-clock time of the write, to the millisecond. */
    public Instant time() {
        return Instant.ofEpochMilli(value >>> 16);
    }

    /** The logical counter: writes within one millisecond. */
    public int counter() {
        return (int) (value & 0xFFFF);
    }

    public boolean isBefore(Hlc other) {
        return value < other.value;
    }

    public static Hlc max(Hlc a, Hlc b) {
        return a.value >= b.value ? a : b;
    }

    @Override
    public int compareTo(Hlc other) {
        return Long.compare(value, other.value);
    }

    @Override
    public String toString() {
        return Long.toString(value);
    }
}
