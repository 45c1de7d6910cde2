package dev.loomdb.edge.statesync;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Arrays;

/**
 * A state-sync message between two nodes (topic {@code loom/<mesh>/sync/<to>/<from>}): a JSON
 * object on one line, the header, and for messages that carry rows a newline and then an envelope
 * of the mesh's format (docs/mqtt-protocol.md, "State sync"). Carrying the rows as an envelope keeps
 * one reader and one set of checks for every path into the graph.
 *
 * @param header the JSON header: {@code type}, {@code req} (the request it is or answers), {@code sent}
 * @param body the envelope's bytes, or an empty array
 */
public record SyncMessage(ObjectNode header, byte[] body) {

    /** The protocol's version; a node answers requests of versions it reads and ignores others. */
    public static final int VERSION = 1;

    public String type() {
        return header.path("type").asText("");
    }

    public String request() {
        return header.path("req").asText("");
    }

    public boolean hasRows() {
        return body.length > 0;
    }

    public byte[] encode(ObjectMapper mapper) {
        try {
            byte[] head = mapper.writeValueAsBytes(header);
            if (body.length == 0) {
                return head;
            }
            byte[] out = Arrays.copyOf(head, head.length + 1 + body.length);
            out[head.length] = '\n';
            System.arraycopy(body, 0, out, head.length + 1, body.length);
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Reads a message; throws {@link IllegalArgumentException} with the reason when it is not one. */
    public static SyncMessage decode(ObjectMapper mapper, byte[] payload) {
        int newline = -1;
        for (int i = 0; i < payload.length; i++) {
            if (payload[i] == '\n') {
                newline = i;
                break;
            }
        }
        byte[] head = newline < 0 ? payload : Arrays.copyOf(payload, newline);
        JsonNode header;
        try {
            header = mapper.readTree(head);
        } catch (IOException e) {
            throw new IllegalArgumentException("the state-sync header is not JSON: " + e.getMessage());
        }
        if (!(header instanceof ObjectNode object) || !header.path("type").isTextual()) {
            throw new IllegalArgumentException("the state-sync header is not a JSON object with a 'type'");
        }
        if (header.path("v").asInt(-1) != VERSION) {
            throw new IllegalArgumentException(
                    "unsupported state-sync version " + header.path("v") + " (this node reads " + VERSION + ")");
        }
        byte[] body = newline < 0 ? new byte[0] : Arrays.copyOfRange(payload, newline + 1, payload.length);
        return new SyncMessage(object, body);
    }
}
