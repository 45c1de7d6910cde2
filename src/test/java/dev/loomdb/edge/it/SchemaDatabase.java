package dev.loomdb.edge.it;

import dev.loomdb.edge.embedded.EmbeddedPostgresServer;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;

/**
 * A database holding the node's schema (its migrations applied), for tests that work on the tables
 * without a node: a fresh database on the machine's PostgreSQL ({@code external}) or an embedded
 * server of its own. Closing it drops the database or stops the server.
 */
public final class SchemaDatabase implements AutoCloseable {

    private final String jdbcUrl;
    private final String reactiveUrl;
    private final EmbeddedPostgresServer embedded;
    private final String externalName;

    private SchemaDatabase(String jdbcUrl, String reactiveUrl, EmbeddedPostgresServer embedded, String externalName) {
        this.jdbcUrl = jdbcUrl;
        this.reactiveUrl = reactiveUrl;
        this.embedded = embedded;
        this.externalName = externalName;
    }

    /** {@code name} names the external database ({@code loom_it_<name>_<suffix>}) or the embedded server's work dir. */
    public static SchemaDatabase create(String name) throws Exception {
        SchemaDatabase database;
        if (Infra.external()) {
            String external = "loom_it_" + name + "_" + Infra.suffix();
            Infra.createExternalDatabase(external);
            database = new SchemaDatabase(
                    Infra.EXTERNAL_PG + external, "postgresql://127.0.0.1:5432/" + external, null, external);
        } else {
            EmbeddedPostgresServer server =
                    EmbeddedPostgresServer.start(Infra.workDir(name).resolve("pg"), Infra.freePort());
            database = new SchemaDatabase("jdbc:" + server.reactiveUrl(), server.reactiveUrl(), server, null);
        }
        try (Connection connection = database.connect()) {
            Infra.applyMigrations(connection);
        }
        return database;
    }

    public Connection connect() throws SQLException {
        return DriverManager.getConnection(jdbcUrl, "postgres", "");
    }

    /** For the reactive client: {@code postgresql://host:port/database}. */
    public String reactiveUrl() {
        return reactiveUrl;
    }

    @Override
    public void close() {
        if (embedded != null) {
            embedded.close();
        }
        if (externalName != null) {
            Infra.dropExternalDatabase(externalName, null);
        }
    }
}
