package dev.loomdb.edge.node;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loomdb.edge.graph.ApiProblem;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.SqlConnection;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import org.eclipse.microprofile.openapi.annotations.Operation;

/**
 * Conflicts kept aside when {@code loom.conflict.auto-resolve} is false: list the open ones, and
 * resolve one by keeping the local state, taking the remote one, or writing custom properties. A
 * resolution is an ordinary local write, later than both states and based on both, so it syncs to
 * every peer and closes the same conflict wherever it was recorded.
 */
@Path("/api/conflicts")
@Produces(MediaType.APPLICATION_JSON)
public class ConflictResource {

    private final Pool pool;
    private final ObjectMapper mapper;

    public ConflictResource(Pool pool, ObjectMapper mapper) {
        this.pool = pool;
        this.mapper = mapper;
    }

    @GET
    @Operation(summary = "Open conflicts, oldest first, each with the local and the remote state")
    public Uni<ArrayNode> openConflicts() {
        return pool.query("SELECT id, kind, entity_id, detected_at::text, local::text, remote::text FROM loom.conflicts"
                        + " WHERE resolved_at IS NULL ORDER BY id")
                .execute()
                .map(rows -> {
                    ArrayNode list = mapper.createArrayNode();
                    for (Row row : rows) {
                        list.add(json(row));
                    }
                    return list;
                });
    }

    @POST
    @Path("{id}/resolve")
    @Consumes(MediaType.WILDCARD)
    @Operation(
            summary = "Resolve a conflict",
            description = "Body: {\"resolution\": \"local\"}, {\"resolution\": \"remote\"}"
                    + " or {\"resolution\": \"custom\", \"properties\": {...}}. The result syncs like any write.")
    public Uni<ObjectNode> resolve(@PathParam("id") long id, String body) {
        JsonNode request = parse(body);
        String resolution = request.path("resolution").asText("");
        if (!resolution.equals("local") && !resolution.equals("remote") && !resolution.equals("custom")) {
            throw ApiProblem.badRequest(
                    "Give \"resolution\": \"local\", \"remote\" or \"custom\" (with \"properties\").");
        }
        JsonNode custom = request.get("properties");
        if (resolution.equals("custom") && (custom == null || !custom.isObject())) {
            throw ApiProblem.badRequest("A custom resolution needs \"properties\": a JSON object.");
        }
        return pool.withTransaction(conn -> conn.preparedQuery(
                        "SELECT kind, entity_id, detected_at::text, local::text, remote::text, resolved_at IS NOT NULL"
                                + " FROM loom.conflicts WHERE id = $1 FOR UPDATE")
                .execute(Tuple.of(id))
                .chain(rows -> {
                    if (rows.size() == 0) {
                        throw ApiProblem.notFound("There is no conflict " + id + ".");
                    }
                    Row row = rows.iterator().next();
                    if (row.getBoolean(5)) {
                        throw new ApiProblem(409, "Conflict", "Conflict " + id + " is already resolved.");
                    }
                    JsonNode local = parse(row.getString(3));
                    JsonNode remote = parse(row.getString(4));
                    JsonNode chosen = resolution.equals("remote") ? remote : local;
                    String properties = resolution.equals("custom")
                            ? custom.toString()
                            : chosen.get("properties").toString();
                    long later = Math.max(
                            Long.parseLong(local.get("hlc").asText()),
                            Long.parseLong(remote.get("hlc").asText()));
                    return write(conn, row.getString(0), row.getString(1), chosen, properties, later)
                            .chain(() -> conn.preparedQuery(
                                            "UPDATE loom.conflicts SET resolved_at = now(), resolution = $2"
                                                    + " WHERE kind = $3 AND entity_id = $4 AND resolved_at IS NULL AND (id = $1"
                                                    + " OR ((local ->> 'hlc')::bigint <= $5 AND (remote ->> 'hlc')::bigint <= $5))")
                                    .execute(Tuple.tuple(java.util.List.of(
                                            id, resolution, row.getString(0), row.getString(1), later))))
                            .map(done -> {
                                ObjectNode result = mapper.createObjectNode();
                                result.put("id", id);
                                result.put("resolution", resolution);
                                result.put("entity", row.getString(1));
                                return result;
                            });
                }));
    }

    /** The resolution as a local write, stamped later than both states and based on both. */
    private static Uni<Void> write(
            SqlConnection conn, String kind, String entityId, JsonNode chosen, String properties, long later) {
        String sql = kind.equals("node")
                ? "UPDATE loom.nodes SET type = $2, properties = $3::text::jsonb, tombstone = $4 WHERE id = $1"
                : "UPDATE loom.edges SET type = $2, properties = $3::text::jsonb, tombstone = $4,"
                        + " source_id = coalesce($5, source_id), target_id = coalesce($6, target_id) WHERE id = $1";
        Tuple params = kind.equals("node")
                ? Tuple.of(
                        entityId,
                        chosen.get("type").asText(),
                        properties,
                        chosen.path("tombstone").asBoolean(false))
                : Tuple.tuple(java.util.Arrays.asList(
                        entityId,
                        chosen.get("type").asText(),
                        properties,
                        chosen.path("tombstone").asBoolean(false),
                        chosen.path("source").asText(null),
                        chosen.path("target").asText(null)));
        return conn.query("SELECT set_config('loom.min_hlc', '" + later + "', true)")
                .execute()
                .chain(() -> conn.preparedQuery(sql).execute(params))
                .replaceWithVoid();
    }

    private ObjectNode json(Row row) {
        ObjectNode json = mapper.createObjectNode();
        json.put("id", row.getLong(0));
        json.put("kind", row.getString(1));
        json.put("entity", row.getString(2));
        json.put("detectedAt", row.getString(3));
        json.set("local", parse(row.getString(4)));
        json.set("remote", parse(row.getString(5)));
        return json;
    }

    private JsonNode parse(String text) {
        if (text == null || text.isBlank()) {
            throw ApiProblem.badRequest("The body is empty; send a JSON object.");
        }
        try {
            return mapper.readTree(text);
        } catch (JsonProcessingException e) {
            throw ApiProblem.badRequest("The body is not valid JSON: " + e.getOriginalMessage() + ".");
        }
    }
}
