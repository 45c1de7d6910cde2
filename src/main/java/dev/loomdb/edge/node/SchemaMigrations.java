package dev.loomdb.edge.node;

import io.agroal.api.AgroalDataSource;
import io.quarkus.runtime.StartupEvent;
import jakarta.annotation.Priority;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.inject.Instance;
import jakarta.inject.Singleton;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.HexFormat;
import java.util.List;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.output.MigrateResult;
import org.jboss.logging.Logger;

/**
 * Brings the schema {@code loom} up to date with Flyway before anything else starts, and only when it may
 * not be: after every successful migration the node records a fingerprint of its migration scripts (their
 * names and bytes) in {@code loom.sync_state}; a start that finds the same fingerprint there skips Flyway
 * (its set-up and validation were about 0.3 s of a 1.3-1.6 s start with the JDK 25 AOT cache). Any new or
 * changed script, a new database, or a schema without the record makes Flyway run as it always did.
 */
@Singleton
public class SchemaMigrations {

    private static final Logger LOG = Logger.getLogger(SchemaMigrations.class);
    /** Where the scripts are on the class path. */
    static final String LOCATION = "db/migration/";
    /** Every script in {@value #LOCATION}: {@code SchemaMigrationsTest} checks it against the directory. */
    static final List<String> SCRIPTS = List.of(
            "V1__graph.sql",
            "V2__state_sync.sql",
            "V3__held_parts.sql",
            "V4__graph_rules.sql",
            "V5__property_depth.sql",
            "R__10_clocks.sql",
            "R__20_stamp.sql",
            "R__30_merge.sql");

    static final String RECORD = "schema-fingerprint";

    private final AgroalDataSource dataSource;
    private final Instance<Flyway> flyway;

    SchemaMigrations(AgroalDataSource dataSource, Instance<Flyway> flyway) {
        this.dataSource = dataSource;
        this.flyway = flyway;
    }

    /** Before the node's own start ({@link SyncLifecycle}, priority 100) and anything else that reads the graph. */
    void migrate(@Observes @Priority(10) StartupEvent event) {
        String fingerprint = fingerprint();
        if (fingerprint.equals(recorded())) {
            LOG.debugf("Schema loom is up to date (scripts %s): Flyway not run", fingerprint.substring(0, 12));
            return;
        }
        MigrateResult result = flyway.get().migrate();
        record(fingerprint);
        LOG.infof(
                "Schema loom brought up to date by Flyway: %d migration(s) applied, now at version %s",
                result.migrationsExecuted, result.targetSchemaVersion == null ? "-" : result.targetSchemaVersion);
    }

    /** SHA-256 over every script's name and bytes, in the order of {@link #SCRIPTS}. */
    static String fingerprint() {
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            ClassLoader loader = SchemaMigrations.class.getClassLoader();
            for (String script : SCRIPTS) {
                try (InputStream in = loader.getResourceAsStream(LOCATION + script)) {
                    if (in == null) {
                        throw new IllegalStateException("The migration script " + LOCATION + script
                                + " is not in this build: SchemaMigrations.SCRIPTS lists a script that is gone");
                    }
                    digest.update(script.getBytes(StandardCharsets.UTF_8));
                    digest.update((byte) 0);
                    digest.update(in.readAllBytes());
                    digest.update((byte) 0);
                }
            }
            return HexFormat.of().formatHex(digest.digest());
        } catch (IOException e) {
            throw new IllegalStateException("Could not read the migration scripts: " + e.getMessage(), e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("This JVM has no SHA-256", e);
        }
    }

    /** The fingerprint recorded by the last migration, or null (no schema yet, or no record). */
    private String recorded() {
        try (Connection connection = dataSource.getConnection();
                PreparedStatement select =
                        connection.prepareStatement("SELECT value FROM loom.sync_state WHERE name = ?")) {
            select.setString(1, RECORD);
            try (ResultSet row = select.executeQuery()) {
                return row.next() ? row.getString(1) : null;
            }
        } catch (SQLException e) {
            // a new database (no schema loom, no table): Flyway makes them; a database that cannot be reached
            // fails there too, with Flyway's message naming the URL
            LOG.debugf("No schema fingerprint recorded (%s): Flyway runs", e.getMessage());
            return null;
        }
    }

    /** Records the fingerprint; a failure only means Flyway runs again at the next start. */
    private void record(String fingerprint) {
        try (Connection connection = dataSource.getConnection();
                PreparedStatement upsert = connection.prepareStatement(
                        "INSERT INTO loom.sync_state (name, value)"
                                + " VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = now()")) {
            upsert.setString(1, RECORD);
            upsert.setString(2, fingerprint);
            upsert.executeUpdate();
        } catch (SQLException e) {
            LOG.warnf(
                    "Could not record the schema's fingerprint (%s): Flyway runs again at the next start",
                    e.getMessage());
        }
    }
}
