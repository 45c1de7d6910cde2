package dev.loomdb.edge.apply;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loomdb.edge.flow.Change;
import dev.loomdb.edge.flow.Envelope;
import dev.loomdb.edge.flow.Hlc;
import dev.loomdb.edge.flow.Scope;
import dev.loomdb.edge.flow.TypeSet;
import dev.loomdb.edge.mesh.EnvelopeCodec;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class AdmissionTest {

    private static final String TOPIC_A = "loom/demo/changes/node-a";

    private final EnvelopeCodec codec = new EnvelopeCodec(new ObjectMapper());
    private final Scope sensorsOnly = new Scope(TypeSet.only(List.of("Sensor")), TypeSet.ALL);
    private final Admission everything = admission(Scope.ALL);

    private Admission admission(Scope follows) {
        return new Admission(
                codec, "demo", "node-b", follows, new TransactionParts(codec, 60_000, follows), Duration.ofDays(7));
    }

    private static Change node(String id, String type, Instant at) {
        return new Change(
                Change.Op.INSERT,
                Change.Kind.NODE,
                id,
                type,
                "{}",
                null,
                null,
                Hlc.at(at).value(),
                1,
                "node-a",
                false);
    }

    private static Envelope envelope(String mesh, String origin, Change... changes) {
        return new Envelope(1, mesh, origin, 1, 7, "0/1", Instant.now(), 1, List.of(changes));
    }

    private Admission.Verdict live(Admission admission, String topic, Envelope envelope) {
        return admission.admit(topic, codec.encode(envelope), null, null, false);
    }

    @Test
    void aPeersMessageOnItsOwnTopicIsAppliedWhole() {
        Envelope sent = envelope("demo", "node-a", node("n1", "Sensor", Instant.now()));
        Admission.Verdict verdict = live(everything, TOPIC_A, sent);
        Admission.Apply apply = assertInstanceOf(Admission.Apply.class, verdict);
        assertEquals(sent.changes(), apply.envelope().changes());
    }

    @Test
    void thisNodesOwnEchoIsSkippedWithoutReadingIt() {
        byte[] notAnEnvelope = "not json".getBytes(StandardCharsets.UTF_8);
        assertInstanceOf(
                Admission.Skip.class,
                everything.admit("loom/demo/changes/node-b/1", notAnEnvelope, null, null, false),
                "an echo is skipped before it is read, so even bytes that are not an envelope are not rejected");
        assertInstanceOf(
                Admission.Reject.class,
                everything.admit("loom/demo/changes/node-b/1", notAnEnvelope, null, "node-a", false),
                "rows of state sync are always read");
    }

    @Test
    void badBytesAnotherMeshAndAnotherNodesTopicAreRejectedWithTheirReason() {
        Admission.Reject malformed = assertInstanceOf(
                Admission.Reject.class,
                everything.admit(TOPIC_A, "{".getBytes(StandardCharsets.UTF_8), null, null, false));
        assertEquals(Rejects.Reason.MALFORMED, malformed.reason());

        Admission.Reject mesh = assertInstanceOf(
                Admission.Reject.class,
                live(everything, TOPIC_A, envelope("other", "node-a", node("n1", "Sensor", Instant.now()))));
        assertEquals(Rejects.Reason.WRONG_MESH, mesh.reason());

        Admission.Reject forged = assertInstanceOf(
                Admission.Reject.class,
                live(everything, TOPIC_A, envelope("demo", "node-c", node("n1", "Sensor", Instant.now()))));
        assertEquals(Rejects.Reason.WRONG_ORIGIN, forged.reason());
        assertTrue(forged.detail().contains("node-c") && forged.detail().contains("node-a"), forged.detail());
    }

    @Test
    void stateSyncRowsMustComeFromThePeerThatSendsThem() {
        byte[] rows = codec.encode(envelope("demo", "node-a", node("n1", "Sensor", Instant.now())));
        assertInstanceOf(Admission.Apply.class, everything.admit("loom/demo/sync/x", rows, null, "node-a", false));
        Admission.Reject other = assertInstanceOf(
                Admission.Reject.class, everything.admit("loom/demo/sync/x", rows, null, "node-c", false));
        assertEquals(Rejects.Reason.MALFORMED, other.reason());
    }

    @Test
    void onlyTheFollowedChangesAreAppliedAndAMessageWithNoneIsSkipped() {
        Admission sensors = admission(sensorsOnly);
        Envelope mixed =
                envelope("demo", "node-a", node("s1", "Sensor", Instant.now()), node("r1", "Room", Instant.now()));
        Admission.Apply apply = assertInstanceOf(Admission.Apply.class, live(sensors, TOPIC_A, mixed));
        assertEquals(
                List.of("s1"),
                apply.envelope().changes().stream().map(Change::id).toList());
        assertFalse(sensors.appliesWhole(TOPIC_A, mixed, "node-a"), "a filtered message is not grouped");

        Envelope rooms = envelope("demo", "node-a", node("r2", "Room", Instant.now()));
        assertInstanceOf(Admission.Skip.class, live(sensors, TOPIC_A, rooms));
    }

    @Test
    void aPartIsHeldWhenLiveAndRejectedWhereAWholeEnvelopeIsExpected() {
        Envelope whole =
                envelope("demo", "node-a", node("n1", "Sensor", Instant.now()), node("n2", "Sensor", Instant.now()));
        Envelope part = whole.part(1, 2, whole.changes().subList(0, 1));
        byte[] bytes = codec.encode(part);
        assertInstanceOf(Admission.Hold.class, everything.admit(TOPIC_A, bytes, null, null, false));
        assertInstanceOf(Admission.Reject.class, everything.admit(TOPIC_A, bytes, null, null, true), "parked");
        assertInstanceOf(Admission.Reject.class, everything.admit(TOPIC_A, bytes, null, "node-a", false));
    }

    @Test
    void aChangeOlderThanTheRetentionIsBeyondTheHorizonAndNeverGrouped() {
        Envelope old = envelope(
                "demo",
                "node-a",
                node("n1", "Sensor", Instant.now()),
                node("n2", "Sensor", Instant.now().minus(Duration.ofDays(8))));
        String why = everything.beyondHorizon(old);
        assertNotNull(why);
        assertTrue(why.contains("loom.tombstone.retention"), why);
        assertFalse(everything.appliesWhole(TOPIC_A, old, "node-a"));

        Envelope fresh = envelope("demo", "node-a", node("n3", "Sensor", Instant.now()));
        assertNull(everything.beyondHorizon(fresh));
        assertTrue(everything.appliesWhole(TOPIC_A, fresh, "node-a"));
        assertFalse(everything.appliesWhole("loom/demo/changes/node-c", fresh, "node-a"), "another peer's topic");
    }

    @Test
    void anEnvelopeReadAheadIsTakenAsRead() {
        Envelope sent = envelope("demo", "node-a", node("n1", "Sensor", Instant.now()));
        Admission.Apply apply =
                assertInstanceOf(Admission.Apply.class, everything.admit(TOPIC_A, new byte[0], sent, null, false));
        assertSame(sent, apply.envelope());
    }
}
