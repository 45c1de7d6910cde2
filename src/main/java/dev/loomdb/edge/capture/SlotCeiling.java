package dev.loomdb.edge.capture;

import dev.loomdb.edge.flow.Lsn;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Optional;
import org.jboss.logging.Logger;

/**
 * The furthest position this node may confirm to its replication slot, recorded in {@code loom.sync_state}
 * ({@value #NAME}) before the slot is moved past it. The slot's confirmed position therefore never passes
 * the record unless someone else made the slot anew or moved it: {@link SlotSetup} compares the two at
 * every connection, which finds a slot dropped and created again (by hand, by a restore) between two of
 * the node's connections, when the changes written in between were never captured.
 *
 * <p>A raise records the server's current WAL insert position, ahead of everything read so far, so under
 * a steady load it writes one small row per confirm interval. Positions reached while nothing was to be
 * published (other databases' WAL, heartbeats, and on PostgreSQL 16+ the rows applied for peers, which
 * never reach the stream) raise it at most once per {@link #IDLE_RAISE_NANOS}, or at once when they are
 * {@link #IDLE_SLACK} past it: an idle node writes a row at most once per heartbeat, and its slot follows
 * the server within a second.
 */
final class SlotCeiling implements AutoCloseable {

    static final String NAME = "slot-ceiling";
    static final long IDLE_SLACK = 16L << 20; // one WAL segment
    static final long IDLE_RAISE_NANOS = 1_000_000_000L;

    private static final Logger LOG = Logger.getLogger(SlotCeiling.class);
    private static final String RECORD = "INSERT INTO loom.sync_state (name, value)"
            + " VALUES ('" + NAME + "', pg_current_wal_insert_lsn()::text)"
            + " ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = now() RETURNING value";

    private final ReplicationSettings settings;
    private Connection connection;
    private Lsn value = Lsn.ZERO;
    private boolean enabled = true;
    private long raisedAt = System.nanoTime();

    SlotCeiling(ReplicationSettings settings) {
        this.settings = settings;
    }

    /** What this node recorded, if it recorded anything (a node older than the record did not). */
    static Optional<Lsn> recorded(Connection connection) throws SQLException {
        try (PreparedStatement query =
                connection.prepareStatement("SELECT value FROM loom.sync_state WHERE name = '" + NAME + "'")) {
            try (ResultSet rs = query.executeQuery()) {
                return rs.next() ? Optional.of(Lsn.parse(rs.getString(1))) : Optional.empty();
            } catch (IllegalArgumentException e) {
                return Optional.empty(); // not an LSN: as if nothing were recorded
            }
        }
    }

    /** Records the server's current WAL insert position as the ceiling, on the given connection. */
    static Lsn record(Connection connection) throws SQLException {
        try (Statement statement = connection.createStatement();
                ResultSet rs = statement.executeQuery(RECORD)) {
            rs.next();
            return Lsn.parse(rs.getString(1));
        }
    }

    /**
     * How far the slot may be confirmed now, towards {@code wanted}: raises the record first when
     * {@code wanted} is past it and a transaction needs it ({@code transactions} past it), or it is
     * {@link #IDLE_SLACK} ahead, or the last raise was {@link #IDLE_RAISE_NANOS} ago. When the record
     * cannot be written, the slot stays where the record is.
     */
    Lsn allow(Lsn wanted, Lsn transactions) {
        if (!enabled || !wanted.isAfter(value)) {
            return wanted;
        }
        if (transactions.isAfter(value)
                || wanted.value() - value.value() >= IDLE_SLACK
                || System.nanoTime() - raisedAt >= IDLE_RAISE_NANOS) {
            try {
                if (connection == null || connection.isClosed()) {
                    connection = DriverManager.getConnection(settings.jdbcUrl(), SlotSetup.plainProperties(settings));
                    try (Statement statement = connection.createStatement()) {
                        statement.execute("SET synchronous_commit = on");
                    }
                }
                value = Lsn.max(value, record(connection));
                raisedAt = System.nanoTime();
            } catch (SQLException e) {
                LOG.warnf(
                        "Could not record how far slot %s may be confirmed (%s); it is confirmed up to %s until"
                                + " that works again",
                        settings.slot(), e.getMessage(), value);
                close();
            }
        }
        return wanted.isAfter(value) ? value : wanted;
    }

    /** The ceiling recorded at connection; none when it could not be recorded (then nothing is held back). */
    void startAt(Optional<Lsn> recorded) {
        enabled = recorded.isPresent();
        value = recorded.orElse(Lsn.ZERO);
    }

    @Override
    public void close() {
        Connection current = connection;
        connection = null;
        if (current != null) {
            try {
                current.close();
            } catch (SQLException e) {
                LOG.debugf("Closing the slot ceiling's connection failed: %s", e.getMessage());
            }
        }
    }
}
