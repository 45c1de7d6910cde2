package dev.loomdb.edge.graph;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.util.RawValue;
import dev.loomdb.edge.config.LoomConfig;
import dev.loomdb.edge.flow.GraphRules;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The graph API's rules: what a valid id, type and body are, and what each operation means
 * (putNode replaces, patchNode merges, deleteNode leaves a tombstone). Turns stored rows into the
 * JSON the API answers with.
 */
@ApplicationScoped
public class GraphService {

    /** Longest id or type, in characters. */
    public static final int MAX_ID_LENGTH = GraphRules.MAX_ID_LENGTH;

    static final Set<String> NODE_FIELDS = Set.of("id", "type", "properties");
    static final Set<String> EDGE_FIELDS = Set.of("id", "type", "source", "target", "properties");

    private final GraphStore store;
    private final ObjectMapper mapper;
    private final LoomConfig config;

    public GraphService(GraphStore store, ObjectMapper mapper, LoomConfig config) {
        this.store = store;
        this.mapper = mapper;
        this.config = config;
    }

    /** One write, checked and ready to run on a store: the pool for one request, a transaction for a batch. */
    @FunctionalInterface
    interface Write {
        /** The stored value (null after a delete) and whether it was created. */
        Uni<Written<ObjectNode>> on(GraphStore store);
    }

    public Uni<Written<ObjectNode>> replaceNode(String id, String body, String ifMatch) {
        checkId("node id", id);
        ifMatch(ifMatch);
        return putNode(id, object(body, NODE_FIELDS, "a node"), ifMatch).on(store);
    }

    public Uni<ObjectNode> patchNode(String id, String body, String ifMatch) {
        checkId("node id", id);
        ifMatch(ifMatch);
        return patchNode(id, object(body, NODE_FIELDS, "a node"), ifMatch)
                .on(store)
                .map(Written::value);
    }

    public Uni<ObjectNode> getNode(String id) {
        checkId("node id", id);
        return store.findNode(id).map(node -> nodeJson(require(node, "node", id)));
    }

    public Uni<Void> deleteNode(String id, String ifMatch) {
        return deleteNodeWrite(id, ifMatch).on(store).replaceWithVoid();
    }

    public Uni<ObjectNode> listNodes(String type, String after, String limit, String where) {
        int size = limit(limit);
        return store.listNodes(blankToNull(type), blankToNull(after), size, where(where))
                .map(page -> pageJson(page.items().stream().map(this::nodeJson).toList(), page.next()));
    }

    public Uni<Written<ObjectNode>> replaceEdge(String id, String body, String ifMatch) {
        checkId("edge id", id);
        ifMatch(ifMatch);
        return putEdge(id, object(body, EDGE_FIELDS, "an edge"), ifMatch).on(store);
    }

    public Uni<ObjectNode> patchEdge(String id, String body, String ifMatch) {
        checkId("edge id", id);
        ifMatch(ifMatch);
        return patchEdge(id, object(body, EDGE_FIELDS, "an edge"), ifMatch)
                .on(store)
                .map(Written::value);
    }

    public Uni<ObjectNode> getEdge(String id) {
        checkId("edge id", id);
        return store.findEdge(id).map(edge -> edgeJson(require(edge, "edge", id)));
    }

    public Uni<Void> deleteEdge(String id, String ifMatch) {
        return deleteEdgeWrite(id, ifMatch).on(store).replaceWithVoid();
    }

    // --- the writes, checked before anything runs

    Write putNode(String id, ObjectNode json, String ifMatch) {
        checkId("node id", id);
        Long version = ifMatch(ifMatch);
        checkBodyId(json, id);
        String type = identifier(json, "type", true);
        String properties = properties(json);
        return on -> on.replaceNode(id, type, properties, version)
                .chain(w -> w == null
                        ? nodePreconditionFailed(on, id, ifMatch)
                        : Uni.createFrom().item(new Written<>(nodeJson(w.value()), w.created())));
    }

