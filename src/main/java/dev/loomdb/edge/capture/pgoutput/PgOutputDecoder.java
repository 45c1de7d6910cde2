package dev.loomdb.edge.capture.pgoutput;

import dev.loomdb.edge.capture.pgoutput.PgOutputMessage.Begin;
import dev.loomdb.edge.capture.pgoutput.PgOutputMessage.Column;
import dev.loomdb.edge.capture.pgoutput.PgOutputMessage.Commit;
import dev.loomdb.edge.capture.pgoutput.PgOutputMessage.Delete;
import dev.loomdb.edge.capture.pgoutput.PgOutputMessage.Insert;
import dev.loomdb.edge.capture.pgoutput.PgOutputMessage.LogicalMessage;
import dev.loomdb.edge.capture.pgoutput.PgOutputMessage.Origin;
import dev.loomdb.edge.capture.pgoutput.PgOutputMessage.Relation;
import dev.loomdb.edge.capture.pgoutput.PgOutputMessage.Truncate;
import dev.loomdb.edge.capture.pgoutput.PgOutputMessage.TupleData;
import dev.loomdb.edge.capture.pgoutput.PgOutputMessage.TupleValue;
import dev.loomdb.edge.capture.pgoutput.PgOutputMessage.Type;
import dev.loomdb.edge.capture.pgoutput.PgOutputMessage.Update;
import dev.loomdb.edge.flow.Lsn;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * Decodes one pgoutput message (protocol version 1) from the bytes of an XLogData payload. It
 * decodes and nothing else: no state, no positions, no acknowledgements.
 *
 * @see <a href="https://www.postgresql.org/docs/current/protocol-logicalrep-message-formats.html">Logical
 *     Replication Message Formats</a>
 */
public final class PgOutputDecoder {

    /** Microseconds between the Unix epoch and PostgreSQL's epoch, 2000-01-01. */
    private static final long POSTGRES_EPOCH_OFFSET_MICROS = 946_684_800_000_000L;

    /** The message tags of the protocol, built from the tag byte. */
    enum Tag {
        BEGIN('B'),
        COMMIT('C'),
        ORIGIN('O'),
        RELATION('R'),
        TYPE('Y'),
        INSERT('I'),
        UPDATE('U'),
        DELETE('D'),
        TRUNCATE('T'),
        MESSAGE('M');

        final char code;

        Tag(char code) {
            this.code = code;
        }

        static Tag of(byte b) {
            for (Tag tag : values()) {
                if (tag.code == (char) b) {
                    return tag;
                }
            }
            throw new PgOutputException(
                    "unknown pgoutput message tag '" + (char) b + "' (0x" + Integer.toHexString(b & 0xFF) + ")");
        }
    }

    public PgOutputMessage decode(ByteBuffer buffer) {
        if (!buffer.hasRemaining()) {
            throw new PgOutputException("empty pgoutput message");
        }
        Tag tag = Tag.of(buffer.get());
        try {
            return switch (tag) {
                case BEGIN -> begin(buffer);
                case COMMIT -> commit(buffer);
                case ORIGIN -> origin(buffer);
                case RELATION -> relation(buffer);
                case TYPE -> type(buffer);
                case INSERT -> insert(buffer);
                case UPDATE -> update(buffer);
                case DELETE -> delete(buffer);
                case TRUNCATE -> truncate(buffer);
                case MESSAGE -> message(buffer);
            };
        } catch (BufferUnderflowException | IndexOutOfBoundsException e) {
            throw new PgOutputException("truncated pgoutput " + tag + " message");
        }
    }

    private Begin begin(ByteBuffer in) {
        Lsn finalLsn = lsn(in); // Int64: the final LSN of the transaction
        Instant commitTime = timestamp(in); // Int64: commit timestamp, microseconds since 2000-01-01
        long xid = Integer.toUnsignedLong(in.getInt()); // Int32: transaction id
        return new Begin(finalLsn, commitTime, xid);
    }

    private Commit commit(ByteBuffer in) {
        int flags = in.get(); // Int8: flags, currently unused
        Lsn commitLsn = lsn(in); // Int64: LSN of the commit
        Lsn endLsn = lsn(in); // Int64: end LSN of the transaction
        Instant commitTime = timestamp(in); // Int64: commit timestamp
        return new Commit(flags, commitLsn, endLsn, commitTime);
    }

    private Origin origin(ByteBuffer in) {
        Lsn commitLsn = lsn(in); // Int64: LSN of the commit on the origin server
        String name = string(in); // String: name of the origin
        return new Origin(commitLsn, name);
    }

    private Relation relation(ByteBuffer in) {
        int relationId = in.getInt(); // Int32: OID of the relation
        String namespace = string(in); // String: namespace ("" for pg_catalog)
        String name = string(in); // String: relation name
        char replicaIdentity = (char) in.get(); // Int8: replica identity setting (d, n, f, i)
        int columnCount = Short.toUnsignedInt(in.getShort()); // Int16: number of columns
        List<Column> columns = new ArrayList<>(columnCount);
        for (int i = 0; i < columnCount; i++) {
            boolean key = (in.get() & 1) != 0; // Int8: flags, 1 = part of the key
            String columnName = string(in); // String: column name
            int typeOid = in.getInt(); // Int32: data type OID
            int typeModifier = in.getInt(); // Int32: type modifier
            columns.add(new Column(key, columnName, typeOid, typeModifier));
        }
        return new Relation(relationId, namespace, name, replicaIdentity, List.copyOf(columns));
    }

