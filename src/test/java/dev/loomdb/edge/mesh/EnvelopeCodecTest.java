package dev.loomdb.edge.mesh;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loomdb.edge.graph.Change;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class EnvelopeCodecTest {

    private final ObjectMapper mapper = new ObjectMapper();
    private final EnvelopeCodec codec = new EnvelopeCodec(mapper);

    private static Envelope sample() {
        return new Envelope(1, "demo", "node-a", 42, 745, "0/16B3748", Instant.parse("2026-11-24T18:00:00.123456Z"), 1,
                List.of(new Change(Change.Op.INSERT, Change.Kind.NODE, "n1", "AGENT", "{\"name\":\"x\",\"n\":[1,2]}",
                                null, null, 117672777673998336L, 1, "node-a", false),
                        new Change(Change.Op.DELETE, Change.Kind.EDGE, "e1", "KNOWS", "{}", "n1", "n2", 5, 3,
                                "node-b", true)));
    }

    @Test
    void roundTripsEveryField() throws Exception {
        Envelope envelope = sample();
        Envelope decoded = codec.decode(codec.encode(envelope));
        assertEquals(envelope.origin(), decoded.origin());
        assertEquals(envelope.seq(), decoded.seq());
        assertEquals(envelope.commitTime(), decoded.commitTime());
        assertEquals(mapper.readTree(envelope.changes().get(0).properties()),
                mapper.readTree(decoded.changes().get(0).properties()));
        assertEquals(envelope.changes().get(1), decoded.changes().get(1));
        assertEquals(117672777673998336L, decoded.changes().get(0).hlc());
    }

    @Test
    void carriesTheFirstCommitTimeOfAWindowOnlyWhenItDiffers() throws Exception {
        Envelope single = sample();
        assertTrue(!new String(codec.encode(single), StandardCharsets.UTF_8).contains("firstCommitTime"));
        assertEquals(single.commitTime(), codec.decode(codec.encode(single)).firstCommitTime());
        Instant first = single.commitTime().minusMillis(80);
        Envelope window = new Envelope(1, "demo", "node-a", 42, 745, "0/16B3748", single.commitTime(), 3,
                single.changes(), first);
        assertEquals(first, codec.decode(codec.encode(window)).firstCommitTime());
    }

    @Test
    void aChangeRoundTripsAloneAsTheHistoryKeepsIt() throws Exception {
        for (Change change : sample().changes()) {
            assertEquals(change, codec.decodeChange(codec.encodeChange(change)));
        }
    }

    @Test
    void carriesTheClockAsAStringSoJavaScriptReadsItExactly() throws Exception {
        String json = new String(codec.encode(sample()), StandardCharsets.UTF_8);
        assertTrue(json.contains("\"hlc\":\"117672777673998336\""), json);
        assertEquals("edge", mapper.readTree(json).at("/changes/1/kind").asText());
        assertEquals("n2", mapper.readTree(json).at("/changes/1/target").asText());
    }

    @Test
    void shouldRejectMalformedJson() {
        MalformedEnvelopeException e = assertThrows(MalformedEnvelopeException.class,
                () -> codec.decode("{\"v\":1,".getBytes(StandardCharsets.UTF_8)));
        assertTrue(e.getMessage().startsWith("not JSON"), e.getMessage());
    }

    @Test
    void shouldRejectUnknownVersion() {
        MalformedEnvelopeException e = assertThrows(MalformedEnvelopeException.class,
                () -> codec.decode("{\"v\":2,\"changes\":[]}".getBytes(StandardCharsets.UTF_8)));
        assertTrue(e.getMessage().contains("version 2"), e.getMessage());
    }

    @Test
    void shouldRejectAChangeWithoutProperties() throws Exception {
        String json = new String(codec.encode(sample()), StandardCharsets.UTF_8)
                .replace("\"properties\":{}", "\"properties\":[]");
        MalformedEnvelopeException e = assertThrows(MalformedEnvelopeException.class,
                () -> codec.decode(json.getBytes(StandardCharsets.UTF_8)));
        assertTrue(e.getMessage().contains("changes[1].properties"), e.getMessage());
    }

    @Test
    void shouldRejectAnOversizedId() {
        String json = new String(codec.encode(sample()), StandardCharsets.UTF_8).replace("\"n1\"",
                "\"" + "x".repeat(300) + "\"");
        assertThrows(MalformedEnvelopeException.class, () -> codec.decode(json.getBytes(StandardCharsets.UTF_8)));
    }
}