    Write patchNode(String id, ObjectNode json, String ifMatch) {
        checkId("node id", id);
        Long version = ifMatch(ifMatch);
        checkBodyId(json, id);
        Patch patch = patch(json);
        String type = identifier(json, "type", false);
        return on -> on.patchNode(id, type, patch.set(), patch.removed(), version)
                .chain(node -> node == null && version != null
                        ? nodePreconditionFailed(on, id, ifMatch)
                        : Uni.createFrom().item(() -> new Written<>(nodeJson(require(node, "node", id)), false)));
    }

    Write deleteNodeWrite(String id, String ifMatch) {
        checkId("node id", id);
        Long version = ifMatch(ifMatch);
        return on -> on.deleteNode(id, version).chain(deleted -> {
            if (deleted) {
                return Uni.createFrom().item(new Written<ObjectNode>(null, false));
            }
            if (version != null) {
                return nodePreconditionFailed(on, id, ifMatch);
            }
            throw ApiProblem.notFound("There is no node '" + id + "'.");
        });
    }

    Write putEdge(String id, ObjectNode json, String ifMatch) {
        checkId("edge id", id);
        Long version = ifMatch(ifMatch);
        checkBodyId(json, id);
        String type = identifier(json, "type", true);
        String source = identifier(json, "source", true);
        String target = identifier(json, "target", true);
        String properties = properties(json);
        return on -> on.replaceEdge(id, type, source, target, properties, version)
                .chain(w -> w == null
                        ? edgePreconditionFailed(on, id, ifMatch)
                        : Uni.createFrom().item(new Written<>(edgeJson(w.value()), w.created())));
    }

    Write patchEdge(String id, ObjectNode json, String ifMatch) {
        checkId("edge id", id);
        Long version = ifMatch(ifMatch);
        checkBodyId(json, id);
        Patch patch = patch(json);
        String type = identifier(json, "type", false);
        String source = identifier(json, "source", false);
        String target = identifier(json, "target", false);
        return on -> on.patchEdge(id, type, source, target, patch.set(), patch.removed(), version)
                .chain(edge -> edge == null && version != null
                        ? edgePreconditionFailed(on, id, ifMatch)
                        : Uni.createFrom().item(() -> new Written<>(edgeJson(require(edge, "edge", id)), false)));
    }

    Write deleteEdgeWrite(String id, String ifMatch) {
        checkId("edge id", id);
        Long version = ifMatch(ifMatch);
        return on -> on.deleteEdge(id, version).chain(deleted -> {
            if (deleted) {
                return Uni.createFrom().item(new Written<ObjectNode>(null, false));
            }
            if (version != null) {
                return edgePreconditionFailed(on, id, ifMatch);
            }
            throw ApiProblem.notFound("There is no edge '" + id + "'.");
        });
    }

    public Uni<ObjectNode> listEdges(
            String type, String source, String target, String after, String limit, String where) {
        int size = limit(limit);
        return store.listEdges(
                        blankToNull(type),
                        blankToNull(source),
                        blankToNull(target),
                        blankToNull(after),
                        size,
                        where(where))
                .map(page -> pageJson(page.items().stream().map(this::edgeJson).toList(), page.next()));
    }

    // --- request rules

    /** Ids and types: {@link GraphRules#idProblem}, the same rule as for changes from the mesh. */
    static void checkId(String what, String value) {
        String problem = GraphRules.idProblem(what, value);
        if (problem != null) {
            throw ApiProblem.badRequest(problem);
        }
    }

    private ObjectNode object(String body, Set<String> fields, String what) {
        return checkFields(json(body, what), fields, what);
    }

    /** The body as a JSON object. */
    ObjectNode json(String body, String what) {
        if (body == null || body.isBlank()) {
            throw ApiProblem.badRequest("The body is empty; send a JSON object describing " + what + ".");
        }
        JsonNode json;
        try {
            json = mapper.readTree(body);
        } catch (JsonProcessingException e) {
            String where = e.getLocation() == null
                    ? ""
                    : " at line " + e.getLocation().getLineNr() + ", column "
                            + e.getLocation().getColumnNr();
            throw ApiProblem.badRequest("The body is not valid JSON" + where + ": " + e.getOriginalMessage() + ".");
        }
        if (json == null || !json.isObject()) {
            throw ApiProblem.badRequest("The body must be a JSON object describing " + what + ".");
        }
        return (ObjectNode) json;
    }