    private Type type(ByteBuffer in) {
        int typeOid = in.getInt(); // Int32: OID of the data type
        String namespace = string(in); // String: namespace
        String name = string(in); // String: type name
        return new Type(typeOid, namespace, name);
    }

    private Insert insert(ByteBuffer in) {
        int relationId = in.getInt(); // Int32: OID of the relation
        expect(in, 'N', "INSERT"); // Byte1: 'N', a new tuple follows
        return new Insert(relationId, tuple(in));
    }

    private Update update(ByteBuffer in) {
        int relationId = in.getInt(); // Int32: OID of the relation
        byte marker = in.get(); // Byte1: 'K' (old key), 'O' (old row) or 'N' (new row)
        TupleData oldTuple = null;
        boolean keyOnly = false;
        if (marker == 'K' || marker == 'O') {
            keyOnly = marker == 'K';
            oldTuple = tuple(in);
            marker = in.get(); // Byte1: 'N'
        }
        if (marker != 'N') {
            throw new PgOutputException("UPDATE: expected 'N' before the new tuple, got '" + (char) marker + "'");
        }
        return new Update(relationId, oldTuple, keyOnly, tuple(in));
    }

    private Delete delete(ByteBuffer in) {
        int relationId = in.getInt(); // Int32: OID of the relation
        byte marker = in.get(); // Byte1: 'K' (key columns) or 'O' (whole old row)
        if (marker != 'K' && marker != 'O') {
            throw new PgOutputException("DELETE: expected 'K' or 'O', got '" + (char) marker + "'");
        }
        return new Delete(relationId, tuple(in), marker == 'K');
    }

    private Truncate truncate(ByteBuffer in) {
        int count = in.getInt(); // Int32: number of relations
        int options = in.get(); // Int8: 1 = CASCADE, 2 = RESTART IDENTITY
        fits(in, count, 4, "TRUNCATE's relations");
        List<Integer> ids = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            ids.add(in.getInt()); // Int32: OID of each relation
        }
        return new Truncate(options, List.copyOf(ids));
    }

    private LogicalMessage message(ByteBuffer in) {
        boolean transactional = (in.get() & 1) != 0; // Int8: flags, 1 = transactional
        Lsn lsn = lsn(in); // Int64: LSN of the message
        String prefix = string(in); // String: prefix
        int length = in.getInt(); // Int32: length of the content
        fits(in, length, 1, "MESSAGE's content");
        byte[] content = new byte[length];
        in.get(content); // Byten: content
        return new LogicalMessage(transactional, lsn, prefix, content);
    }

    /**
     * Refuses a count or length the rest of the message cannot hold (so a corrupt one is an error, not an
     * allocation of gigabytes).
     */
    private static void fits(ByteBuffer in, int count, int bytesEach, String what) {
        if (count < 0 || (long) count * bytesEach > in.remaining()) {
            throw new PgOutputException(
                    what + ": " + count + " announced, " + in.remaining() + " bytes left in the message");
        }
    }

    private TupleData tuple(ByteBuffer in) {
        int count = Short.toUnsignedInt(in.getShort()); // Int16: number of columns
        List<TupleValue> values = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            byte kind = in.get(); // Byte1: 'n' null, 'u' unchanged TOAST, 't' text
            switch (kind) {
                case 'n' -> values.add(TupleValue.NULL);
                case 'u' -> values.add(TupleValue.UNCHANGED_TOAST);
                case 't' -> {
                    int length = in.getInt(); // Int32: length of the value
                    fits(in, length, 1, "a column value");
                    byte[] bytes = new byte[length];
                    in.get(bytes); // Byten: the value in text format
                    values.add(new TupleValue.Text(new String(bytes, StandardCharsets.UTF_8)));
                }
                default ->
                    throw new PgOutputException(
                            "unknown tuple value kind '" + (char) kind + "' (binary mode is not requested)");
            }
        }
        return new TupleData(values);
    }

    private static void expect(ByteBuffer in, char expected, String message) {
        byte actual = in.get();
        if (actual != expected) {
            throw new PgOutputException(message + ": expected '" + expected + "', got '" + (char) actual + "'");
        }
    }

    private static Lsn lsn(ByteBuffer in) {
        return new Lsn(in.getLong());
    }

    private static Instant timestamp(ByteBuffer in) {
        long micros = in.getLong() + POSTGRES_EPOCH_OFFSET_MICROS;
        return Instant.ofEpochSecond(Math.floorDiv(micros, 1_000_000L), Math.floorMod(micros, 1_000_000L) * 1000L);
    }

    private static String string(ByteBuffer in) {
        int start = in.position();
        int end = start;
        while (in.get(end) != 0) {
            end++;
        }
        byte[] bytes = new byte[end - start];
        in.get(bytes);
        in.get(); // the terminating zero
        return new String(bytes, StandardCharsets.UTF_8);
    }
}
