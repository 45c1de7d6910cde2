package dev.loomdb.edge.capture;

import dev.loomdb.edge.capture.pgoutput.PgOutputDecoder;
import dev.loomdb.edge.capture.pgoutput.PgOutputException;
import dev.loomdb.edge.flow.CapturedTransaction;
import dev.loomdb.edge.flow.Lsn;
import dev.loomdb.edge.flow.TransactionSink;
import dev.loomdb.edge.telemetry.Counters;
import java.nio.ByteBuffer;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.jboss.logging.Logger;
import org.postgresql.PGConnection;
import org.postgresql.PGProperty;
import org.postgresql.replication.LogSequenceNumber;
import org.postgresql.replication.PGReplicationStream;
import org.postgresql.replication.fluent.logical.ChainedLogicalStreamBuilder;

/**
 * Reads this node's logical replication slot (pgoutput) on its own thread, {@code loom-capture},
 * and hands whole transactions of graph changes to the outbound stage through its bounded
 * {@link TransactionSink}. pgjdbc's replication API is blocking, so it never runs on the event loop;
 * the thread blocks in {@code read()} until PostgreSQL sends something (a change, a heartbeat
 * through the slot, or the server's keepalive), and pgjdbc sends the standby status on the way.
 *
 * <p>It confirms to the slot only what {@link SlotPosition} allows, and reconnects (reading again
 * from the slot's confirmed position) whenever the connection is lost. A message it cannot decode
 * is read again the same way, at most {@link DecodeFailures#ATTEMPTS} times; then capture stops
 * with an error naming the LSN ({@link #failure()}), since skipping it would lose a change.
 * Transactions that were applied for a peer (they carry a replication origin) are never handed on:
 * that is what keeps the mesh free of echoes.
 */
