package dev.loomdb.edge.capture;

import dev.loomdb.edge.capture.pgoutput.PgOutputDecoder;
import dev.loomdb.edge.capture.pgoutput.PgOutputException;
import dev.loomdb.edge.telemetry.Counters;
import java.nio.ByteBuffer;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
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
 * and hands whole transactions of graph changes to the outbound stage. pgjdbc's replication API
 * is blocking, so it never runs on the event loop.
 *
 * <p>It creates the publication and the slot when they are missing, confirms to the slot only what
 * {@link SlotPosition} allows, and reconnects (reading again from the slot's confirmed position)
 * whenever the connection is lost. Transactions that were applied for a peer (they carry a
 * replication origin) are never handed on: that is what keeps the mesh free of echoes.
 */
public final class ReplicationStream implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(ReplicationStream.class);
    private static final java.time.Duration DRAIN_TIMEOUT = java.time.Duration.ofSeconds(3);
    private static final long IDLE_PARK_NANOS = TimeUnit.MILLISECONDS.toNanos(2);

    private final ReplicationSettings settings;
    private final TransactionSink sink;
    private final SlotPosition position;
    private final PgOutputDecoder decoder = new PgOutputDecoder();
    private final Counters counters;
    private volatile boolean running;
    private volatile boolean streaming;
    private volatile Lsn confirmed = Lsn.ZERO;
    private Thread thread;

    public ReplicationStream(
            ReplicationSettings settings, TransactionSink sink, SlotPosition position, Counters counters) {
        this.settings = settings;
        this.counters = counters;
        this.sink = sink;
        this.position = position;
    }

    /** Checks PostgreSQL, creates the publication and slot if missing, then starts reading. */
    public synchronized void start() {
        prepare();
        running = true;
        thread = new Thread(this::run, "loom-capture");
        thread.setDaemon(true);
        thread.start();
    }

    public boolean isStreaming() {
        return streaming;
    }

    public Lsn confirmed() {
        return confirmed;
    }

    private void prepare() {
        try (Connection connection = DriverManager.getConnection(settings.jdbcUrl(), plainProperties());
                Statement statement = connection.createStatement()) {
            try (ResultSet rs = statement.executeQuery("SHOW wal_level")) {
                rs.next();
                String walLevel = rs.getString(1);
                if (!"logical".equals(walLevel)) {
                    throw new CaptureStartException(
                            "PostgreSQL at " + settings.jdbcUrl() + " runs with wal_level="
                                    + walLevel
                                    + "; capturing changes needs wal_level=logical. Run ALTER SYSTEM SET wal_level ="
                                    + " logical; and restart PostgreSQL.",
                            null);
                }
            }
            ensurePublication(connection);
            leaveOutAppliedRows(connection);
            ensureSlot(connection);
        } catch (SQLException e) {
            throw new CaptureStartException(
                    "cannot prepare logical replication on " + settings.jdbcUrl() + ": " + e.getMessage()
                            + " (the user needs the REPLICATION attribute and CREATE on the database)",
                    e);
        }
    }

    private void ensurePublication(Connection connection) throws SQLException {
        try (PreparedStatement query = connection.prepareStatement("SELECT 1 FROM pg_publication WHERE pubname = ?")) {
            query.setString(1, settings.publication());
            if (query.executeQuery().next()) {
                return;
            }
        }
        try (Statement create = connection.createStatement()) {
            create.execute("CREATE PUBLICATION " + quote(settings.publication()) + " FOR TABLE "
                    + quote(settings.schema()) + ".nodes, " + quote(settings.schema()) + ".edges");
        }
        LOG.infof("Created publication %s for the graph tables", settings.publication());
    }

    /**
     * On PostgreSQL 15 the publication leaves out the rows this node applied for a peer, with a row
     * filter on the column the apply statement sets and a local write clears ({@code WHERE (NOT applied)}): 15 would
     * otherwise decode and send every applied row for capture to drop. PostgreSQL 16+ leaves them out
     * by their replication origin ({@code origin=none}); 14 and older have no row filters and send
     * them (capture drops them unread). Under the filter, a local update of a row last applied for a
     * peer arrives as an INSERT; capture reads it as the update it is.
     */
    private void leaveOutAppliedRows(Connection connection) throws SQLException {
        if (connection.getMetaData().getDatabaseMajorVersion() != 15) {
            return;
        }
        List<String> unfiltered = new ArrayList<>();
        try (PreparedStatement query = connection.prepareStatement("SELECT tablename FROM pg_publication_tables"
                + " WHERE pubname = ? AND schemaname = ? AND tablename IN ('nodes', 'edges') AND rowfilter IS NULL")) {
            query.setString(1, settings.publication());
            query.setString(2, settings.schema());
            try (ResultSet rs = query.executeQuery()) {
                while (rs.next()) {
                    unfiltered.add(rs.getString(1));
                }
            }
        }
        if (unfiltered.isEmpty()) {
            return;
        }
        boolean autoCommit = connection.getAutoCommit();
        connection.setAutoCommit(false); // the table is never out of the publication for a reader
        try (Statement alter = connection.createStatement()) {
            for (String table : unfiltered) {
                String qualified = quote(settings.schema()) + "." + quote(table);
                alter.execute("ALTER PUBLICATION " + quote(settings.publication()) + " DROP TABLE " + qualified);
                alter.execute("ALTER PUBLICATION " + quote(settings.publication()) + " ADD TABLE " + qualified
                        + " WHERE (NOT applied)");
            }
            connection.commit();
            LOG.infof(
                    "Publication %s leaves out the rows applied for peers (PostgreSQL 15 row filter)",
                    settings.publication());
        } catch (SQLException e) {
            connection.rollback();
            // e.g. a publication FOR ALL TABLES made by hand: applied rows are still dropped by capture, just later
            LOG.warnf(
                    "Publication %s keeps the rows applied for peers (%s); capture drops them, at some CPU cost",
                    settings.publication(), e.getMessage());
        } finally {
            connection.setAutoCommit(autoCommit);
        }
    }

    private void ensureSlot(Connection connection) throws SQLException {
        try (PreparedStatement query = connection.prepareStatement(
                "SELECT plugin, database = current_database(), wal_status FROM pg_replication_slots WHERE slot_name = ?")) {
            query.setString(1, settings.slot());
            ResultSet rs = query.executeQuery();
            if (rs.next()) {
                if (!"pgoutput".equals(rs.getString(1)) || !rs.getBoolean(2)) {
                    throw new CaptureStartException(
                            "replication slot " + settings.slot() + " exists but belongs to"
                                    + " another database or plugin; choose another slot with loom.capture.slot",
                            null);
                }
                if ("lost".equals(rs.getString(3))) {
                    LOG.errorf(
                            "Replication slot %s was invalidated by PostgreSQL (max_slot_wal_keep_size): changes"
                                    + " written while it was behind were NOT captured and peers do not have them. Recreating"
                                    + " the slot; rewrite or resync the affected rows.",
                            settings.slot());
                    try (PreparedStatement drop = connection.prepareStatement("SELECT pg_drop_replication_slot(?)")) {
                        drop.setString(1, settings.slot());
                        drop.execute();
                    }
                } else {
                    return;
                }
            }
        }
        try (PreparedStatement create =
                connection.prepareStatement("SELECT pg_create_logical_replication_slot(?, 'pgoutput')")) {
            create.setString(1, settings.slot());
            create.execute();
        }
        LOG.infof("Created replication slot %s", settings.slot());
    }

    private void run() {
        while (running) {
            try (Connection connection = DriverManager.getConnection(settings.jdbcUrl(), replicationProperties())) {
                position.reset();
                ChainedLogicalStreamBuilder builder = connection
                        .unwrap(PGConnection.class)
                        .getReplicationAPI()
                        .replicationStream()
                        .logical()
                        .withSlotName(settings.slot())
                        .withSlotOption("proto_version", "1")
                        .withSlotOption("publication_names", settings.publication())
                        .withSlotOption("messages", "true")
                        .withStatusInterval(10, TimeUnit.SECONDS);
                boolean serverFiltersApplied = connection.getMetaData().getDatabaseMajorVersion() >= 16;
                if (serverFiltersApplied) {
                    // PostgreSQL 16+ leaves out what was applied for a peer (it carries a replication origin) while
                    // decoding, instead of decoding and sending it for us to drop: on a receiver under load that was a
                    // fifth of a core in the WAL sender, and the decoding in this JVM besides.
                    builder.withSlotOption("origin", "none");
                }
                PGReplicationStream stream = builder.start();
                streaming = true;
                LOG.infof(
                        "Capturing changes from slot %s (%s)",
                        settings.slot(),
                        serverFiltersApplied
                                ? "PostgreSQL leaves out what was applied for peers"
                                : "what was applied for peers is dropped here: PostgreSQL before 16 cannot leave it out");
                read(stream);
                stream.close();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (SQLException | PgOutputException e) {
                if (running) {
                    LOG.warnf(
                            "Replication stream from slot %s stopped: %s. Reading again from the slot in 1 s;"
                                    + " nothing unconfirmed is lost.",
                            settings.slot(), e.getMessage());
                    LockSupport.parkNanos(TimeUnit.SECONDS.toNanos(1));
                }
            } finally {
                streaming = false;
            }
        }
    }

    private void read(PGReplicationStream stream) throws SQLException, InterruptedException {
        TransactionAssembler assembler = new TransactionAssembler(settings.schema(), LOG::warn);
        long confirmEveryNanos = settings.confirmInterval().toNanos();
        long lastConfirm = System.nanoTime();
        while (running) {
            ByteBuffer buffer = stream.readPending();
            sink.tick();
            if (buffer == null) {
                if (!assembler.inTransaction()) {
                    position.idleAt(new Lsn(stream.getLastReceiveLSN().asLong()));
                }
                if (System.nanoTime() - lastConfirm >= confirmEveryNanos) {
                    confirm(stream);
                    lastConfirm = System.nanoTime();
                }
                LockSupport.parkNanos(IDLE_PARK_NANOS);
                continue;
            }
            if (!assembler.skipsUndecoded(buffer)) { // rows applied for a peer are dropped undecoded
                Optional<CapturedTransaction> transaction = assembler.accept(decoder.decode(buffer));
                if (transaction.isPresent()) {
                    handOn(transaction.get());
                }
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

    private void handOn(CapturedTransaction transaction) throws InterruptedException {
        position.register(transaction.endLsn(), transaction.commitTime());
        if (transaction.appliedForPeer()) {
            counters.increment(Counters.SKIPPED_FOR_PEERS);
            position.acknowledge(transaction.endLsn());
        } else if (transaction.changes().isEmpty()) {
            position.acknowledge(transaction.endLsn());
        } else {
            counters.increment(Counters.CAPTURED);
            sink.accept(transaction);
        }
    }

    private void confirm(PGReplicationStream stream) throws SQLException {
        Lsn confirmable = position.confirmable();
        if (confirmable.isAfter(confirmed)) {
            LogSequenceNumber lsn = LogSequenceNumber.valueOf(confirmable.value());
            stream.setAppliedLSN(lsn);
            stream.setFlushedLSN(lsn);
            stream.forceUpdateStatus();
            confirmed = confirmable;
        }
    }

    private Properties plainProperties() {
        Properties props = new Properties();
        PGProperty.USER.set(props, settings.user());
        if (settings.password() != null) {
            PGProperty.PASSWORD.set(props, settings.password());
        }
        PGProperty.APPLICATION_NAME.set(props, "loom-capture");
        return props;
    }

    private Properties replicationProperties() {
        Properties props = plainProperties();
        PGProperty.REPLICATION.set(props, "database");
        PGProperty.ASSUME_MIN_SERVER_VERSION.set(props, "10");
        PGProperty.PREFER_QUERY_MODE.set(props, "simple");
        PGProperty.TCP_KEEP_ALIVE.set(props, true);
        return props;
    }

    private static String quote(String identifier) {
        return "\"" + identifier.replace("\"", "\"\"") + "\"";
    }

    /** Stops reading after confirming what may be confirmed; what is in flight stays in the slot. */
    @Override
    public synchronized void close() {
        running = false;
        if (thread != null) {
            try {
                thread.join(TimeUnit.SECONDS.toMillis(5));
                if (thread.isAlive()) {
                    thread.interrupt();
                    thread.join(TimeUnit.SECONDS.toMillis(2));
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
