package dev.loomdb.edge.config;

import java.util.regex.Pattern;

/** Checks and derives the names the node uses in PostgreSQL and MQTT from its configured ids. */
public final class Names {

    private static final Pattern ID = Pattern.compile("[A-Za-z0-9._-]{1,64}");

    private Names() {}

    /**
     * Fails with a sentence naming the setting when a node id or mesh name cannot be used as an
     * MQTT topic level.
     */
    public static String checkId(String setting, String value) {
        if (value == null || !ID.matcher(value).matches()) {
            throw new IllegalArgumentException(
                    setting + " is '" + value + "': use 1 to 64 characters of" + " letters, digits, '.', '_' or '-'");
        }
        return value;
    }

    /**
     * The replication origin a node applies its peers' changes under: {@code loom_apply_<node id>}.
     * Origins are shared by all databases of a PostgreSQL server, so each node needs its own.
     */
    public static String applyOriginFor(String nodeId) {
        return "loom_apply_" + nodeId.toLowerCase().replaceAll("[^a-z0-9_]", "_");
    }

    /**
     * The replication origin of a node's second apply session (state-sync rows applied beside the live
     * messages): {@code loom_apply_<node id>.side}; the dot is not in any {@link #applyOriginFor} name.
     */
    public static String sideApplyOriginFor(String nodeId) {
        return applyOriginFor(nodeId) + ".side";
    }

    /** The replication slot of a node: {@code loom_<node id>} in lower case, [a-z0-9_] only, 63 characters at most. */
    public static String slotFor(String nodeId) {
        String slot = "loom_" + nodeId.toLowerCase().replaceAll("[^a-z0-9_]", "_");
        return slot.length() > 63 ? slot.substring(0, 63) : slot;
    }
}
