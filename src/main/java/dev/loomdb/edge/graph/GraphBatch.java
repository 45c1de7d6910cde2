package dev.loomdb.edge.graph;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loomdb.edge.config.LoomConfig;
import io.smallrye.mutiny.Uni;
import io.vertx.pgclient.PgException;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The seed's transactions: a list of puts, patches and deletes of nodes and edges, all checked before any
 * runs, then run in order in one PostgreSQL transaction. The capture sees one transaction, so the mesh
 * publishes it as one unit and peers apply it in one transaction. Any failure (a bad operation, an If-Match
 * that does not hold, a missing row) rolls all of it back and names the operation.
 */
@ApplicationScoped
public class GraphBatch {

    /** The operations a batch takes, by the seed's names. */
    static final List<String> OPERATIONS =
            List.of("putNode", "patchNode", "deleteNode", "putEdge", "patchEdge", "deleteEdge");

    private final GraphService graph;
    private final GraphStore store;
    private final ObjectMapper mapper;
    private final LoomConfig config;

    public GraphBatch(GraphService graph, GraphStore store, ObjectMapper mapper, LoomConfig config) {
        this.graph = graph;
        this.store = store;
        this.mapper = mapper;
        this.config = config;
    }

    /** A batch from its JSON body: {@code {"operations": [{"op": "putNode", "id": ..., ...}, ...]}}. */
    public Uni<ObjectNode> run(String body) {
        ObjectNode json = GraphService.checkFields(graph.json(body, "a batch"), Set.of("operations"), "a batch");
        JsonNode operations = json.get("operations");
        if (operations == null || !operations.isArray() || operations.isEmpty()) {
            throw ApiProblem.badRequest("The field 'operations' must be a non-empty array of operations, e.g."
                    + " [{\"op\":\"putNode\",\"id\":\"n1\",\"type\":\"FACT\",\"properties\":{}}].");
        }
        int max = config.api().maxBatchOperations();
        if (operations.size() > max) {
            throw new ApiProblem(
                    413,
                    "Content too large",
                    "The batch has " + operations.size() + " operations; this node takes at most " + max
                            + " in one batch (setting loom.api.max-batch-operations).");
        }
        List<Operation> checked = new ArrayList<>(operations.size());
        for (int i = 0; i < operations.size(); i++) {
            checked.add(check(i, operations.get(i)));
        }
        return store.inTransaction(tx -> runAll(tx, checked)).map(this::answer);
    }

    /** One operation of a batch, checked. */
    record Operation(int index, String op, GraphService.Write write) {}

    private record Result(Operation operation, Written<ObjectNode> written) {}

    private Operation check(int index, JsonNode json) {
        if (json == null || !json.isObject()) {
            throw at(index, null, ApiProblem.badRequest("An operation is a JSON object with 'op' and 'id'."));
        }
        JsonNode opField = json.get("op");
        String op = opField != null && opField.isTextual() ? opField.textValue() : null;
        if (op == null || !OPERATIONS.contains(op)) {
            throw at(
                    index,
                    op,
                    ApiProblem.badRequest("The field 'op' is " + (opField == null ? "missing" : opField)
                            + "; it is one of " + String.join(", ", OPERATIONS) + "."));
        }
        try {
            ObjectNode fields = ((ObjectNode) json).deepCopy();
            fields.remove("op");
            JsonNode ifMatchField = fields.remove("ifMatch");
            String ifMatch = ifMatchField == null || ifMatchField.isNull()
                    ? null
                    : ifMatchField.isTextual() ? ifMatchField.textValue() : ifMatchField.toString();
            JsonNode idField = fields.get("id");
            if (idField == null || !idField.isTextual()) {
                throw ApiProblem.badRequest("The field 'id' is missing or not a string.");
            }
            String id = idField.textValue();
            boolean node = op.endsWith("Node");
            Set<String> allowed = new HashSet<>(
                    op.startsWith("delete")
                            ? Set.of("id")
                            : node ? GraphService.NODE_FIELDS : GraphService.EDGE_FIELDS);
            GraphService.checkFields(
                    fields, allowed, (node ? "a node" : "an edge") + " operation (besides op, ifMatch)");
            GraphService.Write write = switch (op) {
                case "putNode" -> graph.putNode(id, fields, ifMatch);
                case "patchNode" -> graph.patchNode(id, fields, ifMatch);
                case "deleteNode" -> graph.deleteNodeWrite(id, ifMatch);
                case "putEdge" -> graph.putEdge(id, fields, ifMatch);
                case "patchEdge" -> graph.patchEdge(id, fields, ifMatch);
                default -> graph.deleteEdgeWrite(id, ifMatch);
            };
            return new Operation(index, op, write);
        } catch (ApiProblem problem) {
            throw at(index, op, problem);
        }
    }

    private static Uni<List<Result>> runAll(GraphStore tx, List<Operation> operations) {
        Uni<List<Result>> done = Uni.createFrom().item(new ArrayList<>(operations.size()));
        for (Operation operation : operations) {
            done = done.chain(results -> operation
                    .write()
                    .on(tx)
                    .onFailure()
                    .transform(failure -> at(operation, failure))
                    .map(written -> {
                        results.add(new Result(operation, written));
                        return results;
                    }));
        }
        return done;
    }

    /** A failure while running an operation, said with the operation's index; the transaction rolls back. */
    private static Throwable at(Operation operation, Throwable failure) {
        if (failure instanceof ApiProblem problem) {
            return at(operation.index(), operation.op(), problem);
        }
        if (failure instanceof PgException pg
                && pg.getSqlState() != null
                && (pg.getSqlState().startsWith("22") || pg.getSqlState().startsWith("23"))) {
            return at(
                    operation.index(),
                    operation.op(),
                    ApiProblem.badRequest("PostgreSQL refused the values: " + pg.getErrorMessage() + "."));
        }
        return failure;
    }

    private static ApiProblem at(int index, String op, ApiProblem problem) {
        return new ApiProblem(
                problem.status(),
                problem.title(),
                "Operation " + index + (op == null ? "" : " (" + op + ")") + ": " + problem.getMessage()
                        + " The batch was not applied; nothing of it was written.",
                index);
    }

    private ObjectNode answer(List<Result> results) {
        ObjectNode json = mapper.createObjectNode();
        json.put("applied", results.size());
        ArrayNode items = json.putArray("results");
        for (Result result : results) {
            ObjectNode item = items.addObject();
            item.put("index", result.operation().index());
            item.put("op", result.operation().op());
            Written<ObjectNode> written = result.written();
            item.put("status", written.value() == null ? 204 : written.created() ? 201 : 200);
            if (written.value() != null) {
                item.set("item", written.value());
            }
        }
        return json;
    }
}