    static ObjectNode checkFields(ObjectNode json, Set<String> fields, String what) {
        Iterator<String> names = json.fieldNames();
        while (names.hasNext()) {
            String name = names.next();
            if (!fields.contains(name)) {
                throw ApiProblem.badRequest("Unknown field '" + name + "'; " + what + " has "
                        + String.join(", ", fields.stream().sorted().toList()) + ".");
            }
        }
        return (ObjectNode) json;
    }

    private static void checkBodyId(ObjectNode json, String id) {
        JsonNode bodyId = json.get("id");
        if (bodyId != null && !(bodyId.isTextual() && bodyId.textValue().equals(id))) {
            throw ApiProblem.badRequest("The body's id " + bodyId + " differs from the id in the path, '" + id + "'.");
        }
    }

    private static String identifier(ObjectNode json, String field, boolean required) {
        JsonNode value = json.get(field);
        if (value == null || value.isNull()) {
            if (required) {
                throw ApiProblem.badRequest("The field '" + field + "' is missing; it is a string of 1 to "
                        + MAX_ID_LENGTH + " characters.");
            }
            return null;
        }
        if (!value.isTextual()) {
            throw ApiProblem.badRequest("The field '" + field + "' must be a string, not "
                    + value.getNodeType().toString().toLowerCase() + ".");
        }
        checkId(field, value.textValue());
        return value.textValue();
    }

    private static String properties(ObjectNode json) {
        JsonNode properties = json.get("properties");
        if (properties == null || properties.isNull()) {
            return "{}";
        }
        if (!properties.isObject()) {
            throw ApiProblem.badRequest("The field 'properties' must be a JSON object.");
        }
        String text = properties.toString();
        checkProperties(properties, text);
        return text;
    }

    private record Patch(String set, List<String> removed) {}

    /** A top-level merge patch: each property given is set, a property given as null is removed. */
    private static Patch patch(ObjectNode json) {
        JsonNode properties = json.get("properties");
        if (properties == null || properties.isNull()) {
            return new Patch("{}", List.of());
        }
        if (!properties.isObject()) {
            throw ApiProblem.badRequest("The field 'properties' must be a JSON object.");
        }
        checkProperties(properties, properties.toString());
        ObjectNode set = ((ObjectNode) properties).deepCopy();
        List<String> removed = new ArrayList<>();
        Iterator<Map.Entry<String, JsonNode>> fields = properties.fields();
        while (fields.hasNext()) {
            Map.Entry<String, JsonNode> field = fields.next();
            if (field.getValue().isNull()) {
                removed.add(field.getKey());
                set.remove(field.getKey());
            }
        }
        return new Patch(set.toString(), removed);
    }

    /** The properties' depth and size ({@code text}: their JSON, written once by the caller). */
    private static void checkProperties(JsonNode properties, String text) {
        String problem = GraphRules.depthProblem(depth(properties));
        if (problem == null) {
            problem = GraphRules.sizeProblem(text.getBytes(java.nio.charset.StandardCharsets.UTF_8).length);
        }
        if (problem != null) {
            throw ApiProblem.badRequest(problem);
        }
    }

    /** How deep objects and arrays nest in {@code json}: a scalar is 0, {} is 1. */
    private static int depth(JsonNode json) {
        if (!json.isContainerNode()) {
            return 0;
        }
        int deepest = 0;
        for (JsonNode child : json) {
            deepest = Math.max(deepest, depth(child));
        }
        return 1 + deepest;
    }

    private int limit(String limit) {
        if (limit == null || limit.isBlank()) {
            return config.api().defaultLimit();
        }
        int value;
        try {
            value = Integer.parseInt(limit.trim());
        } catch (NumberFormatException e) {
            throw ApiProblem.badRequest("The limit '" + limit + "' is not a number.");
        }
        if (value < 1 || value > config.api().maxLimit()) {
            throw ApiProblem.badRequest(
                    "The limit must be between 1 and " + config.api().maxLimit() + ".");
        }
        return value;
    }

