package dev.loomdb.edge.capture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loomdb.edge.capture.pgoutput.PgOutputException;
import dev.loomdb.edge.capture.pgoutput.PgOutputMessage.Begin;
import dev.loomdb.edge.capture.pgoutput.PgOutputMessage.Column;
import dev.loomdb.edge.capture.pgoutput.PgOutputMessage.Commit;
import dev.loomdb.edge.capture.pgoutput.PgOutputMessage.Insert;
import dev.loomdb.edge.capture.pgoutput.PgOutputMessage.Origin;
import dev.loomdb.edge.capture.pgoutput.PgOutputMessage.Relation;
import dev.loomdb.edge.capture.pgoutput.PgOutputMessage.Truncate;
import dev.loomdb.edge.capture.pgoutput.PgOutputMessage.TupleData;
import dev.loomdb.edge.capture.pgoutput.PgOutputMessage.TupleValue;
import dev.loomdb.edge.capture.pgoutput.PgOutputMessage.Update;
import dev.loomdb.edge.flow.CapturedTransaction;
import dev.loomdb.edge.flow.Change;
import dev.loomdb.edge.flow.Lsn;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class TransactionAssemblerTest {

    private static final List<String> NODE_COLUMNS =
            List.of("id", "type", "properties", "hlc", "version", "origin", "tombstone", "deleted_at");

    private final List<String> warnings = new ArrayList<>();
    private final TransactionAssembler assembler = new TransactionAssembler("loom", warnings::add);

    private static Relation nodes(List<String> names) {
        return new Relation(
                1,
                "loom",
                "nodes",
                'f',
                names.stream().map(n -> new Column(n.equals("id"), n, 25, -1)).toList());
    }

    private static TupleData row(String... values) {
        return new TupleData(Arrays.stream(values)
                .map(v -> v == null
                        ? TupleValue.NULL
                        : v.equals("<u>") ? TupleValue.UNCHANGED_TOAST : new TupleValue.Text(v))
                .toList());
    }

    private void begin() {
        assembler.accept(new Begin(new Lsn(100), Instant.EPOCH, 7));
    }

    private CapturedTransaction commit() {
        return assembler
                .accept(new Commit(0, new Lsn(100), new Lsn(120), Instant.EPOCH))
                .orElseThrow();
    }

    @Test
    void groupsChangesOfOneTransaction() {
        assembler.accept(nodes(NODE_COLUMNS));
        begin();
        assembler.accept(new Insert(1, row("a", "AGENT", "{}", "65536", "1", "n1", "f", null)));
        assembler.accept(new Insert(1, row("b", "FACT", "{\"x\": 1}", "65537", "1", "n1", "f", null)));
        CapturedTransaction tx = commit();
        assertEquals(7, tx.xid());
        assertEquals(new Lsn(120), tx.endLsn());
        assertEquals(List.of("a", "b"), tx.changes().stream().map(Change::id).toList());
        assertEquals(Change.Op.INSERT, tx.changes().get(0).op());
        assertEquals(65537, tx.changes().get(1).hlc().value());
    }

    @Test
    void tombstoneUpdateBecomesDelete() {
        assembler.accept(nodes(NODE_COLUMNS));
        begin();
        assembler.accept(new Update(1, null, false, row("a", "AGENT", "{}", "9", "2", "n1", "t", "2026-01-01")));
        Change change = commit().changes().get(0);
        assertEquals(Change.Op.DELETE, change.op());
        assertTrue(change.tombstone());
    }

    @Test
    void unchangedToastIsTakenFromTheOldRow() {
        assembler.accept(nodes(NODE_COLUMNS));
        begin();
        assembler.accept(new Update(
                1,
                row("a", "AGENT", "{\"big\": \"…\"}", "9", "1", "n1", "f", null),
                false,
                row("a", "RULE", "<u>", "10", "2", "n1", "f", null)));
        Change change = commit().changes().get(0);
        assertEquals("RULE", change.type());
        assertEquals("{\"big\": \"…\"}", change.properties());
    }

    @Test
    void unchangedToastWithoutOldRowFailsNamingTheFix() {
        assembler.accept(nodes(NODE_COLUMNS));
        begin();
        PgOutputException e = assertThrows(
                PgOutputException.class,
                () -> assembler.accept(
                        new Update(1, null, false, row("a", "RULE", "<u>", "10", "2", "n1", "f", null))));
        assertTrue(e.getMessage().contains("REPLICA IDENTITY FULL"), e.getMessage());
    }

    @Test
    void readsTheNewShapeAfterColumnsChange() {
        assembler.accept(nodes(NODE_COLUMNS));
        List<String> widened = new ArrayList<>(NODE_COLUMNS);
        widened.add(2, "note");
        assembler.accept(nodes(widened));
        begin();
        assembler.accept(new Insert(1, row("a", "AGENT", "hello", "{}", "5", "1", "n1", "f", null)));
        Change change = commit().changes().get(0);
        assertEquals("{}", change.properties());
        assertEquals(5, change.hlc().value());
    }

    @Test
    void marksTransactionsAppliedForAPeer() {
        assembler.accept(nodes(NODE_COLUMNS));
        begin();
        assembler.accept(new Origin(new Lsn(1), "loom_apply"));
        assembler.accept(new Insert(1, row("a", "AGENT", "{}", "5", "1", "peer", "f", null)));
        assertTrue(commit().appliedForPeer());
    }

    @Test
    void anInsertOfALaterVersionIsTheUpdateARowFilterAnnouncedAsInsert() {
        assembler.accept(nodes(NODE_COLUMNS));
        begin();
        assembler.accept(new Insert(1, row("a", "AGENT", "{}", "65536", "1", "n1", "f", null)));
        assembler.accept(new Insert(1, row("b", "AGENT", "{}", "65537", "3", "n1", "f", null)));
        assembler.accept(new Insert(1, row("c", "AGENT", "{}", "65538", "4", "n1", "t", null)));
        assertEquals(
                List.of(Change.Op.INSERT, Change.Op.UPDATE, Change.Op.DELETE),
                commit().changes().stream().map(Change::op).toList());
    }

    @Test
    void dropsRowsAppliedForAPeerUndecoded() {
        ByteBuffer garbageInsert =
                ByteBuffer.wrap(new byte[] {'I', 0, 0, 0, 1, 'N', 0x7f}); // a tuple that cannot be read
        ByteBuffer relation = ByteBuffer.wrap(new byte[] {'R'});
        assembler.accept(nodes(NODE_COLUMNS));
        assertFalse(assembler.skipsUndecoded(garbageInsert), "outside a transaction");
        begin();
        assertFalse(assembler.skipsUndecoded(garbageInsert), "a local write is decoded");
        assembler.accept(new Insert(1, row("a", "AGENT", "{}", "5", "1", "n1", "f", null)));
        assertEquals(1, commit().changes().size());

        begin();
        assembler.accept(new Origin(new Lsn(1), "loom_apply"));
        assertTrue(assembler.skipsUndecoded(garbageInsert));
        assertTrue(assembler.skipsUndecoded(ByteBuffer.wrap(new byte[] {'U'})));
        assertTrue(assembler.skipsUndecoded(ByteBuffer.wrap(new byte[] {'D'})));
        assertFalse(assembler.skipsUndecoded(relation), "schema messages are always read");
        assertEquals(0, garbageInsert.position(), "peeking does not consume the message");
        CapturedTransaction applied = commit();
        assertTrue(applied.appliedForPeer());
        assertTrue(applied.changes().isEmpty());
        assertFalse(assembler.skipsUndecoded(garbageInsert), "after the commit");
    }

    @Test
    void ignoresOtherTablesAndWarnsOnTruncate() {
        assembler.accept(nodes(NODE_COLUMNS));
        assembler.accept(new Relation(2, "public", "other", 'd', List.of(new Column(true, "id", 23, -1))));
        begin();
        assembler.accept(new Insert(2, row("1")));
        assembler.accept(new Truncate(0, List.of(1)));
        assertTrue(commit().changes().isEmpty());
        assertEquals(1, warnings.size());
        assertTrue(warnings.get(0).contains("TRUNCATE of loom.nodes"));
    }
}
