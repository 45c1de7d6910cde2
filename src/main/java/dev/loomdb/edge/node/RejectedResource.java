package dev.loomdb.edge.node;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loomdb.edge.config.LoomConfig;
import dev.loomdb.edge.graph.ApiProblem;
import dev.loomdb.edge.graph.Bodies;
import dev.loomdb.edge.telemetry.Counters;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import java.util.Base64;
import org.eclipse.microprofile.openapi.annotations.Operation;

/** The messages from the mesh this node kept aside unapplied ({@code loom.rejected_messages}), oldest first. */
@Path("/api/sync/rejected")
@Produces(MediaType.APPLICATION_JSON)
public class RejectedResource {

    private final Pool pool;
    private final Counters counters;
    private final ObjectMapper mapper;
    private final LoomConfig config;

    public RejectedResource(Pool pool, Counters counters, ObjectMapper mapper, LoomConfig config) {
        this.pool = pool;
        this.counters = counters;
        this.mapper = mapper;
        this.config = config;
    }

    @GET
    @Operation(
            summary = "Rejected messages, oldest first: topic, reason, payload",
            description = "after (an id; pass the answer's 'next'), limit (default 100, at most loom.api.max-limit)."
                    + " The payload as text when it is UTF-8, else base64.")
    public Uni<ObjectNode> list(@QueryParam("after") String after, @QueryParam("limit") String limit) {
        long from = number("after", after, 0, Long.MAX_VALUE);
        int size = (int)
                number("limit", limit, config.api().defaultLimit(), config.api().maxLimit());
        return pool.preparedQuery("SELECT id, received_at, topic, reason, payload FROM loom.rejected_messages"
                        + " WHERE id > $1 ORDER BY id LIMIT $2")
                .execute(Tuple.of(from, size + 1))
                .map(rows -> {
                    ObjectNode json = mapper.createObjectNode();
                    json.put("max", config.sync().rejectedMax());
                    json.put("dropped", counters.get(Counters.REJECTED_DROPPED));
                    ArrayNode items = json.putArray("items");
                    Long next = null;
                    for (Row row : rows) {
                        if (items.size() == size) {
                            next = items.get(items.size() - 1).get("id").asLong();
                            break;
                        }
                        ObjectNode item = items.addObject();
                        item.put("id", row.getLong("id"));
                        item.put(
                                "receivedAt",
                                row.getOffsetDateTime("received_at").toInstant().toString());
                        item.put("topic", row.getString("topic"));
                        String reason = row.getString("reason");
                        int colon = reason.indexOf(": ");
                        item.put("reason", colon < 0 ? reason : reason.substring(0, colon));
                        item.put("detail", colon < 0 ? "" : reason.substring(colon + 2));
                        byte[] payload = row.getBuffer("payload").getBytes();
                        item.put("bytes", payload.length);
                        String text = Bodies.utf8OrNull(payload);
                        item.put("payloadEncoding", text == null ? "base64" : "utf-8");
                        item.put("payload", text == null ? Base64.getEncoder().encodeToString(payload) : text);
                    }
                    if (next == null) {
                        json.putNull("next");
                    } else {
                        json.put("next", next);
                    }
                    return json;
                });
    }

    private static long number(String name, String value, long otherwise, long max) {
        if (value == null || value.isBlank()) {
            return otherwise;
        }
        try {
            long parsed = Long.parseLong(value.trim());
            if (parsed >= 0 && parsed <= max && (parsed >= 1 || name.equals("after"))) {
                return parsed;
            }
        } catch (NumberFormatException e) {
            // said below
        }
        throw ApiProblem.badRequest("The query parameter '" + name + "' must be a whole number"
                + (name.equals("limit") ? " from 1 to " + max : " (an id)") + ", not '" + value + "'.");
    }
}
