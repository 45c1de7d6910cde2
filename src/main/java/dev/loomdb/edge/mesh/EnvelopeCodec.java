package dev.loomdb.edge.mesh;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loomdb.edge.graph.Change;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
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

    private final JsonFactory factory;

    public EnvelopeCodec(ObjectMapper mapper) {
        this.factory = mapper.getFactory();
    }

    public byte[] encode(Envelope envelope) {
        ByteArrayOutputStream out =
                new ByteArrayOutputStream(256 + envelope.changes().size() * 256);
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
                json.writeStringField(
                        "firstCommitTime", envelope.firstCommitTime().toString());
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
        return out.toString(StandardCharsets.UTF_8);
    }

    /** Reads back what {@link #encodeChange} wrote. */
    public Change decodeChange(String json) throws MalformedEnvelopeException {
        byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
        try (JsonParser parser = factory.createParser(bytes)) {
            if (parser.nextToken() == null) {
                throw new MalformedEnvelopeException("change is not an object");
            }
            ChangeFields fields = new ChangeFields();
            fields.read(parser, bytes);
            return fields.change("change");
        } catch (JsonProcessingException e) {
            throw new MalformedEnvelopeException("not JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new MalformedEnvelopeException("unreadable: " + e.getMessage());
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

    /**
     * Reads an envelope in one pass over its bytes, without building a tree: the properties and the
     * property clocks of a change are taken as the exact JSON text the sender wrote (their syntax is
     * checked on the way, and the database parses them again as jsonb). Every field is read before
     * any is judged, so that a syntax error anywhere reports as one, and the checks then run in a
     * fixed order (version first) whatever the order of the fields.
     */
    public Envelope decode(byte[] payload) throws MalformedEnvelopeException {
        try (JsonParser parser = factory.createParser(payload)) {
            return envelope(parser, payload);
        } catch (JsonProcessingException e) {
            throw new MalformedEnvelopeException("not JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new MalformedEnvelopeException("unreadable: " + e.getMessage());
        }
    }

    private static Envelope envelope(JsonParser parser, byte[] payload) throws IOException, MalformedEnvelopeException {
        if (parser.nextToken() != JsonToken.START_OBJECT) {
            throw new MalformedEnvelopeException("the envelope is not a JSON object");
        }
        Scalar v = null;
        Scalar mesh = null;
        Scalar origin = null;
        Scalar seq = null;
        Scalar txid = null;
        Scalar lsn = null;
        Scalar commitTime = null;
        Scalar firstCommitTime = null;
        Scalar transactions = null;
        boolean changesIsArray = false;
        List<Change> changes = new ArrayList<>();
        MalformedEnvelopeException changeError = null;
        while (next(parser) == JsonToken.FIELD_NAME) {
            String field = parser.currentName();
            next(parser);
            switch (field) {
                case "v" -> v = Scalar.read(parser);
                case "mesh" -> mesh = Scalar.read(parser);
                case "origin" -> origin = Scalar.read(parser);
                case "seq" -> seq = Scalar.read(parser);
                case "txid" -> txid = Scalar.read(parser);
                case "lsn" -> lsn = Scalar.read(parser);
                case "commitTime" -> commitTime = Scalar.read(parser);
                case "firstCommitTime" -> firstCommitTime = Scalar.read(parser);
                case "transactions" -> transactions = Scalar.read(parser);
                case "changes" -> {
                    changesIsArray = parser.currentToken() == JsonToken.START_ARRAY;
                    changes.clear();
                    changeError = null;
                    if (!changesIsArray) {
                        parser.skipChildren();
                        break;
                    }
                    ChangeFields fields = new ChangeFields();
                    for (int i = 0; next(parser) != JsonToken.END_ARRAY; i++) {
                        fields.read(parser, payload);
                        if (changeError == null) {
                            try {
                                changes.add(fields.change("")); // the change's place is named only on failure
                            } catch (MalformedEnvelopeException e) {
                                changeError = new MalformedEnvelopeException("changes[" + i + "]" + e.getMessage());
                            }
                        }
                    }
                }
                default -> parser.skipChildren();
            }
        }
        int version = (int) Scalar.integer(v, "v", "envelope");
        if (version != Envelope.FORMAT_VERSION) {
            throw new MalformedEnvelopeException(
                    "unsupported envelope version " + version + " (this node reads " + Envelope.FORMAT_VERSION + ")");
        }
        if (!changesIsArray) {
            throw new MalformedEnvelopeException("'changes' must be an array");
        }
        if (changeError != null) {
            throw changeError;
        }
        Instant committed = instant(commitTime, "commitTime");
        Instant firstCommitted = firstCommitTime != null ? instant(firstCommitTime, "firstCommitTime") : committed;
        return new Envelope(
                version,
                Scalar.id(mesh, "mesh", "envelope"),
                Scalar.id(origin, "origin", "envelope"),
                Scalar.integer(seq, "seq", "envelope"),
                Scalar.integer(txid, "txid", "envelope"),
                Scalar.text(lsn, "lsn", "envelope"),
                committed,
                transactions != null ? (int) Scalar.integer(transactions, "transactions", "envelope") : 1,
                List.copyOf(changes),
                firstCommitted);
    }

    /** The next token; the end of the input inside a value is a syntax error. */
    private static JsonToken next(JsonParser parser) throws IOException, MalformedEnvelopeException {
        JsonToken token = parser.nextToken();
        if (token == null) {
            throw new MalformedEnvelopeException("not JSON: unexpected end of input");
        }
        return token;
    }

    private static Instant instant(Scalar value, String field) throws MalformedEnvelopeException {
        try {
            return Instant.parse(Scalar.text(value, field, "envelope"));
        } catch (DateTimeParseException e) {
            throw new MalformedEnvelopeException("'" + field + "' is not an ISO-8601 instant");
        }
    }

    /** The text of a JSON value from its first token to the end of its last, as the sender wrote it. */
    private static String rawObject(JsonParser parser, byte[] payload) throws IOException {
        int start = (int) parser.currentTokenLocation().getByteOffset();
        parser.skipChildren();
        return text(payload, start, (int) parser.currentLocation().getByteOffset());
    }

    /**
     * Bytes start..end of valid JSON as one line: a line break in valid JSON can only be whitespace
     * between tokens (inside a string it must be escaped), so it becomes a space, and an event
     * stream or a log line that carries the text stays one line.
     */
    private static String text(byte[] payload, int start, int end) {
        String text = new String(payload, start, end - start, StandardCharsets.UTF_8);
        return text.indexOf('\n') < 0 && text.indexOf('\r') < 0
                ? text
                : text.replace('\n', ' ').replace('\r', ' ');
    }

    /** The fields of one change as read, judged by {@link #change} (the same holder serves every change). */
    private static final class ChangeFields {
        Scalar op;
        Scalar kind;
        Scalar id;
        Scalar type;
        Scalar source;
        Scalar target;
        Scalar hlc;
        Scalar version;
        Scalar origin;
        Scalar tombstone;
        Scalar baseHlc;
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
                op = Scalar.NOT_AN_OBJECT;
                return;
            }
            while (next(parser) == JsonToken.FIELD_NAME) {
                String field = parser.currentName();
                next(parser);
                switch (field) {
                    case "op" -> op = Scalar.read(parser);
                    case "kind" -> kind = Scalar.read(parser);
                    case "id" -> id = Scalar.read(parser);
                    case "type" -> type = Scalar.read(parser);
                    case "source" -> source = Scalar.read(parser);
                    case "target" -> target = Scalar.read(parser);
                    case "hlc" -> hlc = Scalar.read(parser);
                    case "version" -> version = Scalar.read(parser);
                    case "origin" -> origin = Scalar.read(parser);
                    case "tombstone" -> tombstone = Scalar.read(parser);
                    case "baseHlc" -> baseHlc = Scalar.read(parser);
                    case "properties" ->
                        properties = parser.currentToken() == JsonToken.START_OBJECT
                                ? rawObject(parser, payload)
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
                    wellFormed &= Scalar.fitsLong(parser);
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
            if (op == Scalar.NOT_AN_OBJECT) {
                throw new MalformedEnvelopeException(where + " is not an object");
            }
            Change.Kind changeKind = switch (Scalar.text(kind, "kind", where)) {
                case "node" -> Change.Kind.NODE;
                case "edge" -> Change.Kind.EDGE;
                default -> throw new MalformedEnvelopeException(where + ".kind must be 'node' or 'edge'");
            };
            Change.Op changeOp = switch (Scalar.text(op, "op", where)) {
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
                clock = Long.parseLong(Scalar.text(hlc, "hlc", where));
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
                    base = Long.parseLong(Scalar.text(baseHlc, "baseHlc", where));
                } catch (NumberFormatException e) {
                    throw new MalformedEnvelopeException(where + ".baseHlc must be a decimal number in a string");
                }
            }
            boolean edge = changeKind == Change.Kind.EDGE;
            return new Change(
                    changeOp,
                    changeKind,
                    Scalar.id(id, "id", where),
                    Scalar.id(type, "type", where),
                    properties,
                    edge ? Scalar.id(source, "source", where) : null,
                    edge ? Scalar.id(target, "target", where) : null,
                    clock,
                    Scalar.integer(version, "version", where),
                    Scalar.id(origin, "origin", where),
                    tombstone.token() == JsonToken.VALUE_TRUE,
                    propertyClocks == null ? "{}" : propertyClocks,
                    base);
        }
    }

    /**
     * A field's value as read: its first token, the text of a string, the value of an integer that
     * fits a long. An object or array is skipped and kept as its token only.
     */
    private record Scalar(JsonToken token, String text, boolean fitsLong, long number) {

        /** Marks a change that is not a JSON object. */
        static final Scalar NOT_AN_OBJECT = new Scalar(JsonToken.START_OBJECT, null, false, 0);

        static Scalar read(JsonParser parser) throws IOException {
            JsonToken token = parser.currentToken();
            return switch (token) {
                case VALUE_STRING -> new Scalar(token, parser.getText(), false, 0);
                case VALUE_NUMBER_INT -> {
                    JsonParser.NumberType type = parser.getNumberType();
                    boolean fits = type == JsonParser.NumberType.INT || type == JsonParser.NumberType.LONG;
                    yield new Scalar(token, null, fits, fits ? parser.getLongValue() : 0);
                }
                default -> {
                    parser.skipChildren();
                    yield new Scalar(token, null, false, 0);
                }
            };
        }

        /** Whether the number the parser is at converts to a long (an integer, or a float in range). */
        static boolean fitsLong(JsonParser parser) throws IOException {
            return switch (parser.currentToken()) {
                case VALUE_NUMBER_INT ->
                    parser.getNumberType() == JsonParser.NumberType.INT
                            || parser.getNumberType() == JsonParser.NumberType.LONG;
                case VALUE_NUMBER_FLOAT -> {
                    double value = parser.getDoubleValue();
                    yield value >= Long.MIN_VALUE && value <= Long.MAX_VALUE;
                }
                default -> false;
            };
        }

        boolean isBoolean() {
            return token == JsonToken.VALUE_TRUE || token == JsonToken.VALUE_FALSE;
        }

        static String text(Scalar value, String field, String where) throws MalformedEnvelopeException {
            if (value == null || value.token != JsonToken.VALUE_STRING) {
                throw new MalformedEnvelopeException(where + "." + field + " must be a string");
            }
            return value.text;
        }

        static String id(Scalar value, String field, String where) throws MalformedEnvelopeException {
            String text = text(value, field, where);
            if (text.isEmpty() || text.length() > MAX_ID_LENGTH) {
                throw new MalformedEnvelopeException(
                        where + "." + field + " must have 1 to " + MAX_ID_LENGTH + " characters");
            }
            return text;
        }

        static long integer(Scalar value, String field, String where) throws MalformedEnvelopeException {
            if (value == null || !value.fitsLong) {
                throw new MalformedEnvelopeException(where + "." + field + " must be an integer");
            }
            return value.number;
        }
    }
}
