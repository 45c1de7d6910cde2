package dev.loomdb.edge.graph;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.List;
import java.util.Map;

/**
 * The seed's graph calls for code packaged with the node: inject it and call {@code putNode},
 * {@code queryNodes}, {@code traverse}, ... The same rules as the REST API hold (the same checks run):
 * a refused call fails its {@link Uni} with an {@link ApiProblem} whose {@link ApiProblem#status()} is
 * the REST status (400, 404, 412, 413, 422) and whose message is the problem's detail. Results are
 * the JSON objects the REST API answers with. Writes are captured and synced like any other.
 *
 * <p>Each method returns a lazy {@link Uni}: subscribe to it, or {@code await()} it off the event loop.
 */
@ApplicationScoped
public class LoomGraph {

    private final GraphService graph;
    private final GraphQueries queries;
    private final PathSearch paths;
    private final GraphBatch batches;
    private final ObjectMapper mapper;

    public LoomGraph(
            GraphService graph, GraphQueries queries, PathSearch paths, GraphBatch batches, ObjectMapper mapper) {
        this.graph = graph;
        this.queries = queries;
        this.paths = paths;
        this.batches = batches;
        this.mapper = mapper;
    }

    /** putNode: creates or replaces the node. */
    public Uni<ObjectNode> putNode(String id, String type, Map<String, ?> properties) {
        return putNode(id, type, properties, null);
    }

    /** putNode only if the node is at {@code ifMatch} (a version, or "*" for any): else 412. */
    public Uni<ObjectNode> putNode(String id, String type, Map<String, ?> properties, String ifMatch) {
        return Uni.createFrom()
                .deferred(() -> graph.replaceNode(id, body("type", type, "properties", properties), ifMatch))
                .map(Written::value)
                .map(this::tree);
    }

    /** Merges properties into the node (a null value removes that property). */
    public Uni<ObjectNode> patchNode(String id, Map<String, ?> properties) {
        return Uni.createFrom()
                .deferred(() -> graph.patchNode(id, body("properties", properties), null))
                .map(this::tree);
    }

    /** The node; fails with a 404 {@link ApiProblem} when there is none. */
    public Uni<ObjectNode> getNode(String id) {
        return Uni.createFrom().deferred(() -> graph.getNode(id)).map(this::tree);
    }

    /** deleteNode: leaves a tombstone that syncs. */
    public Uni<Void> deleteNode(String id) {
        return Uni.createFrom().deferred(() -> graph.deleteNode(id, null));
    }

    /**
     * queryNodes: a page of nodes by id, of {@code type} (or any), whose properties contain {@code where}
     * (or any): {@code {"items": [...], "next": <id or null>}}; pass {@code next} as {@code after}.
     */
    public Uni<ObjectNode> queryNodes(String type, Map<String, ?> where, String after, int limit) {
        return Uni.createFrom()
                .deferred(() -> graph.listNodes(type, after, String.valueOf(limit), where == null ? null : json(where)))
                .map(this::tree);
    }

    /** putEdge: creates or replaces the edge from {@code source} to {@code target}. */
    public Uni<ObjectNode> putEdge(String id, String type, String source, String target, Map<String, ?> properties) {
        return Uni.createFrom()
                .deferred(() -> graph.replaceEdge(
                        id, body("type", type, "source", source, "target", target, "properties", properties), null))
                .map(Written::value)
                .map(this::tree);
    }

    public Uni<ObjectNode> getEdge(String id) {
        return Uni.createFrom().deferred(() -> graph.getEdge(id)).map(this::tree);
    }

    /** deleteEdge: leaves a tombstone that syncs. */
    public Uni<Void> deleteEdge(String id) {
        return Uni.createFrom().deferred(() -> graph.deleteEdge(id, null));
    }

    /** A node's neighbours; {@code direction} out, in or both; types may be null (any) or comma-separated. */
    public Uni<ObjectNode> neighbors(String id, String direction, String edgeTypes, String nodeTypes, int limit) {
        return Uni.createFrom()
                .deferred(() -> queries.neighbors(id, direction, edgeTypes, nodeTypes, String.valueOf(limit)))
                .map(this::tree);
    }

    /** Breadth-first from {@code from}, each node once with its depth. */
    public Uni<ObjectNode> traverse(
            String from, int maxDepth, String direction, String edgeTypes, String nodeTypes, int limit) {
        return Uni.createFrom()
                .deferred(() -> queries.traverse(
                        from, String.valueOf(maxDepth), direction, edgeTypes, nodeTypes, String.valueOf(limit)))
                .map(this::tree);
    }

    /** A shortest path by hops, or {@code {"found": false}}. */
    public Uni<ObjectNode> path(String from, String to, int maxDepth, String direction) {
        return Uni.createFrom()
                .deferred(() -> paths.path(from, to, String.valueOf(maxDepth), direction))
                .map(this::tree);
    }

    /** The lightest path of at most {@code maxDepth} hops, weighing each edge by its numeric property {@code weight}. */
    public Uni<ObjectNode> path(String from, String to, int maxDepth, String direction, String weight) {
        return Uni.createFrom()
                .deferred(() -> paths.path(from, to, String.valueOf(maxDepth), direction, weight))
                .map(this::tree);
    }

    /**
     * Writes in one transaction, all or nothing: each operation a map as in {@code POST /api/batch}, e.g.
     * {@code Map.of("op", "putNode", "id", "n1", "type", "FACT", "properties", Map.of())}.
     */
    public Uni<ObjectNode> batch(List<? extends Map<String, ?>> operations) {
        return Uni.createFrom()
                .deferred(() -> batches.run(json(Map.of("operations", operations))))
                .map(this::tree);
    }

    private String body(Object... fields) {
        ObjectNode json = mapper.createObjectNode();
        for (int i = 0; i < fields.length; i += 2) {
            if (fields[i + 1] != null) {
                json.set((String) fields[i], mapper.valueToTree(fields[i + 1]));
            }
        }
        return json.toString();
    }

    /**
     * The answer as a plain tree: the REST answers pass stored properties through as raw JSON text, which
     * Java code could not navigate.
     */
    private ObjectNode tree(ObjectNode answer) {
        try {
            return (ObjectNode) mapper.readTree(mapper.writeValueAsString(answer));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("The node's answer is not JSON", e);
        }
    }

    private String json(Object value) {
        try {
            return mapper.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw ApiProblem.badRequest("The value cannot be written as JSON: " + e.getOriginalMessage() + ".");
        }
    }
}
