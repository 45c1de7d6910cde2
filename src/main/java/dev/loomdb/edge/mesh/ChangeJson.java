package dev.loomdb.edge.mesh;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loomdb.edge.flow.Change;
import dev.loomdb.edge.flow.GraphRules;
import dev.loomdb.edge.flow.Hlc;
import dev.loomdb.edge.flow.MalformedEnvelopeException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/**
 * The JSON form of one {@link Change}, as an envelope carries it and as the change history keeps
 * it: written field by field, read in one pass without building a tree (the properties and clocks
 * are kept as the exact text the writer wrote).
 */
public final class ChangeJson {

    private final JsonFactory factory;

    public ChangeJson(ObjectMapper mapper) {
        this.factory = mapper.getFactory();
    }

    /** One change as the envelope carries it (also the form kept in the change history). */
    public String encode(Change change) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(256);
        try (JsonGenerator json = factory.createGenerator(out)) {
            writeChange(json, change);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    /** Reads back what {@link #encode} wrote. */
    public Change decode(String json) throws MalformedEnvelopeException {
        byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
        try (JsonParser parser = factory.createParser(bytes)) {
            if (parser.nextToken() == null) {
                throw new MalformedEnvelopeException("change is not an object");
            }
            Fields fields = new Fields();
            fields.read(parser, bytes);
            return fields.change("change");
        } catch (JsonProcessingException e) {
            throw new MalformedEnvelopeException("not JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new MalformedEnvelopeException("unreadable: " + e.getMessage());
        }
    }

    static void writeChange(JsonGenerator json, Change change) throws IOException {
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
        json.writeStringField("hlc", change.hlc().toString());
        json.writeNumberField("version", change.version());
        json.writeStringField("origin", change.origin());
        json.writeBooleanField("tombstone", change.tombstone());
        json.writeStringField("baseHlc", change.baseHlc().toString());
        json.writeFieldName("propertyClocks");
        json.writeRawValue(change.propertyClocks());
        json.writeEndObject();
    }

    /** The next token; the end of the input inside a value is a syntax error. */
    static JsonToken next(JsonParser parser) throws IOException, MalformedEnvelopeException {
        JsonToken token = parser.nextToken();
        if (token == null) {
            throw new MalformedEnvelopeException("not JSON: unexpected end of input");
        }
        return token;
    }

    /** The text of a JSON value from its first token to the end of its last, as the sender wrote it. */
    static String rawObject(JsonParser parser, byte[] payload) throws IOException {
        int start = (int) parser.currentTokenLocation().getByteOffset();
        parser.skipChildren();
        return text(payload, start, (int) parser.currentLocation().getByteOffset());
    }

    /** As {@link #rawObject}, refusing properties nested deeper than {@link GraphRules#MAX_PROPERTY_DEPTH}. */
    static String properties(JsonParser parser, byte[] payload) throws IOException, MalformedEnvelopeException {
        int start = (int) parser.currentTokenLocation().getByteOffset();
        int depth = 1;
        int deepest = 1;
        while (depth > 0) {
            JsonToken token = next(parser);
            if (token == JsonToken.START_OBJECT || token == JsonToken.START_ARRAY) {
                deepest = Math.max(deepest, ++depth);
            } else if (token == JsonToken.END_OBJECT || token == JsonToken.END_ARRAY) {
                depth--;
            }
        }
        String problem = GraphRules.depthProblem(deepest);
        int end = (int) parser.currentLocation().getByteOffset();
        if (problem == null) {
            problem = GraphRules.sizeProblem(end - start);
        }
        if (problem != null) {
            throw new MalformedEnvelopeException(problem);
        }
        return text(payload, start, end);
    }

    /**
     * Bytes start..end of valid JSON as one line: a line break in valid JSON can only be whitespace
     * between tokens (inside a string it must be escaped), so it becomes a space, and an event
     * stream or a log line that carries the text stays one line.
     */
    static String text(byte[] payload, int start, int end) {
        String text = new String(payload, start, end - start, StandardCharsets.UTF_8);
        return text.indexOf('\n') < 0 && text.indexOf('\r') < 0
                ? text
                : text.replace('\n', ' ').replace('\r', ' ');
    }

    /** The fields of one change as read, judged by {@link #change} (the same holder serves every change). */
    static final class Fields {
        JsonScalar op;
        JsonScalar kind;
        JsonScalar id;
        JsonScalar type;
        JsonScalar source;
        JsonScalar target;
        JsonScalar hlc;
        JsonScalar version;
        JsonScalar origin;
        JsonScalar tombstone;
        JsonScalar baseHlc;
        /** null: absent; otherwise the raw JSON text, or "" when the value is not an object. */
        String properties;

        String propertyClocks;
        boolean clocksWellFormed;

        /** Reads the value the parser is at: an object up to its END_OBJECT, anything else is marked and skipped. */
        void read(JsonParser parser, byte[] payload) throws IOException, MalformedEnvelopeException {
            op = kind = id = type = source = target = hlc = version = origin = tombstone = baseHlc = null;
            properties = propertyClocks = null;
            clocksWellFormed = true;
            if (parser.currentToken() != JsonToken.START_OBJECT) {
                parser.skipChildren();
                op = JsonScalar.NOT_AN_OBJECT;
                return;
            }
            while (next(parser) == JsonToken.FIELD_NAME) {
                String field = parser.currentName();
                next(parser);
                switch (field) {
                    case "op" -> op = JsonScalar.read(parser);
                    case "kind" -> kind = JsonScalar.read(parser);
                    case "id" -> id = JsonScalar.read(parser);
                    case "type" -> type = JsonScalar.read(parser);
                    case "source" -> source = JsonScalar.read(parser);
                    case "target" -> target = JsonScalar.read(parser);
                    case "hlc" -> hlc = JsonScalar.read(parser);
                    case "version" -> version = JsonScalar.read(parser);
                    case "origin" -> origin = JsonScalar.read(parser);
                    case "tombstone" -> tombstone = JsonScalar.read(parser);
                    case "baseHlc" -> baseHlc = JsonScalar.read(parser);
                    case "properties" ->
                        properties = parser.currentToken() == JsonToken.START_OBJECT
                                ? properties(parser, payload)
                                : skipped(parser);
                    case "propertyClocks" -> readClocks(parser, payload);
                    default -> parser.skipChildren();
                }
            }
        }

        private static String skipped(JsonParser parser) throws IOException {
            parser.skipChildren();
            return "";
        }

        /** Property clocks: an object whose every value is [hlc, origin]. */
        private void readClocks(JsonParser parser, byte[] payload) throws IOException, MalformedEnvelopeException {
            clocksWellFormed = true;
            if (parser.currentToken() != JsonToken.START_OBJECT) {
                propertyClocks = skipped(parser);
                return;
            }
            int start = (int) parser.currentTokenLocation().getByteOffset();
            while (next(parser) == JsonToken.FIELD_NAME) {
                next(parser);
                clocksWellFormed &= clock(parser);
            }
            propertyClocks = text(payload, start, (int) parser.currentLocation().getByteOffset());
        }

        /** Whether the value the parser is at is [hlc, origin]; leaves the parser at its last token. */
        private static boolean clock(JsonParser parser) throws IOException, MalformedEnvelopeException {
            if (parser.currentToken() != JsonToken.START_ARRAY) {
                parser.skipChildren();
                return false;
            }
            boolean wellFormed = true;
            int size = 0;
            for (JsonToken token = next(parser); token != JsonToken.END_ARRAY; token = next(parser)) {
                if (size == 0) {
                    wellFormed &= JsonScalar.fitsLong(parser);
                } else if (size == 1) {
                    wellFormed &= token == JsonToken.VALUE_STRING;
                }
                parser.skipChildren();
                size++;
            }
            return wellFormed && size == 2;
        }

        /** The change the fields describe; every failure's reason starts with {@code where}. */
        Change change(String where) throws MalformedEnvelopeException {
            if (op == JsonScalar.NOT_AN_OBJECT) {
                throw new MalformedEnvelopeException(where + " is not an object");
            }
            Change.Kind changeKind = switch (JsonScalar.text(kind, "kind", where)) {
                case "node" -> Change.Kind.NODE;
                case "edge" -> Change.Kind.EDGE;
                default -> throw new MalformedEnvelopeException(where + ".kind must be 'node' or 'edge'");
            };
            Change.Op changeOp = switch (JsonScalar.text(op, "op", where)) {
                case "insert" -> Change.Op.INSERT;
                case "update" -> Change.Op.UPDATE;
                case "delete" -> Change.Op.DELETE;
                default -> throw new MalformedEnvelopeException(where + ".op must be 'insert', 'update' or 'delete'");
            };
            if (properties == null || properties.isEmpty()) {
                throw new MalformedEnvelopeException(where + ".properties must be a JSON object");
            }
            long clock;
            try {
                clock = Long.parseLong(JsonScalar.text(hlc, "hlc", where));
            } catch (NumberFormatException e) {
                throw new MalformedEnvelopeException(where + ".hlc must be a decimal number in a string");
            }
            if (tombstone == null || !tombstone.isBoolean()) {
                throw new MalformedEnvelopeException(where + ".tombstone must be true or false");
            }
            if (propertyClocks != null && propertyClocks.isEmpty()) {
                throw new MalformedEnvelopeException(where + ".propertyClocks must be a JSON object");
            }
            if (!clocksWellFormed) {
                throw new MalformedEnvelopeException(where + ".propertyClocks values must be [hlc, origin]");
            }
            long base = 0;
            if (baseHlc != null) {
                try {
                    base = Long.parseLong(JsonScalar.text(baseHlc, "baseHlc", where));
                } catch (NumberFormatException e) {
                    throw new MalformedEnvelopeException(where + ".baseHlc must be a decimal number in a string");
                }
            }
            boolean edge = changeKind == Change.Kind.EDGE;
            return new Change(
                    changeOp,
                    changeKind,
                    JsonScalar.id(id, "id", where),
                    JsonScalar.id(type, "type", where),
                    properties,
                    edge ? JsonScalar.id(source, "source", where) : null,
                    edge ? JsonScalar.id(target, "target", where) : null,
                    new Hlc(clock),
                    JsonScalar.integer(version, "version", where),
                    JsonScalar.id(origin, "origin", where),
                    tombstone.token() == JsonToken.VALUE_TRUE,
                    propertyClocks == null ? "{}" : propertyClocks,
                    new Hlc(base));
        }
    }
}
