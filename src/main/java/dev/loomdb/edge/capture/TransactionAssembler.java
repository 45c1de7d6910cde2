package dev.loomdb.edge.capture;

import dev.loomdb.edge.capture.pgoutput.PgOutputException;
import dev.loomdb.edge.capture.pgoutput.PgOutputMessage;
import dev.loomdb.edge.capture.pgoutput.PgOutputMessage.Begin;
import dev.loomdb.edge.capture.pgoutput.PgOutputMessage.Column;
import dev.loomdb.edge.capture.pgoutput.PgOutputMessage.Commit;
import dev.loomdb.edge.capture.pgoutput.PgOutputMessage.Relation;
import dev.loomdb.edge.capture.pgoutput.PgOutputMessage.TupleData;
import dev.loomdb.edge.capture.pgoutput.PgOutputMessage.TupleValue;
import dev.loomdb.edge.flow.CapturedTransaction;
import dev.loomdb.edge.flow.Change;
import dev.loomdb.edge.flow.Hlc;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * Turns the decoded pgoutput stream into whole {@link CapturedTransaction}s of graph changes. It
 * keeps the shape of every relation as announced by Relation messages (so a table whose columns
 * change while streaming is read with its new shape), fills unchanged TOASTed values from the old
 * row, and ignores tables outside the graph.
 */
public final class TransactionAssembler {

    private final String schema;
    private final Map<Integer, Relation> relations = new HashMap<>();
    private final Consumer<String> warnings;

    private Begin begin;
    private String origin;
    private List<Change> changes;

    /**
     * @param schema the schema of the graph tables ({@code loom})
     * @param warnings receives a sentence for each change that is read but not synced (TRUNCATE)
     */
    public TransactionAssembler(String schema, Consumer<String> warnings) {
        this.schema = schema;
        this.warnings = warnings;
    }

    /** Feeds one message; returns the transaction when the message was its commit. */
    public Optional<CapturedTransaction> accept(PgOutputMessage message) {
        if (message instanceof Begin b) {
            begin = b;
            origin = null;
            changes = new ArrayList<>();
        } else if (message instanceof PgOutputMessage.Origin o) {
            origin = o.name();
        } else if (message instanceof Relation r) {
            relations.put(r.relationId(), r);
        } else if (message instanceof PgOutputMessage.Insert i) {
            row(i.relationId(), null, i.newTuple(), Change.Op.INSERT);
        } else if (message instanceof PgOutputMessage.Update u) {
            row(u.relationId(), u.oldIsKeyOnly() ? null : u.oldTuple(), u.newTuple(), Change.Op.UPDATE);
        } else if (message instanceof PgOutputMessage.Truncate t) {
            for (int id : t.relationIds()) {
                Relation r = relations.get(id);
                if (r != null && isGraphTable(r)) {
                    warnings.accept("TRUNCATE of " + r.namespace() + "." + r.name()
                            + " is not synced: peers keep their rows; delete rows with DELETE to sync the removal");
                }
            }
        } else if (message instanceof Commit c) {
            if (begin == null) {
                throw new PgOutputException("COMMIT without BEGIN at " + c.commitLsn());
            }
            CapturedTransaction tx = new CapturedTransaction(
                    begin.xid(), c.commitLsn(), c.endLsn(), c.commitTime(), origin, List.copyOf(changes));
            begin = null;
            changes = null;
            return Optional.of(tx);
        }
        // DELETE: a row only really disappears when tombstones are purged, which is local housekeeping,
        // not synced. TYPE and logical messages (heartbeats) carry no graph data.
        return Optional.empty();
    }

    /**
     * Whether a raw pgoutput message can be dropped without decoding it: a row change (INSERT,
     * UPDATE, DELETE) inside a transaction applied for a peer, which is never handed on. PostgreSQL
     * 16+ leaves such rows out of the stream ({@code origin=none}); PostgreSQL 15 still sends every
     * row the node applied, and not decoding them saves parsing each one only to drop it.
     */
    public boolean skipsUndecoded(ByteBuffer message) {
        if (begin == null || origin == null || !message.hasRemaining()) {
            return false;
        }
        byte tag = message.get(message.position());
        return tag == 'I' || tag == 'U' || tag == 'D';
    }

    /** Whether a transaction has begun and not yet committed. */
    public boolean inTransaction() {
        return begin != null;
    }

    private boolean isGraphTable(Relation r) {
        return r.namespace().equals(schema)
                && (r.name().equals("nodes") || r.name().equals("edges"));
    }

    private void row(int relationId, TupleData oldTuple, TupleData newTuple, Change.Op op) {
        Relation relation = relations.get(relationId);
        if (relation == null) {
            throw new PgOutputException("change for relation " + relationId + " before its RELATION message");
        }
        if (!isGraphTable(relation)) {
            return;
        }
        if (changes == null) {
            throw new PgOutputException("change outside a transaction in " + relation.name());
        }
        Map<String, String> row = columns(relation, oldTuple, newTuple);
        boolean edge = relation.name().equals("edges");
        boolean tombstone = "t".equals(row.get("tombstone"));
        long version = Long.parseLong(required(row, "version", relation));
        if (op == Change.Op.INSERT && version > 1) {
            // a row is inserted at version 1: this is an update the publication's row filter (PostgreSQL 15)
            // announced as an insert, because the row it changed had been applied for a peer
            op = Change.Op.UPDATE;
        }
        changes.add(new Change(
                tombstone ? Change.Op.DELETE : op,
                edge ? Change.Kind.EDGE : Change.Kind.NODE,
                required(row, "id", relation),
                required(row, "type", relation),
                row.getOrDefault("properties", "{}"),
                edge ? required(row, "source_id", relation) : null,
                edge ? required(row, "target_id", relation) : null,
                Hlc.parse(required(row, "hlc", relation)),
                version,
                row.getOrDefault("origin", ""),
                tombstone,
                row.getOrDefault("property_clocks", "{}"),
                Hlc.parse(row.getOrDefault("base_hlc", "0"))));
    }

    private static String required(Map<String, String> row, String column, Relation relation) {
        String value = row.get(column);
        if (value == null) {
            throw new PgOutputException("column " + column + " of " + relation.namespace() + "." + relation.name()
                    + " is missing or null in the replication stream");
        }
        return value;
    }

    private static Map<String, String> columns(Relation relation, TupleData oldTuple, TupleData newTuple) {
        List<Column> columns = relation.columns();
        if (newTuple.values().size() != columns.size()) {
            throw new PgOutputException("row of " + relation.name() + " has "
                    + newTuple.values().size() + " columns, its relation announced " + columns.size());
        }
        Map<String, String> row = new HashMap<>();
        for (int i = 0; i < columns.size(); i++) {
            TupleValue value = newTuple.values().get(i);
            if (value instanceof TupleValue.UnchangedToast) {
                value = unchangedFromOldRow(relation, oldTuple, i);
            }
            if (value instanceof TupleValue.Text text) {
                row.put(columns.get(i).name(), text.text());
            }
        }
        return row;
    }

    private static TupleValue unchangedFromOldRow(Relation relation, TupleData oldTuple, int index) {
        if (oldTuple != null
                && oldTuple.values().size() > index
                && oldTuple.values().get(index) instanceof TupleValue.Text text) {
            return text;
        }
        throw new PgOutputException("column " + relation.columns().get(index).name() + " of " + relation.name()
                + " arrived as an unchanged TOAST value without an old row to take it from: the table needs"
                + " REPLICA IDENTITY FULL (ALTER TABLE " + relation.namespace() + "." + relation.name()
                + " REPLICA IDENTITY FULL)");
    }
}
