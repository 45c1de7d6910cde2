package dev.loomdb.edge.node;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loomdb.edge.graph.ApiProblem;
import dev.loomdb.edge.telemetry.SyncEvent;
import dev.loomdb.edge.telemetry.SyncEvents;
import io.smallrye.mutiny.Multi;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.sse.OutboundSseEvent;
import jakarta.ws.rs.sse.Sse;
import java.time.Duration;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.eclipse.microprofile.openapi.annotations.Operation;

/**
 * The node's events as Server-Sent Events: each SSE event is named for its kind
 * ({@code remote-change}, {@code conflict-detected}, ...) and carries JSON. The stream opens with a
 * {@code subscribed} event, after which every event is delivered.
 */
@Path("/api/sync/events")
public class SyncEventsResource {

    private final SyncEvents events;
    private final NodeIdentity identity;
    private final ObjectMapper mapper;

    public SyncEventsResource(SyncEvents events, NodeIdentity identity, ObjectMapper mapper) {
        this.events = events;
        this.identity = identity;
        this.mapper = mapper;
    }

    @GET
    @Produces(MediaType.SERVER_SENT_EVENTS)
    @Operation(summary = "Live sync events (SSE); filter with ?kind=remote-change,conflict-detected and ?type=Person")
    public Multi<OutboundSseEvent> events(
            @QueryParam("kind") List<String> kinds, @QueryParam("type") List<String> types, @Context Sse sse) {
        Set<SyncEvent.Kind> wanted = kinds(kinds);
        Set<String> wantedTypes = split(types);
        Multi<OutboundSseEvent> live = events.stream()
                .filter(e -> wanted.contains(e.kind()))
                .filter(e -> wantedTypes.isEmpty() || wantedTypes.contains(e.entityType()))
                .map(e -> sse.newEventBuilder()
                        .name(e.kind().wireName())
                        .data(dev.loomdb.edge.telemetry.SyncEventJson.render(mapper, e))
                        .build());
        OutboundSseEvent subscribed = sse.newEventBuilder()
                .name("subscribed")
                .data("{\"nodeId\":\"" + identity.nodeId() + "\"}")
                .build();
        Multi<OutboundSseEvent> keepAlive = Multi.createFrom()
                .ticks()
                .every(Duration.ofSeconds(15))
                .map(t -> sse.newEventBuilder().comment("keep-alive").build());
        return Multi.createBy().merging().streams(live, Multi.createFrom().item(subscribed), keepAlive);
    }

    private static Set<SyncEvent.Kind> kinds(List<String> kinds) {
        Set<String> names = split(kinds);
        if (names.isEmpty()) {
            return EnumSet.allOf(SyncEvent.Kind.class);
        }
        Set<SyncEvent.Kind> wanted = EnumSet.noneOf(SyncEvent.Kind.class);
        for (String name : names) {
            SyncEvent.Kind kind = SyncEvent.Kind.fromWireName(name);
            if (kind == null) {
                StringBuilder known = new StringBuilder();
                for (SyncEvent.Kind k : SyncEvent.Kind.values()) {
                    known.append(known.length() == 0 ? "" : ", ").append(k.wireName());
                }
                throw ApiProblem.badRequest("Unknown event kind '" + name + "'. Known kinds: " + known + ".");
            }
            wanted.add(kind);
        }
        return wanted;
    }

    /** {@code ?kind=a,b} and {@code ?kind=a&kind=b} both work. */
    private static Set<String> split(List<String> values) {
        Set<String> out = new HashSet<>();
        if (values != null) {
            for (String value : values) {
                for (String part : value.split(",")) {
                    if (!part.isBlank()) {
                        out.add(part.trim());
                    }
                }
            }
        }
        return out;
    }
}
