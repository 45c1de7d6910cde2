package dev.loomdb.edge.capture.pgoutput;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loomdb.edge.capture.pgoutput.PgOutputMessage.TupleValue;
import dev.loomdb.edge.flow.Lsn;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The decoder, byte by byte, on messages laid out as the protocol documentation describes them. */
class PgOutputDecoderTest {

    private final PgOutputDecoder decoder = new PgOutputDecoder();

    /** Writes protocol fields in wire order. */
    /** pgoutput bytes, written field by field (also for {@link PgOutputFuzzTest}). */
    static final class Wire {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        Wire byte1(char c) {
            out.write(c);
            return this;
        }

        Wire int8(int v) {
            out.write(v);
            return this;
        }

        Wire int16(int v) {
            out.write(v >>> 8);
            out.write(v);
            return this;
        }

        Wire int32(int v) {
            return int16(v >>> 16).int16(v & 0xFFFF);
        }

        Wire int64(long v) {
            return int32((int) (v >>> 32)).int32((int) v);
        }

        Wire string(String s) {
            out.writeBytes(s.getBytes(StandardCharsets.UTF_8));
            out.write(0);
            return this;
        }

        Wire text(String s) {
            byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
            byte1('t').int32(bytes.length);
            out.writeBytes(bytes);
            return this;
        }

        byte[] bytes() {
            return out.toByteArray();
        }

        ByteBuffer buffer() {
            return ByteBuffer.wrap(out.toByteArray());
        }
    }

    @Test
    void decodesBegin() {
        ByteBuffer bytes = new Wire()
                .byte1('B')
                .int64(0x16B3748L) // final LSN
                .int64(1_000_000L) // commit time: one second after 2000-01-01
                .int32(745) // xid
                .buffer();
        PgOutputMessage.Begin begin = assertInstanceOf(PgOutputMessage.Begin.class, decoder.decode(bytes));
        assertEquals(Lsn.parse("0/16B3748"), begin.finalLsn());
        assertEquals(Instant.parse("2000-01-01T00:00:01Z"), begin.commitTime());
        assertEquals(745, begin.xid());
    }

    @Test
    void decodesCommitWithBothLsns() {
        ByteBuffer bytes = new Wire()
                .byte1('C')
                .int8(0) // flags
                .int64(0x100L) // commit LSN
                .int64(0x180L) // end LSN
                .int64(0) // commit time: 2000-01-01
                .buffer();
        PgOutputMessage.Commit commit = assertInstanceOf(PgOutputMessage.Commit.class, decoder.decode(bytes));
        assertEquals(new Lsn(0x100), commit.commitLsn());
        assertEquals(new Lsn(0x180), commit.endLsn());
        assertEquals(Instant.parse("2000-01-01T00:00:00Z"), commit.commitTime());
    }

    @Test
    void decodesOrigin() {
        ByteBuffer bytes = new Wire().byte1('O').int64(42).string("loom_apply").buffer();
        PgOutputMessage.Origin origin = assertInstanceOf(PgOutputMessage.Origin.class, decoder.decode(bytes));
        assertEquals("loom_apply", origin.name());
        assertEquals(new Lsn(42), origin.originCommitLsn());
    }

    @Test
    void decodesRelationWithKeyColumns() {
        ByteBuffer bytes = new Wire()
                .byte1('R')
                .int32(16385) // relation OID
                .string("loom") // namespace
                .string("nodes") // name
                .int8('f') // replica identity FULL
                .int16(2) // columns
                .int8(1)
                .string("id")
                .int32(25)
                .int32(-1) // key column, text
                .int8(0)
                .string("properties")
                .int32(3802)
                .int32(-1) // jsonb
                .buffer();
        PgOutputMessage.Relation relation = assertInstanceOf(PgOutputMessage.Relation.class, decoder.decode(bytes));
        assertEquals(16385, relation.relationId());
        assertEquals("loom", relation.namespace());
        assertEquals("nodes", relation.name());
        assertEquals('f', relation.replicaIdentity());
        assertEquals(
                List.of(
                        new PgOutputMessage.Column(true, "id", 25, -1),
                        new PgOutputMessage.Column(false, "properties", 3802, -1)),
                relation.columns());
    }

    @Test
    void decodesInsertWithNullAndText() {
        ByteBuffer bytes = new Wire()
                .byte1('I')
                .int32(16385) // relation OID
                .byte1('N') // new tuple
                .int16(3) // columns
                .text("n1")
                .byte1('n') // null
                .text("{\"name\": \"ä\"}") // multi-byte UTF-8
                .buffer();
        PgOutputMessage.Insert insert = assertInstanceOf(PgOutputMessage.Insert.class, decoder.decode(bytes));
        assertEquals(
                List.of(new TupleValue.Text("n1"), TupleValue.NULL, new TupleValue.Text("{\"name\": \"ä\"}")),
                insert.newTuple().values());
    }

