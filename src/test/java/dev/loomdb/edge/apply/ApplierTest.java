package dev.loomdb.edge.apply;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loomdb.edge.flow.Change;
import dev.loomdb.edge.flow.Envelope;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class ApplierTest {

    private static Change node(String id, long hlc) {
        return new Change(
                Change.Op.UPDATE, Change.Kind.NODE, id, "T", "{\"v\":" + hlc + "}", null, null, hlc, hlc, "a", false);
    }

    @Test
    void aRowWrittenTwiceInOneTransactionIsAppliedWithItsLastState() {
        Change first = node("n1", 1);
        Change other = node("n2", 2);
        Change last = node("n1", 3);
        Change edgeWithSameId =
                new Change(Change.Op.INSERT, Change.Kind.EDGE, "n1", "E", "{}", "n1", "n2", 4, 1, "a", false);
        assertEquals(
                List.of(other, last, edgeWithSameId),
                Applier.lastStatePerRow(List.of(first, other, last, edgeWithSameId)));
    }

    @Test
    void distinctRowsAreKeptAsTheyCame() {
        List<Change> changes = List.of(node("a", 1), node("b", 2));
        assertSame(changes, Applier.lastStatePerRow(changes));
    }

    private static Envelope envelope(long seq, Change... changes) {
        Instant at = Instant.parse("2026-12-04T00:00:00Z");
        return new Envelope(Envelope.FORMAT_VERSION, "m", "a", seq, seq, "0/1", at, 1, List.of(changes), at);
    }

    @Test
    void aGroupWhoseEnvelopesShareARowIsWrittenEnvelopeByEnvelope() {
        // redelivered after a reconnection, the older state of n1 may come after the newer one: the merge decides
        assertTrue(Applier.rowInSeveral(List.of(envelope(2, node("n1", 3)), envelope(1, node("n1", 1)))));
        assertFalse(
                Applier.rowInSeveral(List.of(envelope(1, node("n1", 1), node("n1", 2)), envelope(2, node("n2", 3)))));
    }
}
