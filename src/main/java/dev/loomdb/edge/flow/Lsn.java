package dev.loomdb.edge.flow;

/**
 * A PostgreSQL write-ahead-log position. Compares by position and prints itself the way
 * PostgreSQL does ({@code 16/B374D848}).
 */
public record Lsn(long value) implements Comparable<Lsn> {

    public static final Lsn ZERO = new Lsn(0);

    public static Lsn parse(String text) {
        int slash = text.indexOf('/');
        if (slash < 0) {
            throw new IllegalArgumentException("not an LSN: " + text);
        }
        long high = Long.parseLong(text.substring(0, slash), 16);
        long low = Long.parseLong(text.substring(slash + 1), 16);
        return new Lsn((high << 32) | low);
    }

    public boolean isAfter(Lsn other) {
        return compareTo(other) > 0;
    }

    public static Lsn max(Lsn a, Lsn b) {
        return a.compareTo(b) >= 0 ? a : b;
    }

    @Override
    public int compareTo(Lsn other) {
        return Long.compareUnsigned(value, other.value);
    }

    @Override
    public String toString() {
        return Long.toHexString(value >>> 32).toUpperCase() + "/"
                + Long.toHexString(value & 0xFFFFFFFFL).toUpperCase();
    }
}
