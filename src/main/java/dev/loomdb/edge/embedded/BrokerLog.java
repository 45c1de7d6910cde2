package dev.loomdb.edge.embedded;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.zip.CRC32C;
import org.jboss.logging.Logger;

/**
 * The embedded broker's durable state: one append-only file of records (persistent sessions, their
 * subscriptions, the QoS 1 messages queued for them and their acknowledgements, retained messages).
 * A message is written before the broker acknowledges it, with one {@code write} to the file: the
 * kernel holds it from then on, so a killed process loses nothing; {@link #force} (on a timer and at
 * close) puts it on the disk against a power cut. At open the file is read back into a {@link Snapshot}
 * and written again holding only what is live; while running, it is rewritten the same way when it
 * has grown past {@link #compactAt}.
 *
 * <p>Each record is {@code [int length][int crc32c][type][body]}; reading stops at the first record
 * that is cut short or does not match its checksum (the tail of a write a power cut interrupted).
 */
final class BrokerLog implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(BrokerLog.class);
    static final String FILE = "broker.log";
    private static final long MIN_COMPACT_BYTES = 64L << 20;

    private static final byte SESSION = 1;
    private static final byte SUBSCRIBE = 2;
    private static final byte UNSUBSCRIBE = 3;
    private static final byte DROP = 4;
    private static final byte MESSAGE = 5;
    private static final byte ACK = 6;
    private static final byte RETAIN = 7;
    private static final byte SEEN = 8;

    /** A QoS 1 message as stored: its sequence number (its name in acknowledgements), topic and payload. */
    record Message(long seq, String topic, byte[] payload) {}

    /** A persistent session as stored. */
    static final class SavedSession {
        final String clientId;
        final Map<String, Integer> subscriptions = new LinkedHashMap<>();
        /** Queued and not acknowledged, in the order they were published. */
        final Map<Long, Message> queue = new LinkedHashMap<>();

        long lastSeen;

        SavedSession(String clientId) {
            this.clientId = clientId;
        }
    }

    /** Everything live in the file. */
    static final class Snapshot {
        final Map<String, SavedSession> sessions = new LinkedHashMap<>();
        final Map<String, byte[]> retained = new LinkedHashMap<>();
        long nextSeq = 1;
        boolean tornTail;
    }

    private final Path file;
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream(256);
    private final DataOutputStream out = new DataOutputStream(bytes);
    private final CRC32C crc = new CRC32C();
    /** Records written to the buffer and not yet to the file (acknowledgements wait for the next write). */
    private ByteBuffer pending = ByteBuffer.allocate(64 << 10);

    private FileChannel channel;
    private boolean rewriting;
    private long size;
    private long compactAt;

    private BrokerLog(Path file) {
        this.file = file;
    }

    /** The log, open for writing, and what it held. */
    record Opened(BrokerLog log, Snapshot snapshot) {}

    /** Opens the log in {@code dir}, reads it back and rewrites it with only what is live. */
    static Opened open(Path dir) throws IOException {
        Files.createDirectories(dir);
        BrokerLog log = new BrokerLog(dir.resolve(FILE));
        Snapshot snapshot = Files.exists(log.file) ? read(log.file) : new Snapshot();
        if (snapshot.tornTail) {
            LOG.warnf(
                    "The embedded MQTT broker's log %s ends in a record cut short (a power cut during a write):"
                            + " what came before it is kept",
                    log.file);
        }
        // a session connected when the broker last stopped counts as away from now (for its expiry)
        long now = System.currentTimeMillis();
        snapshot.sessions.values().stream().filter(s -> s.lastSeen == 0).forEach(s -> s.lastSeen = now);
        log.rewrite(snapshot.sessions.values(), snapshot.retained);
        return new Opened(log, snapshot);
    }

    long size() {
        return size;
    }

    /** Whether the file has grown enough to be worth rewriting with only what is live. */
    boolean wantsCompaction() {
        return size > compactAt;
    }

    // --- records -------------------------------------------------------------------------------------

    void session(String clientId) {
        record(SESSION, () -> out.writeUTF(clientId));
    }

    void subscribe(String clientId, String filter, int qos) {
        record(SUBSCRIBE, () -> {
            out.writeUTF(clientId);
            out.writeUTF(filter);
            out.writeByte(qos);
        });
    }

    void unsubscribe(String clientId, String filter) {
        record(UNSUBSCRIBE, () -> {
            out.writeUTF(clientId);
            out.writeUTF(filter);
        });
    }

    void drop(String clientId) {
        record(DROP, () -> out.writeUTF(clientId));
    }

    void seen(String clientId, long at) {
        record(SEEN, () -> {
            out.writeUTF(clientId);
            out.writeLong(at);
        });
    }

    /** A message queued for these persistent sessions; written through before this returns. */
    void message(Message message, Collection<String> clientIds) {
        record(MESSAGE, () -> {
            out.writeLong(message.seq());
            out.writeUTF(message.topic());
            out.writeInt(message.payload().length);
            out.write(message.payload());
            out.writeInt(clientIds.size());
            for (String clientId : clientIds) {
                out.writeUTF(clientId);
            }
        });
        if (!rewriting) {
            flush();
        }
    }

    /** An acknowledgement: buffered until the next message or {@link #flush} (if lost, a message comes twice). */
    void ack(String clientId, long seq) {
        record(ACK, () -> {
            out.writeUTF(clientId);
            out.writeLong(seq);
        });
    }

    /** A retained message (an empty payload clears the topic's); written through before this returns. */
    void retain(String topic, byte[] payload) {
        record(RETAIN, () -> {
            out.writeUTF(topic);
            out.writeInt(payload.length);
            out.write(payload);
        });
        if (!rewriting) {
            flush();
        }
    }

    private interface Body {
        void write() throws IOException;
    }

    private void record(byte type, Body body) {
        bytes.reset();
        try {
            out.writeByte(type);
            body.write();
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a ByteArrayOutputStream does not fail
        }
        byte[] record = bytes.toByteArray();
        crc.reset();
        crc.update(record);
        if (pending.remaining() < record.length + 8) {
            flush();
            if (pending.capacity() < record.length + 8) {
                pending = ByteBuffer.allocate(record.length + 8);
            }
        }
        pending.putInt(record.length).putInt((int) crc.getValue()).put(record);
    }

    /** Writes what is buffered to the file (to the kernel: a killed process loses nothing after this). */
    void flush() {
        if (pending.position() == 0) {
            return;
        }
        pending.flip();
        try {
            while (pending.hasRemaining()) {
                size += channel.write(pending);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("the embedded MQTT broker could not write its log " + file, e);
        } finally {
            pending.clear();
        }
    }

    /** Flushes and puts the file on the disk (against a power cut). */
    void force() {
        flush();
        try {
            channel.force(false);
        } catch (IOException e) {
            throw new UncheckedIOException("the embedded MQTT broker could not sync its log " + file, e);
        }
    }

    /**
     * Writes a new file holding only these sessions (with what they have queued) and retained messages, and
     * puts it in place of the old one in one rename.
     */
    void rewrite(Collection<SavedSession> sessions, Map<String, byte[]> retained) throws IOException {
        if (channel != null) {
            flush();
        }
        Path next = file.resolveSibling(FILE + ".new");
        FileChannel old = channel;
        channel = FileChannel.open(
                next, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE);
        size = 0;
        rewriting = true;
        TreeMap<Long, Message> messages = new TreeMap<>();
        Map<Long, List<String>> recipients = new LinkedHashMap<>();
        for (SavedSession session : sessions) {
            session(session.clientId);
            session.subscriptions.forEach((filter, qos) -> subscribe(session.clientId, filter, qos));
            seen(session.clientId, session.lastSeen);
            for (Message message : session.queue.values()) {
                messages.put(message.seq(), message);
                recipients
                        .computeIfAbsent(message.seq(), seq -> new ArrayList<>())
                        .add(session.clientId);
            }
        }
        for (Message message : messages.values()) {
            message(message, recipients.get(message.seq()));
        }
        retained.forEach(this::retain);
        rewriting = false;
        force();
        Files.move(next, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        if (old != null) {
            old.close();
        }
        compactAt = Math.max(MIN_COMPACT_BYTES, size * 4);
    }

    static Snapshot read(Path file) throws IOException {
        Snapshot snapshot = new Snapshot();
        try (InputStream stream = Channels.newInputStream(FileChannel.open(file, StandardOpenOption.READ));
                DataInputStream in = new DataInputStream(new java.io.BufferedInputStream(stream, 1 << 16))) {
            CRC32C crc = new CRC32C();
            while (true) {
                int length;
                int sum;
                byte[] record;
                try {
                    length = in.readInt();
                    sum = in.readInt();
                    if (length <= 0 || length > (256 << 20)) {
                        snapshot.tornTail = true;
                        break;
                    }
                    record = in.readNBytes(length);
                } catch (EOFException e) {
                    break;
                }
                crc.reset();
                crc.update(record);
                if (record.length < length || (int) crc.getValue() != sum) {
                    snapshot.tornTail = true;
                    break;
                }
                apply(snapshot, new DataInputStream(new java.io.ByteArrayInputStream(record)));
            }
        }
        return snapshot;
    }

    private static void apply(Snapshot snapshot, DataInputStream in) throws IOException {
        byte type = in.readByte();
        switch (type) {
            case SESSION -> {
                String clientId = in.readUTF();
                snapshot.sessions.computeIfAbsent(clientId, SavedSession::new);
            }
            case SUBSCRIBE -> {
                SavedSession session = snapshot.sessions.get(in.readUTF());
                String filter = in.readUTF();
                int qos = in.readByte();
                if (session != null) {
                    session.subscriptions.put(filter, qos);
                }
            }
            case UNSUBSCRIBE -> {
                SavedSession session = snapshot.sessions.get(in.readUTF());
                String filter = in.readUTF();
                if (session != null) {
                    session.subscriptions.remove(filter);
                }
            }
            case DROP -> snapshot.sessions.remove(in.readUTF());
            case SEEN -> {
                SavedSession session = snapshot.sessions.get(in.readUTF());
                long at = in.readLong();
                if (session != null) {
                    session.lastSeen = at;
                }
            }
            case MESSAGE -> {
                long seq = in.readLong();
                String topic = in.readUTF();
                byte[] payload = in.readNBytes(in.readInt());
                Message message = new Message(seq, topic, payload);
                int count = in.readInt();
                for (int i = 0; i < count; i++) {
                    SavedSession session = snapshot.sessions.get(in.readUTF());
                    if (session != null) {
                        session.queue.put(seq, message);
                    }
                }
                snapshot.nextSeq = Math.max(snapshot.nextSeq, seq + 1);
            }
            case ACK -> {
                SavedSession session = snapshot.sessions.get(in.readUTF());
                long seq = in.readLong();
                if (session != null) {
                    session.queue.remove(seq);
                }
            }
            case RETAIN -> {
                String topic = in.readUTF();
                byte[] payload = in.readNBytes(in.readInt());
                if (payload.length == 0) {
                    snapshot.retained.remove(topic);
                } else {
                    snapshot.retained.put(topic, payload);
                }
            }
            default -> throw new IOException("unknown record type " + type + " in the broker's log");
        }
    }

    @Override
    public void close() {
        try {
            force();
            channel.close();
        } catch (IOException | UncheckedIOException e) {
            LOG.warnf("Closing the embedded MQTT broker's log %s: %s", file, e.getMessage());
        }
    }
}
