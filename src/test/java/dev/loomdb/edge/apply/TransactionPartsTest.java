package dev.loomdb.edge.apply;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loomdb.edge.flow.Change;
import dev.loomdb.edge.flow.Delivery;
import dev.loomdb.edge.flow.Envelope;
import dev.loomdb.edge.flow.EnvelopeFormat;
import dev.loomdb.edge.flow.Scope;
import dev.loomdb.edge.flow.TypeSet;
import dev.loomdb.edge.mesh.EnvelopeCodec;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class TransactionPartsTest {

    private final EnvelopeCodec codec = new EnvelopeCodec(new ObjectMapper());
    private final TransactionParts parts = new TransactionParts(codec, 60_000, Scope.ALL);
    private final List<String> acked = new ArrayList<>();

    private static Change change(int i) {
        return new Change(
                Change.Op.INSERT, Change.Kind.NODE, "n" + i, "T", "{}", null, null, 1000L + i, 1, "node-a", false);
    }

    private static Envelope window(long seq, int rows) {
        List<Change> changes = new ArrayList<>();
        for (int i = 0; i < rows; i++) {
            changes.add(change(i));
        }
        return new Envelope(1, "demo", "node-a", seq, 7, "0/1", Instant.now(), 1, changes);
    }

    private Delivery delivery(String name) {
        return new Delivery("loom/demo/changes/node-a", new byte[0], () -> acked.add(name));
    }

    @Test
    void partsAreHeldUnacknowledgedUntilTheWindowIsWholeInAnyOrder() throws Exception {
        Envelope whole = window(42, 6);
        Envelope p1 = whole.part(1, 3, whole.changes().subList(0, 2));
        Envelope p2 = whole.part(2, 3, whole.changes().subList(2, 4));
        Envelope p3 = whole.part(3, 3, whole.changes().subList(4, 6));
        assertNull(parts.add(p3, delivery("p3"), 0).whole());
        assertNull(parts.add(p1, delivery("p1"), 0).whole());
        assertEquals(2, parts.held());
        assertTrue(acked.isEmpty(), "a held part is not acknowledged");

        Delivery assembled = parts.add(p2, delivery("p2"), 0).whole();
        assertNotNull(assembled);
        Envelope decoded = codec.decode(assembled.payload());
        assertTrue(!decoded.isPart());
        assertEquals(whole.changes(), decoded.changes(), "the changes of every part, in the parts' order");
        assertEquals(0, parts.held());
        assertTrue(acked.isEmpty());
        acknowledgesEveryPart(assembled);
    }

    private void acknowledgesEveryPart(Delivery assembled) {
        assembled.ack().run();
        assertEquals(List.of("p1", "p2", "p3"), acked, "acknowledging the window acknowledges every part");
    }

    @Test
    void aPartDeliveredTwiceIsAcknowledgedOnceReplacedAndCountedOnce() {
        Envelope whole = window(43, 4);
        Envelope p1 = whole.part(1, 2, whole.changes().subList(0, 2));
        Envelope p2 = whole.part(2, 2, whole.changes().subList(2, 4));
        parts.add(p1, delivery("first"), 0);
        assertNull(parts.add(p1, delivery("again"), 0).whole());
        assertEquals(List.of("first"), acked);
        assertEquals(1, parts.held());
        assertNotNull(parts.add(p2, delivery("p2"), 0).whole());
    }

    @Test
    void windowsOfOneOriginAreKeptApartBySeq() {
        Envelope a = window(50, 2);
        Envelope b = window(51, 2);
        assertNull(parts.add(a.part(1, 2, a.changes().subList(0, 1)), delivery("a1"), 0)
                .whole());
        assertNull(parts.add(b.part(1, 2, b.changes().subList(0, 1)), delivery("b1"), 0)
                .whole());
        assertNotNull(parts.add(b.part(2, 2, b.changes().subList(1, 2)), delivery("b2"), 0)
                .whole());
        assertEquals(1, parts.held());
    }

    @Test
    void aPartThatDisagreesOnTheNumberOfPartsIsRefused() {
        Envelope a = window(60, 3);
        parts.add(a.part(1, 3, a.changes().subList(0, 1)), delivery("a1"), 0);
        TransactionParts.Added odd = parts.add(a.part(2, 2, a.changes().subList(1, 3)), delivery("odd"), 0);
        assertNull(odd.whole());
        assertNotNull(odd.mismatch());
        assertTrue(odd.mismatch().contains("against 3 parts"), odd.mismatch());
    }

    @Test
    void anIncompleteWindowIsGivenUpAfterTheWaitAndItsPartsHandedBack() {
        Envelope a = window(70, 3);
        AtomicInteger given = new AtomicInteger();
        parts.add(a.part(1, 3, a.changes().subList(0, 1)), delivery("a1"), 1_000);
        parts.add(a.part(3, 3, a.changes().subList(2, 3)), delivery("a3"), 2_000);
        assertTrue(parts.expired(60_999).isEmpty(), "not before the wait, counted from the first part");
        parts.expired(61_000).forEach(w -> given.addAndGet(w.parts().size()));
        assertEquals(2, given.get());
        assertEquals(0, parts.held());
        assertTrue(acked.isEmpty(), "the caller keeps them aside, then acknowledges");
    }

    private static Change typed(Change.Kind kind, String type, int i) {
        return new Change(
                Change.Op.INSERT,
                kind,
                kind.wireName() + i,
                type,
                "{\"i\":" + i + "}",
                kind == Change.Kind.EDGE ? "n1" : null,
                kind == Change.Kind.EDGE ? "n2" : null,
                2000L + i,
                1,
                "node-a",
                false);
    }

    /** A window of 3 types, each type's messages as the publisher sends them (one type of two parts). */
    private List<Envelope> splitByType(int maxBytes) throws Exception {
        List<Change> changes = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            changes.add(typed(Change.Kind.NODE, "Person", i));
            changes.add(typed(Change.Kind.NODE, "Place", 100 + i));
        }
        changes.add(typed(Change.Kind.EDGE, "KNOWS", 200));
        Envelope whole = new Envelope(1, "demo", "node-a", 80, 7, "0/1", Instant.now(), 2, changes);
        List<Envelope> messages = new ArrayList<>();
        for (EnvelopeFormat.Message message : codec.encodeByType(whole, maxBytes)) {
            Envelope decoded = codec.decode(message.payload());
            assertEquals(message.type(), decoded.changes().get(0).type());
            messages.add(decoded);
        }
        return messages;
    }

    @Test
    void aWindowSplitByTypeIsWholeForANodeOnceItHoldsTheMessagesOfTheTypesItFollows() throws Exception {
        List<Envelope> messages = splitByType(700);
        assertTrue(messages.size() > 3, "Person's changes do not fit one 700-byte message: " + messages.size());
        assertEquals(
                java.util.Set.of("node/Person", "node/Place", "edge/KNOWS"),
                messages.get(0).spans().keySet());
        Scope personOnly = new Scope(TypeSet.only(List.of("Person")), TypeSet.NONE);
        TransactionParts following = new TransactionParts(codec, 60_000, personOnly);
        List<Envelope> person = messages.stream()
                .filter(m -> m.changes().get(0).type().equals("Person"))
                .toList();
        assertTrue(person.size() >= 2);
        Delivery assembled = null;
        for (int i = person.size() - 1; i >= 0; i--) { // in any order
            TransactionParts.Added added = following.add(person.get(i), delivery("person" + i), 0);
            assertNull(added.mismatch());
            assembled = added.whole();
            assertEquals(i == 0, assembled != null, "whole only with the last of Person's messages");
        }
        Envelope decoded = codec.decode(assembled.payload());
        assertEquals(6, decoded.changes().size());
        assertTrue(decoded.changes().stream().allMatch(c -> c.type().equals("Person")));

        TransactionParts.Added other = following.add(
                messages.stream()
                        .filter(m -> m.changes().get(0).type().equals("Place"))
                        .findFirst()
                        .orElseThrow(),
                delivery("place"),
                0);
        assertNotNull(other.mismatch(), "a type this node does not follow is not held");

        TransactionParts everything = new TransactionParts(codec, 60_000, Scope.ALL);
        Delivery all = null;
        for (int i = 0; i < messages.size(); i++) {
            all = everything.add(messages.get(i), delivery("m" + i), 0).whole();
            assertEquals(i == messages.size() - 1, all != null, "a node that follows every type waits for them all");
        }
        assertEquals(13, codec.decode(all.payload()).changes().size());
    }
}
