package dev.loomdb.edge.merge;

/**
 * The merge rule of the mesh: of two states of one node or edge, the one with the later hybrid
 * logical clock wins; equal clocks are decided by the writing node's id (compared byte by byte),
 * so every node picks the same winner whatever order the states arrive in. An equal state changes
 * nothing, which makes applying a message twice harmless.
 */
public final class LastWriteWins {

    /**
     * The same rule as a condition of {@code INSERT ... ON CONFLICT DO UPDATE}, comparing the stored
     * row {@code t} with the incoming one ({@code EXCLUDED}), so that PostgreSQL merges atomically.
     */
    public static final String SQL_CONDITION =
            "(t.hlc, t.origin COLLATE \"C\") < (EXCLUDED.hlc, EXCLUDED.origin COLLATE \"C\")";

    private LastWriteWins() {}

    /** Whether the incoming state replaces the stored one. */
    public static boolean incomingWins(long storedHlc, String storedOrigin, long incomingHlc, String incomingOrigin) {
        if (storedHlc != incomingHlc) {
            return storedHlc < incomingHlc;
        }
        return compareBytes(storedOrigin, incomingOrigin) < 0;
    }

    private static int compareBytes(String a, String b) {
        byte[] x = a.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        byte[] y = b.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        return java.util.Arrays.compareUnsigned(x, y);
    }
}
