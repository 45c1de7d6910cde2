package dev.loomdb.edge.mesh;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loomdb.edge.flow.Change;
import dev.loomdb.edge.flow.Envelope;
import dev.loomdb.edge.flow.EnvelopeFormat;
import dev.loomdb.edge.flow.MalformedEnvelopeException;
import dev.loomdb.edge.flow.Scope;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

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
public final class EnvelopeCodec implements EnvelopeFormat {

    private final JsonFactory factory;

    public EnvelopeCodec(ObjectMapper mapper) {
        this.factory = mapper.getFactory();
    }

    @Override
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
            if (envelope.isPart()) {
                json.writeNumberField("part", envelope.part());
                json.writeNumberField("parts", envelope.parts());
            }
            if (!envelope.spans().isEmpty()) {
                json.writeObjectFieldStart("spans");
                for (Map.Entry<String, Integer> span : envelope.spans().entrySet()) {
                    json.writeNumberField(span.getKey(), span.getValue());
                }
                json.writeEndObject();
            }
            json.writeArrayFieldStart("changes");
            for (Change change : envelope.changes()) {
                ChangeJson.writeChange(json, change);
            }
            json.writeEndArray();
            json.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    /**
     * Reads an envelope in one pass over its bytes, without building a tree: the properties and the
     * property clocks of a change are taken as the exact JSON text the sender wrote (their syntax is
     * checked on the way, and the database parses them again as jsonb). Every field is read before
     * any is judged, so that a syntax error anywhere reports as one, and the checks then run in a
     * fixed order (version first) whatever the order of the fields.
     */
    @Override
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
        JsonScalar v = null;
        JsonScalar mesh = null;
        JsonScalar origin = null;
        JsonScalar seq = null;
        JsonScalar txid = null;
        JsonScalar lsn = null;
        JsonScalar commitTime = null;
        JsonScalar firstCommitTime = null;
        JsonScalar transactions = null;
        JsonScalar part = null;
        JsonScalar parts = null;
        Map<String, Integer> spans = new LinkedHashMap<>();
        String spansError = null;
        boolean changesIsArray = false;
        List<Change> changes = new ArrayList<>();
        MalformedEnvelopeException changeError = null;
        while (ChangeJson.next(parser) == JsonToken.FIELD_NAME) {
            String field = parser.currentName();
            ChangeJson.next(parser);
            switch (field) {
                case "v" -> v = JsonScalar.read(parser);
                case "mesh" -> mesh = JsonScalar.read(parser);
                case "origin" -> origin = JsonScalar.read(parser);
                case "seq" -> seq = JsonScalar.read(parser);
                case "txid" -> txid = JsonScalar.read(parser);
                case "lsn" -> lsn = JsonScalar.read(parser);
                case "commitTime" -> commitTime = JsonScalar.read(parser);
                case "firstCommitTime" -> firstCommitTime = JsonScalar.read(parser);
                case "transactions" -> transactions = JsonScalar.read(parser);
                case "part" -> part = JsonScalar.read(parser);
                case "parts" -> parts = JsonScalar.read(parser);
                case "spans" -> spansError = spans(parser, spans);
                case "changes" -> {
                    changesIsArray = parser.currentToken() == JsonToken.START_ARRAY;
                    changes.clear();
                    changeError = null;
                    if (!changesIsArray) {
                        parser.skipChildren();
                        break;
                    }
                    ChangeJson.Fields fields = new ChangeJson.Fields();
                    for (int i = 0; ChangeJson.next(parser) != JsonToken.END_ARRAY; i++) {
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
        int version = (int) JsonScalar.integer(v, "v", "envelope");
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
        long partCount = parts != null ? JsonScalar.integer(parts, "parts", "envelope") : 1;
        long partNumber = part != null ? JsonScalar.integer(part, "part", "envelope") : 1;
        if (partCount < 1 || partCount > MAX_PARTS || partNumber < 1 || partNumber > partCount) {
            throw new MalformedEnvelopeException("'part' must be between 1 and 'parts', and 'parts' between 1 and "
                    + MAX_PARTS + " (" + partNumber + " of " + partCount + ")");
        }
        if (spansError != null) {
            throw new MalformedEnvelopeException(spansError);
        }
        checkSpan(spans, changes, partCount);
        Instant committed = instant(commitTime, "commitTime");
        Instant firstCommitted = firstCommitTime != null ? instant(firstCommitTime, "firstCommitTime") : committed;
        return new Envelope(
                version,
                JsonScalar.id(mesh, "mesh", "envelope"),
                JsonScalar.id(origin, "origin", "envelope"),
                JsonScalar.integer(seq, "seq", "envelope"),
                JsonScalar.integer(txid, "txid", "envelope"),
                JsonScalar.text(lsn, "lsn", "envelope"),
                committed,
                transactions != null ? (int) JsonScalar.integer(transactions, "transactions", "envelope") : 1,
                List.copyOf(changes),
                firstCommitted,
                (int) partNumber,
                (int) partCount,
                spans);
    }

    /** Reads {@code "spans": {"node/Person": 2, ...}}; answers why it is not one, or null. */
    private static String spans(JsonParser parser, Map<String, Integer> spans)
            throws IOException, MalformedEnvelopeException {
        if (parser.currentToken() != JsonToken.START_OBJECT) {
            parser.skipChildren();
            return "'spans' must be an object of kind/type to a count";
        }
        String error = null;
        long total = 0;
        while (ChangeJson.next(parser) == JsonToken.FIELD_NAME) {
            String key = parser.currentName();
            JsonToken value = ChangeJson.next(parser);
            if (value != JsonToken.VALUE_NUMBER_INT
                    || parser.getLongValue() < 1
                    || parser.getLongValue() > MAX_PARTS
                    || !(key.startsWith("node/") || key.startsWith("edge/"))) {
                parser.skipChildren();
                error = "'spans' must map node/<type> or edge/<type> to a count from 1 to " + MAX_PARTS + " ('" + key
                        + "')";
                continue;
            }
            total += parser.getLongValue();
            spans.put(key, (int) parser.getLongValue());
        }
        if (error == null && total > MAX_PARTS) {
            error = "'spans' counts " + total + " messages, more than " + MAX_PARTS;
        }
        return error;
    }

    /** An envelope that names spans holds changes of one of them only, and as many parts as it says. */
    private static void checkSpan(Map<String, Integer> spans, List<Change> changes, long partCount)
            throws MalformedEnvelopeException {
        if (spans.isEmpty()) {
            return;
        }
        if (changes.isEmpty()) {
            throw new MalformedEnvelopeException("an envelope of a window split by type holds no change");
        }
        String key = Scope.spanKey(changes.get(0).kind(), changes.get(0).type());
        for (Change change : changes) {
            if (!Scope.spanKey(change.kind(), change.type()).equals(key)) {
                throw new MalformedEnvelopeException("an envelope of a window split by type holds changes of " + key
                        + " and " + Scope.spanKey(change.kind(), change.type()));
            }
        }
        Integer count = spans.get(key);
        if (count == null || count != partCount) {
            throw new MalformedEnvelopeException(
                    "'spans' gives " + key + " " + count + " messages, and 'parts' " + partCount);
        }
    }

    private static Instant instant(JsonScalar value, String field) throws MalformedEnvelopeException {
        String text = JsonScalar.text(value, field, "envelope");
        Instant written = utcInstant(text);
        if (written != null) {
            return written;
        }
        try {
            return Instant.parse(text);
        } catch (DateTimeParseException e) {
            throw new MalformedEnvelopeException("'" + field + "' is not an ISO-8601 instant");
        }
    }

    /**
     * The form {@link Instant#toString()} writes ({@code 2026-12-04T10:19:18.123456Z}: four-digit year,
     * a fraction of up to nine digits), read without the general ISO-8601 parser, which took a few
     * per cent of a receiver's event loop; null for anything else, which {@link Instant#parse} then reads.
     */
    static Instant utcInstant(String text) {
        int n = text.length();
        if (n < 20
                || n > 30
                || text.charAt(4) != '-'
                || text.charAt(7) != '-'
                || text.charAt(10) != 'T'
                || text.charAt(13) != ':'
                || text.charAt(16) != ':'
                || text.charAt(n - 1) != 'Z') {
            return null;
        }
        int year = digits(text, 0, 4), month = digits(text, 5, 7), day = digits(text, 8, 10);
        int hour = digits(text, 11, 13), minute = digits(text, 14, 16), second = digits(text, 17, 19);
        if (year < 0
                || month < 1
                || month > 12
                || day < 1
                || day > 31
                || hour < 0
                || hour > 23
                || minute < 0
                || minute > 59
                || second < 0
                || second > 59) {
            return null;
        }
        int nanos = 0;
        if (n > 20) {
            int fraction = n - 21; // between the dot and the Z
            if (text.charAt(19) != '.' || fraction < 1 || fraction > 9) {
                return null;
            }
            nanos = digits(text, 20, n - 1);
            if (nanos < 0) {
                return null;
            }
            for (int i = fraction; i < 9; i++) {
                nanos *= 10;
            }
        } else if (text.charAt(19) != 'Z') {
            return null;
        }
        long days;
        try {
            days = java.time.LocalDate.of(year, month, day).toEpochDay();
        } catch (java.time.DateTimeException e) {
            return null; // a day the month does not have
        }
        return Instant.ofEpochSecond(days * 86_400 + hour * 3_600L + minute * 60L + second, nanos);
    }

    /** The decimal digits text[from, to) as a number, or -1 when one is not a digit. */
    private static int digits(String text, int from, int to) {
        int value = 0;
        for (int i = from; i < to; i++) {
            char c = text.charAt(i);
            if (c < '0' || c > '9') {
                return -1;
            }
            value = value * 10 + (c - '0');
        }
        return value;
    }
}
