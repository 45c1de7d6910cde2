package dev.loomdb.edge.graph;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.MalformedInputException;
import java.nio.charset.StandardCharsets;

/** Request bodies as text: strict UTF-8, so a bad byte is a 400, never silently replaced by U+FFFD. */
public final class Bodies {

    private Bodies() {}

    /** The bytes as text when they are valid UTF-8, else null. */
    public static String utf8OrNull(byte[] bytes) {
        try {
            return decoder().decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }

    private static java.nio.charset.CharsetDecoder decoder() {
        return StandardCharsets.UTF_8
                .newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
    }

    public static String utf8(byte[] body) {
        if (body == null) {
            return null;
        }
        try {
            return decoder().decode(ByteBuffer.wrap(body)).toString();
        } catch (MalformedInputException e) {
            throw ApiProblem.badRequest("The body is not valid UTF-8: " + e.getInputLength()
                    + " bad byte(s) after the first " + firstBad(body) + " bytes.");
        } catch (CharacterCodingException e) {
            throw ApiProblem.badRequest("The body is not valid UTF-8.");
        }
    }

    /** How many bytes decode before the first bad one. */
    private static int firstBad(byte[] body) {
        ByteBuffer in = ByteBuffer.wrap(body);
        decoder().decode(in, java.nio.CharBuffer.allocate(body.length), true);
        return in.position();
    }
}
