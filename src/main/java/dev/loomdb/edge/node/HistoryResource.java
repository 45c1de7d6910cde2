package dev.loomdb.edge.node;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loomdb.edge.config.LoomConfig;
import dev.loomdb.edge.flow.Change;
import dev.loomdb.edge.flow.MalformedEnvelopeException;
import dev.loomdb.edge.graph.ApiProblem;
import dev.loomdb.edge.graph.Bodies;
import dev.loomdb.edge.history.ChangeHistory;
import dev.loomdb.edge.history.HistoryEntry;
import dev.loomdb.edge.mesh.ChangeJson;
import dev.loomdb.edge.outbound.Replay;
import io.smallrye.mutiny.Uni;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.eclipse.microprofile.openapi.annotations.Operation;

/** The seed's getChangeHistory and clearChangeHistory, and a replay of a range to the mesh. */
@Path("/api/sync/history")
@Produces(MediaType.APPLICATION_JSON)
public class HistoryResource {

    private static final int REPLAY_PER_ENVELOPE = 500;

    private final ChangeHistory history;
    private final ChangeJson changeJson;
    private final Replay replay;
    private final SyncControl control;
    private final ObjectMapper mapper;
    private final LoomConfig config;

    public HistoryResource(
            ChangeHistory history,
            ChangeJson changeJson,
            Replay replay,
            SyncControl control,
            ObjectMapper mapper,
            LoomConfig config) {
        this.history = history;
        this.changeJson = changeJson;
        this.replay = replay;
        this.control = control;
        this.mapper = mapper;
        this.config = config;
    }

    @GET
    @Operation(summary = "getChangeHistory: entries after ?since= (a seq), oldest first, at most ?limit=")
    public Uni<ObjectNode> history(@QueryParam("since") String sinceParam, @QueryParam("limit") String limitParam) {
        Long since = whole("since", sinceParam);
        Long limit = whole("limit", limitParam);
        int max = config.api().maxLimit();
        long n = limit == null ? config.api().defaultLimit() : limit;
        if (n < 1 || n > max) {
            throw ApiProblem.badRequest("limit must be between 1 and " + max + ".");
        }
        if (since != null && since < 0) {
            throw ApiProblem.badRequest("since must be a sequence number (0 or more).");
        }
        return history.list(since == null ? 0 : since, (int) n).map(entries -> {
            ObjectNode json = mapper.createObjectNode();
            json.put("enabled", history.enabled());
            json.put("maxEntries", history.maxEntries());
            ArrayNode items = json.putArray("entries");
            for (HistoryEntry entry : entries) {
                ObjectNode item = items.addObject();
                item.put("seq", entry.seq());
                item.put("recordedAt", entry.recordedAt().toString());
                item.put("direction", entry.direction());
                item.put("peer", entry.peer());
                if (entry.commitTime() != null) {
                    item.put("commitTime", entry.commitTime().toString());
                }
                item.set("change", parse(entry.change()));
            }
            if (!entries.isEmpty()) {
                json.put("next", entries.get(entries.size() - 1).seq());
            }
            return json;
        });
    }

    @DELETE
    @Operation(summary = "clearChangeHistory: removes every entry")
    public Uni<ObjectNode> clear() {
        return history.clear().map(n -> mapper.createObjectNode().put("removed", n));
    }

    /** Body {@code {"from": 10, "to": 20}} (seq numbers, inclusive; {@code to} defaults to the newest). */
    @POST
    @Path("replay")
    @Consumes(MediaType.WILDCARD)
    @Operation(summary = "Publish a range of the history again (harmless on receivers: applying is idempotent)")
    public Uni<ObjectNode> replay(byte[] bytes) {
        JsonNode request = parseBody(Bodies.utf8(bytes));
        JsonNode from = request.get("from");
        JsonNode to = request.get("to");
        if (from == null || !from.canConvertToLong() || (to != null && !to.canConvertToLong())) {
            throw ApiProblem.badRequest(
                    "The body must be {\"from\": <seq>, \"to\": <seq>} with whole numbers" + " (\"to\" is optional).");
        }
        long last = to == null ? Long.MAX_VALUE : to.longValue();
        if (last < from.longValue()) {
            throw ApiProblem.badRequest("\"to\" must not be before \"from\".");
        }
        if (!control.running()) {
            throw new ApiProblem(409, "Sync stopped", "Sync is stopped; POST /api/sync/start before replaying.");
        }
        return history.changes(from.longValue(), last)
                .chain(texts -> {
                    List<Change> changes = new ArrayList<>(texts.size());
                    for (String text : texts) {
                        try {
                            changes.add(changeJson.decode(text));
                        } catch (MalformedEnvelopeException e) {
                            throw new IllegalStateException("unreadable history entry: " + e.getMessage(), e);
                        }
                    }
                    return Uni.createFrom()
                            .completionStage(() -> replay.republish(changes, REPLAY_PER_ENVELOPE)
                                    .toCompletionStage());
                })
                .map(n -> mapper.createObjectNode().put("replayed", n));
    }

    private JsonNode parse(String json) {
        try {
            return mapper.readTree(json);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A query parameter that must be a whole number: 400 naming it otherwise (JAX-RS would answer 404). */
    private static Long whole(String name, String value) {
        if (value == null || value.isBlank()) {
            return null;
        }
        try {
            return Long.parseLong(value.trim());
        } catch (NumberFormatException e) {
            throw ApiProblem.badRequest(
                    "The query parameter '" + name + "' must be a whole number, not '" + value + "'.");
        }
    }

    private JsonNode parseBody(String body) {
        try {
            JsonNode node = body == null || body.isBlank() ? null : mapper.readTree(body);
            if (node == null || !node.isObject()) {
                throw ApiProblem.badRequest("The body must be a JSON object such as {\"from\": 1, \"to\": 20}.");
            }
            return node;
        } catch (IOException e) {
            throw ApiProblem.badRequest("The body is not JSON: " + e.getMessage());
        }
    }
}
