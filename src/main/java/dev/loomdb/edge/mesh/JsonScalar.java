package dev.loomdb.edge.mesh;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.loomdb.edge.flow.GraphRules;
import dev.loomdb.edge.flow.MalformedEnvelopeException;
import java.io.IOException;

/**
 * A field's value as read: its first token, the text of a string, the value of an integer that
 * fits a long. An object or array is skipped and kept as its token only.
 */
record JsonScalar(JsonToken token, String text, boolean fitsLong, long number) {

    /** Ids (node, edge, mesh, origin) are at most this many characters. */
    static final int MAX_ID_LENGTH = GraphRules.MAX_ID_LENGTH;

    /** Marks a change that is not a JSON object. */
    static final JsonScalar NOT_AN_OBJECT = new JsonScalar(JsonToken.START_OBJECT, null, false, 0);

    static JsonScalar read(JsonParser parser) throws IOException {
        JsonToken token = parser.currentToken();
        return switch (token) {
            case VALUE_STRING -> new JsonScalar(token, parser.getText(), false, 0);
            case VALUE_NUMBER_INT -> {
                JsonParser.NumberType type = parser.getNumberType();
                boolean fits = type == JsonParser.NumberType.INT || type == JsonParser.NumberType.LONG;
                yield new JsonScalar(token, null, fits, fits ? parser.getLongValue() : 0);
            }
            default -> {
                parser.skipChildren();
                yield new JsonScalar(token, null, false, 0);
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

    static String text(JsonScalar value, String field, String where) throws MalformedEnvelopeException {
        if (value == null || value.token != JsonToken.VALUE_STRING) {
            throw new MalformedEnvelopeException(where + "." + field + " must be a string");
        }
        return value.text;
    }

    static String id(JsonScalar value, String field, String where) throws MalformedEnvelopeException {
        String text = text(value, field, where);
        String problem = GraphRules.idProblem(where + "." + field, text);
        if (problem != null) {
            throw new MalformedEnvelopeException(problem);
        }
        return text;
    }

    static long integer(JsonScalar value, String field, String where) throws MalformedEnvelopeException {
        if (value == null || !value.fitsLong) {
            throw new MalformedEnvelopeException(where + "." + field + " must be an integer");
        }
        return value.number;
    }
}
