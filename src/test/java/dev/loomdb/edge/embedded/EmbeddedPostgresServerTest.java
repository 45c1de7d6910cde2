package dev.loomdb.edge.embedded;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loomdb.edge.it.Infra;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The embedded PostgreSQL an operator can look into: logical WAL, durable commits, and its own log
 * in the data directory, where a failed statement can be found after the fact.
 */
class EmbeddedPostgresServerTest {

    @Test
    void runsWithLogicalWalAndKeepsItsLogInTheDataDirectory() throws Exception {
        Path dataDir = Files.createTempDirectory("loom-pg");
        try {
            checkLogOf(dataDir);
        } finally {
            try (Stream<Path> all = Files.walk(dataDir)) {
                all.sorted(java.util.Comparator.reverseOrder())
                        .forEach(path -> path.toFile().delete());
            }
        }
    }

    private static void checkLogOf(Path dataDir) throws Exception {
        try (EmbeddedPostgresServer server = EmbeddedPostgresServer.start(dataDir, Infra.freePort());
                Connection sql = DriverManager.getConnection("jdbc:" + server.reactiveUrl(), "postgres", "");
                Statement s = sql.createStatement()) {
            assertEquals("logical", show(s, "wal_level"));
            assertEquals("on", show(s, "fsync"));
            assertEquals("on", show(s, "synchronous_commit"));
            assertThrows(SQLException.class, () -> s.execute("SELECT * FROM no_such_table_for_the_log"));
        }

        List<Path> logs;
        try (Stream<Path> files = Files.list(dataDir.resolve("log"))) {
            logs = files.toList();
        }
        assertEquals(1, logs.size(), "one file for today: " + logs);
        assertTrue(
                logs.get(0).getFileName().toString().matches("postgresql-(Mon|Tue|Wed|Thu|Fri|Sat|Sun)\\.log"),
                logs.get(0).toString());
        String log = Files.readString(logs.get(0));
        assertTrue(log.contains("database system is ready to accept connections"), log);
        assertTrue(log.contains("relation \"no_such_table_for_the_log\" does not exist"), log);
    }

    private static String show(Statement s, String setting) throws SQLException {
        try (ResultSet rs = s.executeQuery("SHOW " + setting)) {
            rs.next();
            return rs.getString(1);
        }
    }
}
