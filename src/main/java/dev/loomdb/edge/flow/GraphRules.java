package dev.loomdb.edge.flow;

/**
 * What an id, a type and a property document may be: one rule for every path into the graph (a REST
 * write, a change from the mesh, a bootstrap page, a repair), so a value one path refuses never comes in
 * through another.
 */
public final class GraphRules {

    /** Longest id or type, in characters. */
    public static final int MAX_ID_LENGTH = 256;

    /** Deepest nesting of objects and arrays in a node's or edge's properties (the properties object is 1). */
    public static final int MAX_PROPERTY_DEPTH = 32;

    /** Largest property document of one node or edge, in bytes of its JSON text. */
    public static final int MAX_PROPERTIES_BYTES = 1 << 20;

    private GraphRules() {}

    /** Null when a property document of {@code bytes} bytes is acceptable; else why not. */
    public static String sizeProblem(long bytes) {
        return bytes <= MAX_PROPERTIES_BYTES
                ? null
                : "The properties have " + bytes + " bytes of JSON; at most " + MAX_PROPERTIES_BYTES + " are allowed.";
    }

    /** Null when {@code value} is an acceptable id or type; else a sentence saying what is wrong. */
    public static String idProblem(String what, String value) {
        if (value == null || value.isEmpty()) {
            return "The " + what + " is empty; use 1 to " + MAX_ID_LENGTH + " characters.";
        }
        if (value.length() > MAX_ID_LENGTH) {
            return "The " + what + " has " + value.length() + " characters; at most " + MAX_ID_LENGTH + " are allowed.";
        }
        for (int i = 0; i < value.length(); i++) {
            if (Character.isISOControl(value.charAt(i))) {
                return "The " + what + " contains a control character at position " + i
                        + "; ids and types are printable text.";
            }
        }
        return null;
    }

    /** Null when properties nested {@code depth} levels deep are acceptable; else why not. */
    public static String depthProblem(int depth) {
        return depth <= MAX_PROPERTY_DEPTH
                ? null
                : "The properties nest " + depth + " levels deep; at most " + MAX_PROPERTY_DEPTH + " are allowed.";
    }
}
