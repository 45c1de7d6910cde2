package dev.loomdb.edge.node;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loomdb.edge.apply.ConflictStore;
import dev.loomdb.edge.graph.ApiProblem;
import dev.loomdb.edge.graph.Bodies;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
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
 * every peer and closes the same conflict wherever it was recorded. HTTP here, SQL in
 * {@link ConflictStore}.
 */
@Path("/api/conflicts")
@Produces(MediaType.APPLICATION_JSON)
public class ConflictResource {

    private final ConflictStore store;
    private final ObjectMapper mapper;

    public ConflictResource(Pool pool, ObjectMapper mapper) {
        this.store = new ConflictStore(pool);
        this.mapper = mapper;
    }

    @GET
    @Operation(summary = "Open conflicts, oldest first, each with the local and the remote state")
    public Uni<ArrayNode> openConflicts() {
        return store.open().map(open -> {
            ArrayNode list = mapper.createArrayNode();
            for (ConflictStore.Open conflict : open) {
                ObjectNode json = list.addObject();
                json.put("id", conflict.id());
                json.put("kind", conflict.kind());
                json.put("entity", conflict.entityId());
                json.put("detectedAt", conflict.detectedAt());
                json.set("local", parse(conflict.local()));
                json.set("remote", parse(conflict.remote()));
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
    public Uni<ObjectNode> resolve(@PathParam("id") long id, byte[] bytes) {
        JsonNode request = parse(Bodies.utf8(bytes));
        String resolution = request.path("resolution").asText("");
        if (!resolution.equals("local") && !resolution.equals("remote") && !resolution.equals("custom")) {
            throw ApiProblem.badRequest(
                    "Give \"resolution\": \"local\", \"remote\" or \"custom\" (with \"properties\").");
        }
        JsonNode custom = request.get("properties");
        if (resolution.equals("custom") && (custom == null || !custom.isObject())) {
            throw ApiProblem.badRequest("A custom resolution needs \"properties\": a JSON object.");
        }
        return store.resolve(
                        id,
                        ConflictStore.Resolution.valueOf(resolution.toUpperCase(java.util.Locale.ROOT)),
                        state -> Long.parseLong(parse(state).get("hlc").asText()),
                        (localText, remoteText) -> {
                            JsonNode chosen = parse(resolution.equals("remote") ? remoteText : localText);
                            return new ConflictStore.Chosen(
                                    chosen.get("type").asText(),
                                    resolution.equals("custom")
                                            ? custom.toString()
                                            : chosen.get("properties").toString(),
                                    chosen.path("tombstone").asBoolean(false),
                                    chosen.path("source").asText(null),
                                    chosen.path("target").asText(null));
                        })
                .onFailure(ConflictStore.NotFound.class)
                .transform(e -> ApiProblem.notFound(e.getMessage()))
                .onFailure(ConflictStore.AlreadyResolved.class)
                .transform(e -> new ApiProblem(409, "Conflict", e.getMessage()))
                .map(entity -> {
                    ObjectNode result = mapper.createObjectNode();
                    result.put("id", id);
                    result.put("resolution", resolution);
                    result.put("entity", entity);
                    return result;
                });
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
