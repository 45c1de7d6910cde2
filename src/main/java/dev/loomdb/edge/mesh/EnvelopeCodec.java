package dev.loomdb.edge.mesh;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeType;
import dev.loomdb.edge.graph.Change;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;

/**
 * The JSON form of an {@link Envelope} (format version 1), readable with {@code mosquitto_sub}:
 *
 * <pre>
 * {"v":1,"mesh":"demo","origin":"node-a","seq":23822936,"txid":745,"lsn":"0/16B3748",
 *  "commitTime":"2026-11-24T18:00:00.123456Z","transactions":1,
 *  "changes":[{"op":"insert","kind":"edge","id":"e1","type":"KNOWS","source":"a","target":"b",
 *              "properties":{"since":2020},"hlc":"113725390312390656","version":1,"origin":"node-a",
 *              "tombstone":false}]}
 * </pre>
 *
 * The clock travels as a decimal string, since it does not fit a JavaScript number exactly.
 */
public final class EnvelopeCodec {

    private static final int MAX_ID_LENGTH = 256;

    private final ObjectMapper mapper;
    private final JsonFactory factory;

    public EnvelopeCodec(ObjectMapper mapper) {
        this.mapper = mapper;
        this.factory = mapper.getFactory();
    }

    public byte[] encode(Envelope envelope) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(256 + envelope.changes().size() * 256);
        try (JsonGenerator json = factory.createGenerator(out)) {
            json.writeStartObject();
            json.writeNumberField("v", envelope.version());
            json.writeStringField("mesh", envelope.mesh());
            json.writeStringField("origin", envelope.origin());
            json.writeNumberField("seq", envelope.seq());
            json.writeNumberField("txid", envelope.txid());
            json.writeStringField("lsn", envelope.lsn());
            json.writeStringField("commitTime", envelope.commitTime().toString());
            if (!envelope.firstCommitTime().equals(envelope.commitTime())) {
                json.writeStringField("firstCommitTime", envelope.firstCommitTime().toString());
            }
            json.writeNumberField("transactions", envelope.transactions());
            json.writeArrayFieldStart("changes");
            for (Change change : envelope.changes()) {
                writeChange(json, change);
            }
            json.writeEndArray();
            json.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    /** One change as the envelope carries it (also the form kept in the change history). */
    public String encodeChange(Change change) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(256);
        try (JsonGenerator json = factory.createGenerator(out)) {
            writeChange(json, change);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toString(java.nio.charset.StandardCharsets.UTF_8);
    }

    /** Reads back what {@link #encodeChange} wrote. */
    public Change decodeChange(String json) throws MalformedEnvelopeException {
        try {
            return change(mapper.readTree(json), "change");
        } catch (JsonProcessingException e) {
            throw new MalformedEnvelopeException("not JSON: " + e.getOriginalMessage());
        }
    }

    private static void writeChange(JsonGenerator json, Change change) throws IOException {
        json.writeStartObject();
        json.writeStringField("op", change.op().wireName());
        json.writeStringField("kind", change.kind().wireName());
        json.writeStringField("id", change.id());
        json.writeStringField("type", change.type());
        if (change.kind() == Change.Kind.EDGE) {
            json.writeStringField("source", change.source());
            json.writeStringField("target", change.target());
        }
        json.writeFieldName("properties");
        json.writeRawValue(change.properties());
        json.writeStringField("hlc", Long.toString(change.hlc()));
        json.writeNumberField("version", change.version());
        json.writeStringField("origin", change.origin());
        json.writeBooleanField("tombstone", change.tombstone());
        json.writeStringField("baseHlc", Long.toString(change.baseHlc()));
        json.writeFieldName("propertyClocks");
        json.writeRawValue(change.propertyClocks());
        json.writeEndObject();
    }

    public Envelope decode(byte[] payload) throws MalformedEnvelopeException {
        JsonNode root;
        try {
            root = mapper.readTree(payload);
        } catch (JsonProcessingException e) {
            throw new MalformedEnvelopeException("not JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new MalformedEnvelopeException("unreadable: " + e.getMessage());
        }
        if (root == null || !root.isObject()) {
            throw new MalformedEnvelopeException("the envelope is not a JSON object");
        }
        int version = (int) integer(root, "v", "envelope");
        if (version != Envelope.FORMAT_VERSION) {
            throw new MalformedEnvelopeException("unsupported envelope version " + version + " (this node reads "
                    + Envelope.FORMAT_VERSION + ")");
        }
        JsonNode changesNode = root.get("changes");
        if (changesNode == null || !changesNode.isArray()) {
            throw new MalformedEnvelopeException("'changes' must be an array");
        }
        List<Change> changes = new ArrayList<>(changesNode.size());
        for (int i = 0; i < changesNode.size(); i++) {
            changes.add(change(changesNode.get(i), "changes[" + i + "]"));
        }
        Instant commitTime = instant(root, "commitTime");
        Instant firstCommitTime = root.has("firstCommitTime") ? instant(root, "firstCommitTime") : commitTime;
        return new Envelope(version, id(root, "mesh", "envelope"), id(root, "origin", "envelope"),
                integer(root, "seq", "envelope"), integer(root, "txid", "envelope"), text(root, "lsn", "envelope"),
                commitTime, root.has("transactions") ? (int) integer(root, "transactions", "envelope") : 1,
                List.copyOf(changes), firstCommitTime);
    }

    private static Instant instant(JsonNode root, String field) throws MalformedEnvelopeException {
        try {
            return Instant.parse(text(root, field, "envelope"));
        } catch (DateTimeParseException e) {
            throw new MalformedEnvelopeException("'" + field + "' is not an ISO-8601 instant");
        }
    }

    private Change change(JsonNode node, String where) throws MalformedEnvelopeException {
        if (node == null || !node.isObject()) {
            throw new MalformedEnvelopeException(where + " is not an object");
        }
        Change.Kind kind = switch (text(node, "kind", where)) {
            case "node" -> Change.Kind.NODE;
            case "edge" -> Change.Kind.EDGE;
            default -> throw new MalformedEnvelopeException(where + ".kind must be 'node' or 'edge'");
        };
        Change.Op op = switch (text(node, "op", where)) {
            case "insert" -> Change.Op.INSERT;
            case "update" -> Change.Op.UPDATE;
            case "delete" -> Change.Op.DELETE;
            default -> throw new MalformedEnvelopeException(where + ".op must be 'insert', 'update' or 'delete'");
        };
        JsonNode properties = node.get("properties");
        if (properties == null || properties.getNodeType() != JsonNodeType.OBJECT) {
            throw new MalformedEnvelopeException(where + ".properties must be a JSON object");
        }
        long hlc;
        try {
            hlc = Long.parseLong(text(node, "hlc", where));
        } catch (NumberFormatException e) {
            throw new MalformedEnvelopeException(where + ".hlc must be a decimal number in a string");
        }
        JsonNode tombstone = node.get("tombstone");
        if (tombstone == null || !tombstone.isBoolean()) {
            throw new MalformedEnvelopeException(where + ".tombstone must be true or false");
        }
        JsonNode clocks = node.get("propertyClocks");
        if (clocks != null && !clocks.isObject()) {
            throw new MalformedEnvelopeException(where + ".propertyClocks must be a JSON object");
        }
        if (clocks != null) {
            java.util.Iterator<JsonNode> values = clocks.elements();
            while (values.hasNext()) {
                JsonNode clock = values.next();
                if (!clock.isArray() || clock.size() != 2 || !clock.get(0).canConvertToLong() || !clock.get(1).isTextual()) {
                    throw new MalformedEnvelopeException(where + ".propertyClocks values must be [hlc, origin]");
                }
            }
        }
        long baseHlc = 0;
        if (node.has("baseHlc")) {
            try {
                baseHlc = Long.parseLong(text(node, "baseHlc", where));
            } catch (NumberFormatException e) {
                throw new MalformedEnvelopeException(where + ".baseHlc must be a decimal number in a string");
            }
        }
        boolean edge = kind == Change.Kind.EDGE;
        return new Change(op, kind, id(node, "id", where), id(node, "type", where), properties.toString(),
                edge ? id(node, "source", where) : null, edge ? id(node, "target", where) : null, hlc,
                integer(node, "version", where), id(node, "origin", where), tombstone.booleanValue(),
                clocks == null ? "{}" : clocks.toString(), baseHlc);
    }

    private static String text(JsonNode node, String field, String where) throws MalformedEnvelopeException {
        JsonNode value = node.get(field);
        if (value == null || !value.isTextual()) {
            throw new MalformedEnvelopeException(where + "." + field + " must be a string");
        }
        return value.textValue();
    }

    private static String id(JsonNode node, String field, String where) throws MalformedEnvelopeException {
        String value = text(node, field, where);
        if (value.isEmpty() || value.length() > MAX_ID_LENGTH) {
            throw new MalformedEnvelopeException(where + "." + field + " must have 1 to " + MAX_ID_LENGTH + " characters");
        }
        return value;
    }

    private static long integer(JsonNode node, String field, String where) throws MalformedEnvelopeException {
        JsonNode value = node.get(field);
        if (value == null || !value.canConvertToLong() || !value.isIntegralNumber()) {
            throw new MalformedEnvelopeException(where + "." + field + " must be an integer");
        }
        return value.longValue();
    }
}