    /**
     * The version an If-Match header asks for: {@code "3"} or {@code 3} (the ETag the node answers
     * with), {@code *} for any version of a live row, null without the header.
     */
    static Long ifMatch(String header) {
        if (header == null || header.isBlank()) {
            return null;
        }
        String value = header.trim();
        if (value.equals("*")) {
            return GraphStore.ANY_VERSION;
        }
        if (value.startsWith("W/")) {
            value = value.substring(2);
        }
        if (value.length() >= 2 && value.startsWith("\"") && value.endsWith("\"")) {
            value = value.substring(1, value.length() - 1);
        }
        try {
            long version = Long.parseLong(value);
            if (version >= 1) {
                return version;
            }
        } catch (NumberFormatException e) {
            // said below
        }
        throw ApiProblem.badRequest("The If-Match header '" + header + "' is not a version: send the ETag the node"
                + " answered with (a version in quotes, e.g. \"3\"), or * for any.");
    }

    private static <T> Uni<T> nodePreconditionFailed(GraphStore on, String id, String ifMatch) {
        return failedPrecondition("node", id, ifMatch, on.findNode(id).map(n -> n == null ? null : n.version()));
    }

    private static <T> Uni<T> edgePreconditionFailed(GraphStore on, String id, String ifMatch) {
        return failedPrecondition("edge", id, ifMatch, on.findEdge(id).map(e -> e == null ? null : e.version()));
    }

    /** 412: the write's If-Match did not hold; says what the row is at now. */
    private static <T> Uni<T> failedPrecondition(String what, String id, String ifMatch, Uni<Long> current) {
        return current.map(version -> {
            throw new ApiProblem(
                    412,
                    "Precondition failed",
                    version == null
                            ? "There is no " + what + " '" + id + "' (If-Match: " + ifMatch + "); nothing was written."
                            : "The " + what + " '" + id + "' is at version " + version + ", not " + ifMatch
                                    + " (If-Match); nothing was written. Read it again and retry.");
        });
    }

    /** A property filter: a JSON object the properties must contain, e.g. {"status":"open"}; null for none. */
    private String where(String where) {
        if (where == null || where.isBlank()) {
            return null;
        }
        JsonNode json;
        try {
            json = mapper.readTree(where);
        } catch (JsonProcessingException e) {
            throw ApiProblem.badRequest("The filter 'where' is not JSON: " + e.getOriginalMessage()
                    + ". Give a JSON object of properties, e.g. where={\"status\":\"open\"}.");
        }
        if (json == null || !json.isObject()) {
            throw ApiProblem.badRequest("The filter 'where' must be a JSON object of properties the items contain,"
                    + " e.g. where={\"status\":\"open\"}.");
        }
        return json.toString();
    }

    private static String blankToNull(String value) {
        return value == null || value.isEmpty() ? null : value;
    }

    private static <T> T require(T value, String what, String id) {
        if (value == null) {
            throw ApiProblem.notFound("There is no " + what + " '" + id + "'.");
        }
        return value;
    }

    // --- representations

    ObjectNode nodeJson(Node node) {
        ObjectNode json = mapper.createObjectNode();
        json.put("id", node.id());
        json.put("type", node.type());
        json.putRawValue("properties", new RawValue(node.properties()));
        json.put("version", node.version());
        json.put("hlc", node.hlc().toString());
        json.put("origin", node.origin());
        return json;
    }

    ObjectNode edgeJson(Edge edge) {
        ObjectNode json = mapper.createObjectNode();
        json.put("id", edge.id());
        json.put("type", edge.type());
        json.put("source", edge.source());
        json.put("target", edge.target());
        json.putRawValue("properties", new RawValue(edge.properties()));
        json.put("version", edge.version());
        json.put("hlc", edge.hlc().toString());
        json.put("origin", edge.origin());
        return json;
    }

    private ObjectNode pageJson(List<ObjectNode> items, String next) {
        ObjectNode json = mapper.createObjectNode();
        json.putArray("items").addAll(items);
        if (next == null) {
            json.putNull("next");
        } else {
            json.put("next", next);
        }
        return json;
    }
}
