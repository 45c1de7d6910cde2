package dev.loomdb.edge.apply;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.loomdb.edge.flow.Change;
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
}
