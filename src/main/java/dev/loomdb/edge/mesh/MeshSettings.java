package dev.loomdb.edge.mesh;

import dev.loomdb.edge.flow.Change;
import dev.loomdb.edge.flow.Scope;
import dev.loomdb.edge.flow.TypeSet;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/** How the node reaches the broker and which topics are its mesh's. */
public record MeshSettings(
        String host,
        int port,
        Optional<String> username,
        Optional<String> password,
        String clientId,
        String mesh,
        String nodeId,
        int maxInflight,
        int maxMessageSize,
        Duration reconnectInterval,
        Scope follows,
        Tls tls,
        List<Server> servers) {

    /**
     * One broker server the node may use ({@code loom.mqtt.servers}): the node connects to the first that
     * answers and moves on to the next when it is lost.
     */
    public record Server(String host, int port, boolean tls) {
        @Override
        public String toString() {
            return host + ":" + port;
        }

        /**
         * {@code host:port}, {@code tcp://host:port} or {@code tls://host:port} (TLS as {@code tlsDefault} when
         * no scheme is given; the port defaults to 1883, or 8883 with TLS).
         */
        public static Server parse(String entry, boolean tlsDefault) {
            String text = entry.trim();
            boolean tls = tlsDefault;
            if (text.startsWith("tls://") || text.startsWith("ssl://")) {
                tls = true;
                text = text.substring(6);
            } else if (text.startsWith("tcp://")) {
                tls = false;
                text = text.substring(6);
            }
            int colon = text.lastIndexOf(':');
            String host = colon < 0 ? text : text.substring(0, colon);
            int port;
            try {
                port = colon < 0 ? (tls ? 8883 : 1883) : Integer.parseInt(text.substring(colon + 1));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(
                        "loom.mqtt.servers: '" + entry + "' is not host:port (tcp:// or tls:// in front if wanted)");
            }
            if (host.isBlank() || port < 1 || port > 65535) {
                throw new IllegalArgumentException(
                        "loom.mqtt.servers: '" + entry + "' is not host:port (tcp:// or tls:// in front if wanted)");
            }
            return new Server(host, port, tls);
        }
    }

    public MeshSettings {
        servers = servers == null || servers.isEmpty()
                ? List.of(new Server(host, port, tls.enabled()))
                : List.copyOf(servers);
    }

    /** TLS to the broker: off, or the stores to trust and to present (each a path, or empty for the JVM's / none). */
    public record Tls(
            boolean enabled,
            Optional<String> trustStore,
            Optional<String> trustStorePassword,
            Optional<String> keyStore,
            Optional<String> keyStorePassword,
            boolean verifyHost) {
        public static final Tls OFF =
                new Tls(false, Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(), true);
    }

    /**
     * The topic of this node's changes of one kind and type: {@code loom/<mesh>/changes/<node-id>/<kind>/<type>},
     * the type escaped ({@link #topicLevel}), so that the broker sends each node only the types it follows.
     */
    public String changesTopic(Change.Kind kind, String type) {
        return changesPrefix(nodeId) + kind.wireName() + "/" + topicLevel(type);
    }

    /** The start of every topic of {@code node}'s changes: {@code loom/<mesh>/changes/<node>/}. */
    public String changesPrefix(String node) {
        return "loom/" + mesh + "/changes/" + node + "/";
    }

    /**
     * A type as one topic level: {@code %}, {@code /}, {@code +}, {@code #} and control characters
     * percent-encoded (UTF-8), everything else as it is.
     */
    public static String topicLevel(String type) {
        StringBuilder level = new StringBuilder(type.length());
        for (byte b : type.getBytes(StandardCharsets.UTF_8)) {
            char c = (char) (b & 0xff);
            if (c == '%' || c == '/' || c == '+' || c == '#' || c < 0x20 || c == 0x7f) {
                level.append('%').append(String.format("%02X", (int) c));
            } else {
                level.append(c);
            }
        }
        return new String(level.toString().getBytes(StandardCharsets.ISO_8859_1), StandardCharsets.UTF_8);
    }

    /**
     * The filters that receive the changes this node follows: {@code loom/<mesh>/changes/#} for all,
     * else one per kind ({@code .../+/node/+}) or per type ({@code .../+/node/Person}).
     */
    public List<String> changesFilters() {
        String base = "loom/" + mesh + "/changes/";
        if (follows.isAll()) {
            return List.of(base + "#");
        }
        List<String> filters = new ArrayList<>();
        for (Change.Kind kind : Change.Kind.values()) {
            TypeSet types = follows.of(kind);
            if (types.isAll()) {
                filters.add(base + "+/" + kind.wireName() + "/+");
            } else if (!types.except()) {
                types.types().forEach(t -> filters.add(base + "+/" + kind.wireName() + "/" + topicLevel(t)));
            } else {
                throw new IllegalArgumentException("a filter cannot leave types out: " + follows);
            }
        }
        return filters;
    }

    /**
     * Filters this node may have been subscribed to by an earlier run (other types, the whole mesh,
     * or the one-level topics of format 1's first layout) that it must not keep now.
     */
    public List<String> formerFilters(List<String> earlier) {
        String base = "loom/" + mesh + "/changes/";
        Set<String> former = new LinkedHashSet<>(earlier);
        former.addAll(List.of(base + "+", base + "#", base + "+/node/+", base + "+/edge/+"));
        former.removeAll(filters());
        former.removeIf(f -> !f.startsWith(base));
        return List.copyOf(former);
    }

    /** The filter of state-sync messages addressed to this node: {@code loom/<mesh>/sync/<node-id>/<from>}. */
    public String syncFilter() {
        return "loom/" + mesh + "/sync/" + nodeId + "/+";
    }

    /** The topic of state-sync messages from this node to {@code peer}. */
    public String syncTopic(String peer) {
        return "loom/" + mesh + "/sync/" + peer + "/" + nodeId;
    }

    /** The filter of every node's presence (retained): {@code loom/<mesh>/nodes/<node-id>}. */
    public String presenceFilter() {
        return "loom/" + mesh + "/nodes/+";
    }

    /** This node's presence topic. */
    public String presenceTopic() {
        return "loom/" + mesh + "/nodes/" + nodeId;
    }

    /** Every filter the inbound connection subscribes to. */
    public List<String> filters() {
        List<String> filters = new ArrayList<>(changesFilters());
        filters.add(syncFilter());
        filters.add(presenceFilter());
        return filters;
    }
}
