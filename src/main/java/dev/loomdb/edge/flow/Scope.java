package dev.loomdb.edge.flow;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

/**
 * A part of the graph, by kind and type: what a node follows ({@code loom.sync.node-types},
 * {@code loom.sync.edge-types}), what it publishes ({@code loom.sync.publish.*}), and what a round of
 * state sync between two nodes covers.
 *
 * <p>On the wire (presence, state-sync requests) it is {@code {"node":"*","edge":["KNOWS"]}}: per
 * kind {@code "*"} for every type, a list for those types, or {@code {"except":[...]}}.
 */
public record Scope(TypeSet nodes, TypeSet edges) {

    public static final Scope ALL = new Scope(TypeSet.ALL, TypeSet.ALL);

    public TypeSet of(Change.Kind kind) {
        return kind == Change.Kind.NODE ? nodes : edges;
    }

    public boolean includes(Change.Kind kind, String type) {
        return of(kind).includes(type);
    }

    public boolean includes(Change change) {
        return includes(change.kind(), change.type());
    }

    public boolean isAll() {
        return nodes.isAll() && edges.isAll();
    }

    public boolean isEmpty() {
        return nodes.isEmpty() && edges.isEmpty();
    }

    public Scope intersect(Scope other) {
        return new Scope(nodes.intersect(other.nodes), edges.intersect(other.edges));
    }

    public Scope minus(Scope other) {
        return new Scope(nodes.minus(other.nodes), edges.minus(other.edges));
    }

    /** The changes of this scope, in their order (the same list when the scope is everything). */
    public List<Change> filter(List<Change> changes) {
        if (isAll()) {
            return changes;
        }
        List<Change> kept = new ArrayList<>(changes.size());
        for (Change change : changes) {
            if (includes(change)) {
                kept.add(change);
            }
        }
        return kept;
    }

    /** The key of a kind and type in an envelope's {@code spans}: {@code node/Person}. */
    public static String spanKey(Change.Kind kind, String type) {
        return kind.wireName() + "/" + type;
    }

    /** Whether the kind and type a span key names is in this scope (false for a key that names none). */
    public boolean includesSpan(String key) {
        int slash = key.indexOf('/');
        if (slash < 0) {
            return false;
        }
        String kind = key.substring(0, slash);
        String type = key.substring(slash + 1);
        return switch (kind) {
            case "node" -> nodes.includes(type);
            case "edge" -> edges.includes(type);
            default -> false;
        };
    }

    public ObjectNode toJson(ObjectNode json) {
        put(json, "node", nodes);
        put(json, "edge", edges);
        return json;
    }

    private static void put(ObjectNode json, String field, TypeSet set) {
        if (set.isAll()) {
            json.put(field, "*");
        } else if (set.except()) {
            set.types().forEach(json.putObject(field).putArray("except")::add);
        } else {
            set.types().forEach(json.putArray(field)::add);
        }
    }

    /** Reads the wire form; a missing field or node means every type; anything else unreadable is an error. */
    public static Scope fromJson(JsonNode json) {
        if (json == null || json.isMissingNode() || json.isNull()) {
            return ALL;
        }
        return new Scope(set(json.path("node"), "node"), set(json.path("edge"), "edge"));
    }

    private static TypeSet set(JsonNode json, String field) {
        if (json.isMissingNode() || json.isNull() || "*".equals(json.asText(null))) {
            return TypeSet.ALL;
        }
        boolean except = json.isObject();
        JsonNode list = except ? json.path("except") : json;
        if (!list.isArray()) {
            throw new IllegalArgumentException(
                    "scope '" + field + "' must be \"*\", a list of types, or {\"except\": [...]}");
        }
        TreeSet<String> types = new TreeSet<>();
        for (JsonNode type : list) {
            if (!type.isTextual()) {
                throw new IllegalArgumentException("scope '" + field + "' lists a type that is not a string");
            }
            types.add(type.asText());
        }
        return new TypeSet(except, types);
    }

    @Override
    public String toString() {
        return "node types " + nodes + ", edge types " + edges;
    }
}
