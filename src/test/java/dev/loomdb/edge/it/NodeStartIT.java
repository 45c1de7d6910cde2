package dev.loomdb.edge.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * How a node process starts and stops: a taken port stops it at once, SIGTERM within seconds; a restart
 * skips Flyway while the schema was brought up to date with the same migration scripts, and runs it when
 * the record of them is not what this build holds.
 */
class NodeStartIT {

    private final Path root = Infra.workDir("start");

    @Test
    void aTakenBrokerPortStopsTheNodeAtStartNamingTheSetting() throws Exception {
        try (ServerSocket taken = new ServerSocket(0)) {
            NodeProcess blocked = NodeProcess.create(
                    root, "blocked-" + Infra.suffix(), "blocked", "127.0.0.1", taken.getLocalPort(), true);
            try {
                blocked.start();
                assertTrue(blocked.process().waitFor(60, TimeUnit.SECONDS), "the node must stop by itself");
                assertNotEquals(0, blocked.process().exitValue());
                assertTrue(blocked.log().contains("loom.embedded.broker.port"), blocked.logTail());
                assertFalse(listening(blocked.httpPort()), "the HTTP server must not be up");
            } finally {
                blocked.close();
            }
        }
    }

    @Test
    void gracefulStopExitsWithinSeconds() throws Exception {
        NodeProcess other = NodeProcess.create(
                root, "g-" + Infra.suffix(), "graceful", Infra.brokerHost(), Infra.brokerPort(), !Infra.external());
        try {
            other.start().awaitReady();
            long started = System.nanoTime();
            other.stop();
            Duration took = Duration.ofNanos(System.nanoTime() - started);
            assertTrue(took.compareTo(Duration.ofSeconds(10)) < 0, "stopping took " + took);
            assertTrue(other.log().contains("stopped"), other.logTail());
            await().atMost(Duration.ofSeconds(5)).until(() -> !listening(other.httpPort()));
        } finally {
            other.close();
        }
    }

    @Test
    void aRestartSkipsFlywayUnlessTheSchemaWasMigratedWithOtherScripts() throws Exception {
        String migrated = "Schema loom brought up to date by Flyway";
        NodeProcess node = NodeProcess.create(
                root, "m-" + Infra.suffix(), "migrations", Infra.brokerHost(), Infra.brokerPort(), !Infra.external());
        try {
            node.start().awaitReady();
            assertTrue(node.log().contains(migrated + ": 8 migration(s) applied"), node.logTail());
            node.api()
                    .body("{\"type\":\"Kept\",\"properties\":{\"n\":1}}")
                    .put("/api/nodes/kept-1")
                    .then()
                    .statusCode(201);
            node.stop();

            node.start().awaitReady();
            assertEquals(
                    1, occurrences(node.log(), migrated), "the second start did not run Flyway: " + node.logTail());
            node.api().get("/api/nodes/kept-1").then().statusCode(200);

            // as after an upgrade whose scripts differ: the record is not this build's
            try (Connection sql = node.sql();
                    Statement statement = sql.createStatement()) {
                statement.executeUpdate(
                        "UPDATE loom.sync_state SET value = 'an older build' WHERE name = 'schema-fingerprint'");
            }
            node.stop();
            node.start().awaitReady();
            assertEquals(2, occurrences(node.log(), migrated), node.logTail());
            assertTrue(node.log().contains(migrated + ": 0 migration(s) applied"), node.logTail());
            try (Connection sql = node.sql();
                    Statement statement = sql.createStatement();
                    ResultSet row = statement.executeQuery(
                            "SELECT value FROM loom.sync_state WHERE name = 'schema-fingerprint'")) {
                assertTrue(row.next());
                assertEquals(64, row.getString(1).length(), "this build's fingerprint recorded again");
            }
            node.api().get("/api/nodes/kept-1").then().statusCode(200);
        } finally {
            node.close();
        }
    }

    private static int occurrences(String text, String part) {
        int count = 0;
        for (int at = text.indexOf(part); at >= 0; at = text.indexOf(part, at + 1)) {
            count++;
        }
        return count;
    }

    private static boolean listening(int port) {
        try (Socket ignored = new Socket("127.0.0.1", port)) {
            return true;
        } catch (Exception e) {
            return false;
        }
    }
}
