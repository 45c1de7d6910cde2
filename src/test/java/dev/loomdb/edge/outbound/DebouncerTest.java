package dev.loomdb.edge.outbound;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loomdb.edge.flow.CapturedTransaction;
import dev.loomdb.edge.flow.Change;
import dev.loomdb.edge.flow.Lsn;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class DebouncerTest {

    private static final long MS = TimeUnit.MILLISECONDS.toNanos(1);
    private long lsn = 100;

    private Change change(Change.Op op, String id, String properties, long hlc, boolean tombstone) {
        return new Change(op, Change.Kind.NODE, id, "T", properties, null, null, hlc, hlc, "a", tombstone);
    }

    private CapturedTransaction tx(Change... changes) {
        lsn += 10;
        return new CapturedTransaction(lsn, new Lsn(lsn), new Lsn(lsn + 1), Instant.EPOCH, null, List.of(changes));
    }

    @Test
    void burstOfUpdatesToFewEntitiesLeavesTheLastStateOfEach() {
        Debouncer debouncer = new Debouncer(Duration.ofMillis(100), 10_000, 1 << 22);
        for (int i = 0; i < 1000; i++) {
            assertTrue(debouncer
                    .add(tx(change(Change.Op.UPDATE, "e" + (i % 10), "{\"n\":" + i + "}", i, false)), i * 50_000L)
                    .isEmpty());
        }
        assertTrue(debouncer.due(99 * MS).isEmpty(), "the window is still open");
        Window window = debouncer.due(100 * MS).orElseThrow();
        assertEquals(1000, window.transactions().size(), "every transaction is acknowledged with the window");
        assertEquals(10, window.changes().size());
        assertEquals(990, window.coalesced());
        Change e3 = window.changes().stream()
                .filter(c -> c.id().equals("e3"))
                .findFirst()
                .orElseThrow();
        assertEquals("{\"n\":993}", e3.properties());
        assertTrue(debouncer.isEmpty());
    }

    @Test
    void foldingNeverLosesACreateOrADelete() {
        Debouncer debouncer = new Debouncer(Duration.ofMillis(100), 10_000, 1 << 22);
        debouncer.add(tx(change(Change.Op.INSERT, "new", "{}", 1, false)), 0);
        debouncer.add(tx(change(Change.Op.UPDATE, "new", "{\"x\":1}", 2, false)), 0);
        debouncer.add(tx(change(Change.Op.UPDATE, "gone", "{\"x\":1}", 3, false)), 0);
        debouncer.add(tx(change(Change.Op.DELETE, "gone", "{}", 4, true)), 0);
        List<Change> changes = debouncer.flush().orElseThrow().changes();
        assertEquals(Change.Op.INSERT, changes.get(0).op());
        assertEquals("{\"x\":1}", changes.get(0).properties());
        assertEquals(Change.Op.DELETE, changes.get(1).op());
        assertTrue(changes.get(1).tombstone());
    }

    @Test
    void aWindowHoldsWholeTransactionsAndClosesEarlyAtItsBound() {
        Debouncer debouncer = new Debouncer(Duration.ofMillis(100), 5, 1 << 22);
        assertTrue(debouncer
                .add(
                        tx(
                                change(Change.Op.INSERT, "a", "{}", 1, false),
                                change(Change.Op.INSERT, "b", "{}", 1, false),
                                change(Change.Op.INSERT, "c", "{}", 1, false)),
                        0)
                .isEmpty());
        List<Window> ready = debouncer.add(
                tx(
                        change(Change.Op.INSERT, "d", "{}", 1, false),
                        change(Change.Op.INSERT, "e", "{}", 1, false),
                        change(Change.Op.INSERT, "f", "{}", 1, false)),
                MS);
        assertEquals(1, ready.size(), "the first transaction goes alone rather than be split");
        assertEquals(3, ready.get(0).changes().size());
        Optional<Window> rest = debouncer.flush();
        assertEquals(
                List.of("d", "e", "f"),
                rest.orElseThrow().changes().stream().map(Change::id).toList());
    }

    @Test
    void zeroWindowSendsEveryTransactionAtOnce() {
        Debouncer debouncer = new Debouncer(Duration.ZERO, 10_000, 1 << 22);
        assertEquals(
                1,
                debouncer
                        .add(tx(change(Change.Op.INSERT, "a", "{}", 1, false)), 0)
                        .size());
        assertTrue(debouncer.isEmpty());
    }
}
