package dev.loomdb.edge.capture.pgoutput;

import dev.loomdb.edge.flow.Lsn;
import java.time.Instant;
import java.util.List;

/**
 * The messages of PostgreSQL's logical replication protocol as the pgoutput plugin sends them
 * (protocol version 1), one record per message type, fields in wire order.
 *
 * @see <a href="https://www.postgresql.org/docs/current/protocol-logicalrep-message-formats.html">Logical
 *     Replication Message Formats</a>
 */
public sealed interface PgOutputMessage {

    /** 'B': a transaction starts. */
    record Begin(Lsn finalLsn, Instant commitTime, long xid) implements PgOutputMessage {}

    /** 'C': the transaction that began last is committed. */
    record Commit(int flags, Lsn commitLsn, Lsn endLsn, Instant commitTime) implements PgOutputMessage {}

    /** 'O': the transaction was replayed from another replication origin. */
    record Origin(Lsn originCommitLsn, String name) implements PgOutputMessage {}

    /** 'R': the shape of a table, sent before its first change and whenever it changes. */
    record Relation(int relationId, String namespace, String name, char replicaIdentity, List<Column> columns)
            implements PgOutputMessage {}

    /** One column of a {@link Relation}; {@code flags} bit 1 marks a key column. */
    record Column(boolean key, String name, int typeOid, int typeModifier) {}

    /** 'Y': a data type that is not built in. */
    record Type(int typeOid, String namespace, String name) implements PgOutputMessage {}

    /** 'I': a new row. */
    record Insert(int relationId, TupleData newTuple) implements PgOutputMessage {}

    /**
     * 'U': a changed row. {@code oldTuple} is present when the table's replica identity sends it
     * ('O' full row, or 'K' key columns only); {@code oldIsKeyOnly} says which.
     */
    record Update(int relationId, TupleData oldTuple, boolean oldIsKeyOnly, TupleData newTuple)
            implements PgOutputMessage {}

    /** 'D': a removed row, identified by its key ('K') or its full old row ('O'). */
    record Delete(int relationId, TupleData oldTuple, boolean oldIsKeyOnly) implements PgOutputMessage {}

    /** 'T': tables emptied by TRUNCATE; options bit 1 = CASCADE, bit 2 = RESTART IDENTITY. */
    record Truncate(int options, List<Integer> relationIds) implements PgOutputMessage {}

    /** 'M': a message written with pg_logical_emit_message. */
    record LogicalMessage(boolean transactional, Lsn lsn, String prefix, byte[] content) implements PgOutputMessage {}

    /** The columns of one row as pgoutput sends them. */
    record TupleData(List<TupleValue> values) {}

    /** One column value: null, an unchanged TOASTed value (not sent), or text. */
    sealed interface TupleValue {
        TupleValue NULL = new Null();
        TupleValue UNCHANGED_TOAST = new UnchangedToast();

        record Null() implements TupleValue {}

        record UnchangedToast() implements TupleValue {}

        record Text(String text) implements TupleValue {}
    }
}
