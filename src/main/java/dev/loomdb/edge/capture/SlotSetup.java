package dev.loomdb.edge.capture;

import dev.loomdb.edge.flow.Lsn;
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
import org.jboss.logging.Logger;
import org.postgresql.PGProperty;

/**
 * What capture needs in PostgreSQL before it reads: {@code wal_level=logical}, the publication of
 * the graph tables (on PostgreSQL 15 with the row filter that leaves out rows applied for peers) and
 * this node's logical replication slot. A slot that is missing or that PostgreSQL invalidated is
 * reported and made anew; a slot made anew or moved by someone else (its confirmed position is past
 * the {@link SlotCeiling} this node recorded) is reported.
 */
public final class SlotSetup {

    private static final Logger LOG = Logger.getLogger(SlotSetup.class);

    private final ReplicationSettings settings;

    public SlotSetup(ReplicationSettings settings) {
        this.settings = settings;
    }

    /**
     * What {@link #prepare()} found: what happened to a slot this node had, when changes written meanwhile
     * may never have been captured (dropped, invalidated by PostgreSQL, made anew or moved by someone
     * else), and the ceiling recorded for the slot from now on (empty when it could not be recorded).
     */
    public record Prepared(Optional<String> lost, Optional<Lsn> ceiling) {}

    /**
     * Checks wal_level, then creates the publication and the slot where they are missing, checks that the
     * slot is the one this node confirmed, and records a new {@link SlotCeiling}.
     */
    public Prepared prepare() {
        try (Connection connection = DriverManager.getConnection(settings.jdbcUrl(), plainProperties(settings));
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
            Optional<String> lost = ensureSlot(connection);
            return new Prepared(lost, recordCeiling(connection));
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

    /** Whether this node had a slot of this name (it records the slot it reads in loom.sync_state). */
    private boolean hadSlot(Connection connection) throws SQLException {
        try (PreparedStatement query =
                connection.prepareStatement("SELECT 1 FROM loom.sync_state WHERE name = 'slot' AND value = ?")) {
            query.setString(1, settings.slot());
            return query.executeQuery().next();
        } catch (SQLException e) {
            return false; // no table yet (a schema older than state sync)
        }
    }

    private void recordSlot(Connection connection) {
        try (PreparedStatement record = connection.prepareStatement("INSERT INTO loom.sync_state (name, value)"
                + " VALUES ('slot', ?) ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = now()")) {
            record.setString(1, settings.slot());
            record.execute();
        } catch (SQLException e) {
            LOG.debugf("Could not record the slot in loom.sync_state: %s", e.getMessage());
        }
    }

    private Optional<String> ensureSlot(Connection connection) throws SQLException {
        Optional<String> lost = Optional.empty();
        try (PreparedStatement query = connection.prepareStatement("SELECT plugin, database = current_database(),"
                + " wal_status, confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = ?")) {
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
                                    + " the slot and publishing again this node's changes newer than the last one the"
                                    + " broker acknowledged.",
                            settings.slot());
                    try (PreparedStatement drop = connection.prepareStatement("SELECT pg_drop_replication_slot(?)")) {
                        drop.setString(1, settings.slot());
                        drop.execute();
                    }
                    lost = Optional.of("invalidated by PostgreSQL (wal_status lost, max_slot_wal_keep_size)");
                } else {
                    recordSlot(connection);
                    return movedByOthers(connection, rs.getString(4));
                }
            } else if (hadSlot(connection)) {
                LOG.errorf(
                        "Replication slot %s is missing: it was dropped (by hand, or by a restore or failover that"
                                + " does not keep slots); changes written since it went were NOT captured. Recreating it"
                                + " and publishing again this node's changes newer than the last one the broker"
                                + " acknowledged. Keep the slot with the database (and see max_slot_wal_keep_size).",
                        settings.slot());
                lost = Optional.of("missing (dropped)");
            }
        }
        try (PreparedStatement create =
                connection.prepareStatement("SELECT pg_create_logical_replication_slot(?, 'pgoutput')")) {
            create.setString(1, settings.slot());
            create.execute();
        }
        LOG.infof("Created replication slot %s", settings.slot());
        recordSlot(connection);
        return lost;
    }

    private Optional<Lsn> recordCeiling(Connection connection) {
        try {
            return Optional.of(SlotCeiling.record(connection));
        } catch (SQLException e) {
            LOG.warnf(
                    "Cannot record in loom.sync_state how far slot %s may be confirmed (%s): a slot made anew by"
                            + " someone else will not be noticed. Give the capture user write access to"
                            + " loom.sync_state.",
                    settings.slot(), e.getMessage());
            return Optional.empty();
        }
    }

    /**
     * A slot whose confirmed position is past the ceiling this node recorded was not confirmed there by
     * this node: it was dropped and created again (by hand, by a restore of the server without this
     * database's state) or moved with {@code pg_replication_slot_advance}; what was written before that
     * point and after this node's last confirmation was never captured.
     */
    private Optional<String> movedByOthers(Connection connection, String confirmedText) throws SQLException {
        Optional<Lsn> ceiling = SlotCeiling.recorded(connection);
        if (confirmedText == null || ceiling.isEmpty()) {
            return Optional.empty(); // nothing recorded yet (a first start, or a node from before the record)
        }
        Lsn confirmed = Lsn.parse(confirmedText);
        if (!confirmed.isAfter(ceiling.get())) {
            return Optional.empty();
        }
        LOG.errorf(
                "Replication slot %s was made anew or moved by someone else: its confirmed position %s is past"
                        + " %s, the furthest this node ever allowed it; changes written in between were NOT"
                        + " captured. Publishing again this node's changes newer than the last one the broker"
                        + " acknowledged. Keep the slot with the database (and see max_slot_wal_keep_size).",
                settings.slot(), confirmed, ceiling.get());
        return Optional.of(
                "made anew or moved by someone else (confirmed at " + confirmed + ", past " + ceiling.get() + ")");
    }

    /** The properties of a plain (not replication) connection as the capture user. */
    static Properties plainProperties(ReplicationSettings settings) {
        Properties props = new Properties();
        PGProperty.USER.set(props, settings.user());
        if (settings.password() != null) {
            PGProperty.PASSWORD.set(props, settings.password());
        }
        PGProperty.APPLICATION_NAME.set(props, "loom-capture");
        return props;
    }

    private static String quote(String identifier) {
        return "\"" + identifier.replace("\"", "\"\"") + "\"";
    }
}