    @Test
    void decodesUpdateWithOldRowAndUnchangedToast() {
        ByteBuffer bytes = new Wire()
                .byte1('U')
                .int32(7) // relation OID
                .byte1('O') // old row follows (REPLICA IDENTITY FULL)
                .int16(2)
                .text("n1")
                .text("{\"big\": 1}")
                .byte1('N') // new row
                .int16(2)
                .text("n1")
                .byte1('u') // unchanged TOASTed value
                .buffer();
        PgOutputMessage.Update update = assertInstanceOf(PgOutputMessage.Update.class, decoder.decode(bytes));
        assertFalse(update.oldIsKeyOnly());
        assertEquals(
                new TupleValue.Text("{\"big\": 1}"), update.oldTuple().values().get(1));
        assertEquals(TupleValue.UNCHANGED_TOAST, update.newTuple().values().get(1));
    }

    @Test
    void decodesUpdateWithoutOldRow() {
        ByteBuffer bytes =
                new Wire().byte1('U').int32(7).byte1('N').int16(1).text("n1").buffer();
        PgOutputMessage.Update update = assertInstanceOf(PgOutputMessage.Update.class, decoder.decode(bytes));
        assertNull(update.oldTuple());
    }

    @Test
    void decodesDeleteByKey() {
        ByteBuffer bytes =
                new Wire().byte1('D').int32(7).byte1('K').int16(1).text("n1").buffer();
        PgOutputMessage.Delete delete = assertInstanceOf(PgOutputMessage.Delete.class, decoder.decode(bytes));
        assertTrue(delete.oldIsKeyOnly());
        assertEquals(List.of(new TupleValue.Text("n1")), delete.oldTuple().values());
    }

    @Test
    void decodesTruncateOfTwoTables() {
        ByteBuffer bytes = new Wire()
                .byte1('T')
                .int32(2) // relations
                .int8(1) // CASCADE
                .int32(100)
                .int32(200)
                .buffer();
        PgOutputMessage.Truncate truncate = assertInstanceOf(PgOutputMessage.Truncate.class, decoder.decode(bytes));
        assertEquals(1, truncate.options());
        assertEquals(List.of(100, 200), truncate.relationIds());
    }

    @Test
    void decodesLogicalMessage() {
        ByteBuffer bytes = new Wire()
                .byte1('M')
                .int8(0)
                .int64(9)
                .string("loom")
                .int32(2)
                .byte1('h')
                .byte1('i')
                .buffer();
        PgOutputMessage.LogicalMessage message =
                assertInstanceOf(PgOutputMessage.LogicalMessage.class, decoder.decode(bytes));
        assertEquals("loom", message.prefix());
        assertEquals("hi", new String(message.content(), StandardCharsets.UTF_8));
    }

    @Test
    void shouldRejectUnknownTagNamingIt() {
        PgOutputException e = assertThrows(
                PgOutputException.class,
                () -> decoder.decode(new Wire().byte1('Z').buffer()));
        assertTrue(e.getMessage().contains("'Z'"), e.getMessage());
    }

    @Test
    void shouldRejectTruncatedMessage() {
        PgOutputException e = assertThrows(
                PgOutputException.class,
                () -> decoder.decode(new Wire().byte1('B').int32(1).buffer()));
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
    }

    @Test
    void shouldRejectUnterminatedString() {
        ByteBuffer bytes = ByteBuffer.wrap(new byte[] {'O', 0, 0, 0, 0, 0, 0, 0, 1, 'a', 'b'});
        assertThrows(PgOutputException.class, () -> decoder.decode(bytes));
    }

    @Test
    void shouldRejectBinaryTupleValue() {
        ByteBuffer bytes = new Wire()
                .byte1('I')
                .int32(7)
                .byte1('N')
                .int16(1)
                .byte1('b')
                .int32(0)
                .buffer();
        assertThrows(PgOutputException.class, () -> decoder.decode(bytes));
    }

    /** Found by DecoderFuzzTest: a TRUNCATE announcing 1.4 billion relations made the decoder allocate for them. */
    @Test
    void aCountTheMessageCannotHoldIsRefusedNotAllocated() {
        byte[] truncate = {84, 84, 0, 0, 0, 1, 0, 0, 0, 64, 0};
        PgOutputException refused =
                assertThrows(PgOutputException.class, () -> decoder.decode(ByteBuffer.wrap(truncate)));
        assertTrue(refused.getMessage().contains("announced"), refused.getMessage());
        ByteBuffer negative = new Wire()
                .byte1('I')
                .int32(16384)
                .byte1('N')
                .int16(1)
                .byte1('t')
                .int32(-5)
                .buffer();
        assertThrows(PgOutputException.class, () -> decoder.decode(negative));
    }
}
