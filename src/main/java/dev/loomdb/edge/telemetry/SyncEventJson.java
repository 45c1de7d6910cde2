package dev.loomdb.edge.telemetry;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.util.RawValue;
import dev.loomdb.edge.flow.Change;
import java.time.Duration;
import java.time.Instant;

/** A {@link SyncEvent} as JSON, the same on the SSE stream and on the {@code loom-events} channel. */
public final class SyncEventJson {

    private SyncEventJson() {}

    public static String render(ObjectMapper mapper, SyncEvent event) {
        ObjectNode json = mapper.createObjectNode();
        json.put("kind", event.kind().wireName());
        json.put("at", event.at().toString());
        putInstant(json, "commitTime", event.commitTime());
        putInstant(json, "appliedTime", event.appliedTime());
        if (event.commitTime() != null && event.appliedTime() != null) {
            json.put(
                    "latencyMs",
                    Duration.between(event.commitTime(), event.appliedTime()).toNanos() / 1e6);
        }
        if (event.peer() != null) {
            json.put("peer", event.peer());
        }
        if (event.detail() != null) {
            json.put("detail", event.detail());
        }
        Change c = event.change();
        if (c != null) {
            ObjectNode change = json.putObject("change");
            change.put("op", c.op().wireName());
            change.put("kind", c.kind().wireName());
            change.put("id", c.id());
            change.put("type", c.type());
            if (c.kind() == Change.Kind.EDGE) {
                change.put("source", c.source());
                change.put("target", c.target());
            }
            change.putRawValue("properties", new RawValue(c.properties()));
            change.put("hlc", c.hlc().toString());
            change.put("version", c.version());
            change.put("origin", c.origin());
            change.put("tombstone", c.tombstone());
        }
        return json.toString();
    }

    private static void putInstant(ObjectNode json, String field, Instant value) {
        if (value != null) {
            json.put(field, value.toString());
        }
    }
}