public final class ReplicationStream implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(ReplicationStream.class);
    private static final Duration DRAIN_TIMEOUT = Duration.ofSeconds(3);
    /** While the hand-off is full, how often the standby status still goes to PostgreSQL. */
    private static final Duration STATUS_WHILE_FULL = Duration.ofSeconds(1);

    private final ReplicationSettings settings;
    private final TransactionSink sink;
    private final SlotPosition position;
    private final PgOutputDecoder decoder = new PgOutputDecoder();
    private final DecodeFailures decodeFailures = new DecodeFailures();
    private final Counters counters;
    private final SlotCeiling ceiling;
    private volatile boolean running;
    private volatile boolean streaming;
    private volatile String failure;
    private volatile Lsn confirmed = Lsn.ZERO;
    private volatile Connection connection;
    private Thread thread;
    private volatile java.util.function.Consumer<String> slotLostListener;

    public ReplicationStream(
            ReplicationSettings settings, TransactionSink sink, SlotPosition position, Counters counters) {
        this.settings = settings;
        this.counters = counters;
        this.sink = sink;
        this.position = position;
        this.ceiling = new SlotCeiling(settings);
    }

    /** Checks PostgreSQL, creates the publication and slot if missing, then starts reading. */
    public synchronized void start() {
        prepareSlot();
        failure = null;
        decodeFailures.clear();
        running = true;
        thread = new Thread(this::run, "loom-capture");
        thread.setDaemon(true);
        thread.start();
    }

    /** Told, with what happened, when the slot this node had was gone and had to be made anew. */
    public void onSlotLost(java.util.function.Consumer<String> listener) {
        this.slotLostListener = listener;
    }

    /** Checks the slot (made anew where missing or lost) and starts from the ceiling it recorded. */
    private void prepareSlot() {
        SlotSetup.Prepared prepared = new SlotSetup(settings).prepare();
        ceiling.startAt(prepared.ceiling());
        prepared.lost().ifPresent(this::slotLost);
    }

    private void slotLost(String what) {
        java.util.function.Consumer<String> listener = slotLostListener;
        if (listener != null) {
            listener.accept(what);
        }
    }

    public boolean isStreaming() {
        return streaming;
    }

    public Lsn confirmed() {
        return confirmed;
    }

    /** Why capture stopped by itself (a message it cannot decode), or empty while it runs or was stopped. */
    public Optional<String> failure() {
        return Optional.ofNullable(failure);
    }

    private void run() {
        while (running) {
            try (Connection replication = DriverManager.getConnection(settings.jdbcUrl(), replicationProperties())) {
                connection = replication;
                sink.discardQueued();
                position.reset();
                PGReplicationStream stream = open(replication);
                streaming = true;
                read(stream);
                stream.close();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (PgOutputException e) {
                undecodable(e);
            } catch (SQLException e) {
                if (running) {
                    LOG.warnf(
                            "Replication stream from slot %s stopped: %s. Reading again from the slot in 1 s;"
                                    + " nothing unconfirmed is lost.",
                            settings.slot(), e.getMessage());
                    LockSupport.parkNanos(TimeUnit.SECONDS.toNanos(1));
                    if (running) { // dropped, invalidated, or made anew by someone else meanwhile?
                        try {
                            prepareSlot();
                        } catch (RuntimeException setup) {
                            LOG.warnf(
                                    "Cannot check slot %s before reading again: %s",
                                    settings.slot(), setup.getMessage());
                        }
                    }
                }
            } finally {
                streaming = false;
                connection = null;
            }
        }
    }

    private PGReplicationStream open(Connection replication) throws SQLException {
        ChainedLogicalStreamBuilder builder = replication
                .unwrap(PGConnection.class)
                .getReplicationAPI()
                .replicationStream()
                .logical()
                .withSlotName(settings.slot())
                .withSlotOption("proto_version", "1")
                .withSlotOption("publication_names", settings.publication())
                .withSlotOption("messages", "true")
                .withStatusInterval(10, TimeUnit.SECONDS);
        boolean serverFiltersApplied = replication.getMetaData().getDatabaseMajorVersion() >= 16;
        if (serverFiltersApplied) {
            // PostgreSQL 16+ leaves out what was applied for a peer (it carries a replication origin) while
            // decoding, instead of decoding and sending it for us to drop: on a receiver under load that was a
            // fifth of a core in the WAL sender, and the decoding in this JVM besides.
            builder.withSlotOption("origin", "none");
        }
        PGReplicationStream stream = builder.start();
        LOG.infof(
                "Capturing changes from slot %s (%s)",
                settings.slot(),
                serverFiltersApplied
                        ? "PostgreSQL leaves out what was applied for peers"
                        : "what was applied for peers is dropped here: PostgreSQL before 16 cannot leave it out");
        return stream;
    }

    /** The same message is read again after a reconnect, a bounded number of times; then capture stops. */
    private void undecodable(PgOutputException e) {
        Lsn at = e.lsn() == null ? Lsn.ZERO : e.lsn();
        if (!decodeFailures.failedAt(at)) {
            LOG.warnf(
                    "Cannot decode the pgoutput message at LSN %s of slot %s (%s); reading it again in 1 s"
                            + " (attempt %d of %d)",
                    at, settings.slot(), e.getMessage(), decodeFailures.attempts(), DecodeFailures.ATTEMPTS);
            LockSupport.parkNanos(TimeUnit.SECONDS.toNanos(1));
            return;
        }
        failure = "the pgoutput message at LSN " + at + " of slot " + settings.slot() + " cannot be decoded: "
                + e.getMessage();
        running = false;
        LOG.errorf(
                "Capture stopped after %d attempts: %s. Nothing after it is published; it stays in the slot."
                        + " Fix the cause (see docs/operations.md, 'Capture stopped'), then POST /api/sync/start.",
                DecodeFailures.ATTEMPTS, failure);
    }

    private void read(PGReplicationStream stream) throws SQLException, InterruptedException {
        TransactionAssembler assembler = new TransactionAssembler(settings.schema(), LOG::warn);
        long confirmEveryNanos = settings.confirmInterval().toNanos();
        long lastConfirm = System.nanoTime();
        while (running) {
            ByteBuffer buffer = stream.read();
            if (buffer == null) {
                throw new SQLException("PostgreSQL ended the replication stream");
            }
            Lsn received = new Lsn(stream.getLastReceiveLSN().asLong());
            if (!assembler.skipsUndecoded(buffer)) { // rows applied for a peer are dropped undecoded
                Optional<CapturedTransaction> transaction;
                try {
                    transaction = assembler.accept(decoder.decode(buffer));
                } catch (PgOutputException e) {
                    throw e.at(received);
                }
                if (transaction.isPresent()) {
                    handOn(transaction.get(), stream);
                }
            }
            decodeFailures.readPast(received);
            if (!assembler.inTransaction()) {
                position.idleAt(received);
            }
            if (System.nanoTime() - lastConfirm >= confirmEveryNanos) {
                confirm(stream);
                lastConfirm = System.nanoTime();
            }
        }
        if (!sink.drain(DRAIN_TIMEOUT)) {
            LOG.infof(
                    "Stopping with %d transactions not yet acknowledged by the broker: they stay in slot %s and are"
                            + " sent again at the next start",
                    position.pendingCount(), settings.slot());
        }
        confirm(stream);
    }

    /**
     * Registers the transaction, then hands it to the outbound stage. While the hand-off is full (the
     * broker is slow or away), the changes wait in the slot: this thread stops reading, and every
     * {@link #STATUS_WHILE_FULL} confirms what has been acknowledged meanwhile, which also sends the
     * standby status PostgreSQL expects (wal_sender_timeout).
     */
    private void handOn(CapturedTransaction transaction, PGReplicationStream stream)
            throws InterruptedException, SQLException {
        position.register(transaction.endLsn(), transaction.commitTime());
        if (transaction.appliedForPeer()) {
            counters.increment(Counters.SKIPPED_FOR_PEERS);
            position.acknowledge(transaction.endLsn());
        } else if (transaction.changes().isEmpty()) {
            position.acknowledge(transaction.endLsn());
        } else {
            counters.increment(Counters.CAPTURED);
            while (!sink.offer(transaction, STATUS_WHILE_FULL)) {
                if (!running) {
                    return; // stopping: the transaction stays in the slot
                }
                if (!confirm(stream)) {
                    stream.forceUpdateStatus(); // nothing new to confirm: the standby status all the same
                }
            }
        }
    }

    /** Confirms what may be confirmed, with a standby status; false when there was nothing new. */
    private boolean confirm(PGReplicationStream stream) throws SQLException {
        Lsn confirmable = ceiling.allow(position.confirmable(), position.transactionsConfirmable());
        if (!confirmable.isAfter(confirmed)) {
            return false;
        }
        LogSequenceNumber lsn = LogSequenceNumber.valueOf(confirmable.value());
        stream.setAppliedLSN(lsn);
        stream.setFlushedLSN(lsn);
        stream.forceUpdateStatus();
        confirmed = confirmable;
        return true;
    }

    private Properties replicationProperties() {
        Properties props = SlotSetup.plainProperties(settings);
        PGProperty.REPLICATION.set(props, "database");
        PGProperty.ASSUME_MIN_SERVER_VERSION.set(props, "10");
        PGProperty.PREFER_QUERY_MODE.set(props, "simple");
        PGProperty.TCP_KEEP_ALIVE.set(props, true);
        return props;
    }

    /**
     * Stops reading after confirming what may be confirmed; what is in flight stays in the slot. The
     * reader blocks until PostgreSQL sends something, so a logical message through the slot wakes it;
     * if that cannot be sent, its connection is closed under it.
     */
    @Override
    public synchronized void close() {
        running = false;
        if (thread == null) {
            return;
        }
        wake();
        try {
            thread.join(TimeUnit.SECONDS.toMillis(5));
            if (thread.isAlive()) {
                Connection current = connection;
                if (current != null) {
                    current.close();
                }
                thread.interrupt();
                thread.join(TimeUnit.SECONDS.toMillis(2));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (SQLException e) {
            LOG.debugf("Closing the replication connection failed: %s", e.getMessage());
        } finally {
            ceiling.close();
        }
    }

    private void wake() {
        Properties props = SlotSetup.plainProperties(settings);
        PGProperty.CONNECT_TIMEOUT.set(props, 2); // seconds: a server that is gone must not hold up the stop
        PGProperty.SOCKET_TIMEOUT.set(props, 2);
        try (Connection plain = DriverManager.getConnection(settings.jdbcUrl(), props);
                Statement statement = plain.createStatement()) {
            statement.execute("SELECT pg_logical_emit_message(false, 'loom-wake', '')");
        } catch (SQLException e) {
            LOG.debugf("Could not wake the capture thread through the slot: %s", e.getMessage());
        }
    }
}
