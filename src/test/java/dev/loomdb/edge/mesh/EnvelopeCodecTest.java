package dev.loomdb.edge.mesh;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loomdb.edge.flow.Change;
import dev.loomdb.edge.flow.Envelope;
import dev.loomdb.edge.flow.EnvelopeFormat;
import dev.loomdb.edge.flow.MalformedEnvelopeException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class EnvelopeCodecTest {

    private final ObjectMapper mapper = new ObjectMapper();
    private final EnvelopeCodec codec = new EnvelopeCodec(mapper);
    private final ChangeJson changeJson = new ChangeJson(mapper);

    private static Envelope sample() {
        return new Envelope(
                1,
                "demo",
                "node-a",
                42,
                745,
                "0/16B3748",
                Instant.parse("2026-11-24T18:00:00.123456Z"),
                1,
                List.of(
                        new Change(
                                Change.Op.INSERT,
                                Change.Kind.NODE,
                                "n1",
                                "AGENT",
                                "{\"name\":\"x\",\"n\":[1,2]}",
                                null,
                                null,
                                117672777673998336L,
                                1,
                                "node-a",
                                false),
                        new Change(
                                Change.Op.DELETE,
                                Change.Kind.EDGE,
                                "e1",
                                "KNOWS",
                                "{}",
                                "n1",
                                "n2",
                                5,
                                3,
                                "node-b",
                                true)));
    }

    @Test
    void roundTripsEveryField() throws Exception {
        Envelope envelope = sample();
        Envelope decoded = codec.decode(codec.encode(envelope));
        assertEquals(envelope.origin(), decoded.origin());
        assertEquals(envelope.seq(), decoded.seq());
        assertEquals(envelope.commitTime(), decoded.commitTime());
        assertEquals(
                mapper.readTree(envelope.changes().get(0).properties()),
                mapper.readTree(decoded.changes().get(0).properties()));
        assertEquals(envelope.changes().get(1), decoded.changes().get(1));
        assertEquals(117672777673998336L, decoded.changes().get(0).hlc().value());
    }

    @Test
    void carriesTheFirstCommitTimeOfAWindowOnlyWhenItDiffers() throws Exception {
        Envelope single = sample();
        assertTrue(!new String(codec.encode(single), StandardCharsets.UTF_8).contains("firstCommitTime"));
        assertEquals(single.commitTime(), codec.decode(codec.encode(single)).firstCommitTime());
        Instant first = single.commitTime().minusMillis(80);
        Envelope window = new Envelope(
                1, "demo", "node-a", 42, 745, "0/16B3748", single.commitTime(), 3, single.changes(), first);
        assertEquals(first, codec.decode(codec.encode(window)).firstCommitTime());
    }

    @Test
    void aChangeRoundTripsAloneAsTheHistoryKeepsIt() throws Exception {
        for (Change change : sample().changes()) {
            assertEquals(change, changeJson.decode(changeJson.encode(change)));
        }
    }

    @Test
    void carriesTheClockAsAStringSoJavaScriptReadsItExactly() throws Exception {
        String json = new String(codec.encode(sample()), StandardCharsets.UTF_8);
        assertTrue(json.contains("\"hlc\":\"117672777673998336\""), json);
        assertEquals("edge", mapper.readTree(json).at("/changes/1/kind").asText());
        assertEquals("n2", mapper.readTree(json).at("/changes/1/target").asText());
    }

    private static Envelope window(int rows, int propertyBytes) {
        List<Change> changes = new java.util.ArrayList<>();
        String filler = "x".repeat(propertyBytes);
        for (int i = 0; i < rows; i++) {
            changes.add(new Change(
                    Change.Op.INSERT,
                    Change.Kind.NODE,
                    "n" + i,
                    "T",
                    "{\"fill\":\"" + filler + "\",\"i\":" + i + "}",
                    null,
                    null,
                    1000L + i,
                    1,
                    "node-a",
                    false));
        }
        return new Envelope(1, "demo", "node-a", 42, 745, "0/16B3748", Instant.now(), 1, changes);
    }

    @Test
    void aWindowThatFitsTravelsAsOneMessageWithoutPartFields() throws Exception {
        List<byte[]> messages = codec.encodeWithin(sample(), 16 * 1024);
        assertEquals(1, messages.size());
        assertTrue(!new String(messages.get(0), StandardCharsets.UTF_8).contains("\"parts\""));
        assertTrue(!codec.decode(messages.get(0)).isPart());
    }

    @Test
    void aWindowLargerThanAMessageIsSplitIntoPartsThatEachFitAndTogetherHoldEveryChangeInOrder() throws Exception {
        Envelope big = window(2_000, 100);
        int max = 32 * 1024;
        assertTrue(codec.encode(big).length > 5 * max);
        List<byte[]> messages = codec.encodeWithin(big, max);
        assertTrue(messages.size() > 5, "parts: " + messages.size());
        List<Change> again = new java.util.ArrayList<>();
        for (int i = 0; i < messages.size(); i++) {
            assertTrue(messages.get(i).length <= max, "part " + (i + 1) + " has " + messages.get(i).length + " bytes");
            Envelope part = codec.decode(messages.get(i));
            assertEquals(i + 1, part.part());
            assertEquals(messages.size(), part.parts());
            assertEquals(big.seq(), part.seq());
            assertEquals(big.txid(), part.txid());
            again.addAll(part.changes());
        }
        assertEquals(big.changes(), again);
    }

    @Test
    void aSingleChangeLargerThanAMessageIsNamed() {
        Envelope big = window(3, 40_000);
        EnvelopeFormat.OversizedChangeException e =
                assertThrows(EnvelopeFormat.OversizedChangeException.class, () -> codec.encodeWithin(big, 32 * 1024));
        assertEquals("n0", e.change().id());
        assertTrue(e.getMessage().contains("loom.mqtt.max-message-size=32768"), e.getMessage());
    }

    @Test
    void shouldRejectAPartOutsideItsWindow() throws Exception {
        String json = new String(codec.encode(sample()), StandardCharsets.UTF_8)
                .replace("\"transactions\":1,", "\"transactions\":1,\"part\":3,\"parts\":2,");
        MalformedEnvelopeException e = assertThrows(
                MalformedEnvelopeException.class, () -> codec.decode(json.getBytes(StandardCharsets.UTF_8)));
        assertTrue(e.getMessage().contains("3 of 2"), e.getMessage());
    }

    @Test
    void shouldRejectMalformedJson() {
        MalformedEnvelopeException e = assertThrows(
                MalformedEnvelopeException.class, () -> codec.decode("{\"v\":1,".getBytes(StandardCharsets.UTF_8)));
        assertTrue(e.getMessage().startsWith("not JSON"), e.getMessage());
    }

    @Test
    void shouldRejectUnknownVersion() {
        MalformedEnvelopeException e = assertThrows(
                MalformedEnvelopeException.class,
                () -> codec.decode("{\"v\":2,\"changes\":[]}".getBytes(StandardCharsets.UTF_8)));
        assertTrue(e.getMessage().contains("version 2"), e.getMessage());
    }

    @Test
    void shouldRejectAChangeWithoutProperties() throws Exception {
        String json = new String(codec.encode(sample()), StandardCharsets.UTF_8)
                .replace("\"properties\":{}", "\"properties\":[]");
        MalformedEnvelopeException e = assertThrows(
                MalformedEnvelopeException.class, () -> codec.decode(json.getBytes(StandardCharsets.UTF_8)));
        assertTrue(e.getMessage().contains("changes[1].properties"), e.getMessage());
    }

    @Test
    void shouldRejectAnOversizedId() {
        String json = new String(codec.encode(sample()), StandardCharsets.UTF_8)
                .replace("\"n1\"", "\"" + "x".repeat(300) + "\"");
        assertThrows(MalformedEnvelopeException.class, () -> codec.decode(json.getBytes(StandardCharsets.UTF_8)));
    }

    private static final String CHANGE = "{\"op\":\"insert\",\"kind\":\"node\",\"id\":\"n1\",\"type\":\"T\","
            + "\"properties\":%s,\"hlc\":\"5\",\"version\":1,\"origin\":\"node-a\",\"tombstone\":false%s}";

    private Envelope decode(String json) throws MalformedEnvelopeException {
        return codec.decode(json.getBytes(StandardCharsets.UTF_8));
    }

    private MalformedEnvelopeException rejected(String json) {
        return assertThrows(MalformedEnvelopeException.class, () -> decode(json));
    }

    private static String envelope(String... changes) {
        return "{\"v\":1,\"mesh\":\"demo\",\"origin\":\"node-a\",\"seq\":1,\"txid\":2,\"lsn\":\"0/1\","
                + "\"commitTime\":\"2026-11-24T18:00:00Z\",\"changes\":[" + String.join(",", changes) + "]}";
    }

    @Test
    void keepsPropertiesAndClocksAsTheSenderWroteThemSoNumbersKeepTheirPrecision() throws Exception {
        String properties =
                "{\"price\": 12345678901234567890.123456789, \"tags\": [\"a\", {\"b\": null}], \"big\": 1e400}";
        String clocks = "{\"price\": [117672777673998336, \"node-a\"]}";
        Change change = decode(envelope(CHANGE.formatted(properties, ",\"propertyClocks\":" + clocks)))
                .changes()
                .get(0);
        assertEquals(properties, change.properties());
        assertEquals(clocks, change.propertyClocks());
        assertEquals(
                "{}",
                decode(envelope(CHANGE.formatted("{}", ""))).changes().get(0).propertyClocks());
    }

    @Test
    void lineBreaksBetweenTokensBecomeSpacesSoTheTextStaysOneLine() throws Exception {
        Change change = decode(envelope(CHANGE.formatted(
                        "{\n  \"a\": \"x\\ny\",\r\n  \"b\": 1\n}", ",\"propertyClocks\":{\"a\":\n[1, \"n\"]}")))
                .changes()
                .get(0);
        assertEquals("{   \"a\": \"x\\ny\",    \"b\": 1 }", change.properties());
        assertEquals("{\"a\": [1, \"n\"]}", change.propertyClocks());
    }

    @Test
    void readsFieldsInAnyOrderAndSkipsUnknownOnes() throws Exception {
        String json = "{\"changes\":[" + CHANGE.formatted("{\"x\":1}", ",\"extra\":{\"deep\":[1,{\"y\":[]}]}")
                + "],\"future\":[{\"a\":1}],\"commitTime\":\"2026-11-24T18:00:00Z\",\"lsn\":\"0/1\",\"txid\":2,"
                + "\"seq\":9,\"origin\":\"node-a\",\"mesh\":\"demo\",\"v\":1}";
        Envelope envelope = decode(json);
        assertEquals(9, envelope.seq());
        assertEquals("{\"x\":1}", envelope.changes().get(0).properties());
    }

    @Test
    void judgesTheVersionFirstAndASyntaxErrorAnywhereAsSuch() {
        assertTrue(rejected("{\"changes\":[{\"kind\":\"bogus\"}],\"v\":2}")
                .getMessage()
                .contains("version 2"));
        assertTrue(rejected("{\"v\":1,\"changes\":[{\"kind\":\"bogus\"}],\"mesh\":[1,}")
                .getMessage()
                .startsWith("not JSON"));
        assertTrue(rejected("{\"v\":1,\"changes\":[{\"kind\":").getMessage().startsWith("not JSON"));
        assertEquals(
                "changes[1] is not an object",
                rejected(envelope(CHANGE.formatted("{}", ""), "7")).getMessage());
        assertEquals(
                "'changes' must be an array",
                rejected("{\"v\":1,\"changes\":{}}").getMessage());
        assertEquals("the envelope is not a JSON object", rejected("").getMessage());
    }

    @Test
    void rejectsPropertyClocksThatAreNotHlcOriginPairs() {
        for (String clocks : List.of(
                "{\"a\":[1]}",
                "{\"a\":[\"1\",\"x\"]}",
                "{\"a\":[1,2]}",
                "{\"a\":[1,\"x\",3]}",
                "{\"a\":1}",
                "{\"a\":[1,\"x\"],\"b\":{}}")) {
            assertEquals(
                    "changes[0].propertyClocks values must be [hlc, origin]",
                    rejected(envelope(CHANGE.formatted("{}", ",\"propertyClocks\":" + clocks)))
                            .getMessage(),
                    clocks);
        }
        assertEquals(
                "changes[0].propertyClocks must be a JSON object",
                rejected(envelope(CHANGE.formatted("{}", ",\"propertyClocks\":[]")))
                        .getMessage());
        assertEquals(
                "changes[0].tombstone must be true or false",
                rejected(envelope(CHANGE.formatted("{}", "").replace("false", "\"no\"")))
                        .getMessage());
        assertEquals(
                "changes[0].version must be an integer",
                rejected(envelope(CHANGE.formatted("{}", "").replace(":1,", ":1.5,")))
                        .getMessage());
    }

    @Test
    void commitTimesAreReadAsTheGeneralParserReadsThem() {
        java.util.Random random = new java.util.Random(42);
        for (int i = 0; i < 20_000; i++) {
            long seconds = random.nextLong(-62_000_000_000L, 250_000_000_000L); // years 0005 .. 9892
            int nanos = switch (i % 4) {
                case 0 -> 0;
                case 1 -> random.nextInt(1_000) * 1_000_000;
                case 2 -> random.nextInt(1_000_000) * 1_000;
                default -> random.nextInt(1_000_000_000);
            };
            String written = Instant.ofEpochSecond(seconds, nanos).toString();
            assertEquals(Instant.parse(written), EnvelopeCodec.utcInstant(written), written);
        }
        assertEquals(Instant.parse("2026-12-04T10:19:18.5Z"), EnvelopeCodec.utcInstant("2026-12-04T10:19:18.5Z"));
        // anything else is left to the general parser: offsets, leap seconds, impossible dates, stray characters
        for (String other : List.of(
                "2026-12-04T10:19:18+01:00",
                "2026-12-31T23:59:60Z",
                "2026-02-30T10:19:18Z",
                "2026-13-04T10:19:18Z",
                "2026-12-04T24:00:00Z",
                "2026-12-04T10:19:18.Z",
                "2026-12-04T10:19:18.1234567890Z",
                "2026-12-04 10:19:18Z",
                "2026-12-04T10:19:1xZ",
                "+12026-12-04T10:19:18Z")) {
            assertEquals(null, EnvelopeCodec.utcInstant(other), other);
        }
    }
}
