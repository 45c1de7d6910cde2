package dev.loomdb.edge.capture;

import static org.awaitility.Awaitility.await;

import dev.loomdb.edge.it.Infra;
import dev.loomdb.edge.it.Mesh;
import dev.loomdb.edge.it.NodeProcess;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * An idle graph still moves its slot: WAL written by other databases of the same server is not held
 * back by this node (heartbeats through the slot).
 */
class IdleSlotIT {

    @RegisterExtension
    final Mesh mesh = Mesh.named("idle").nodes("i").with("loom.capture.heartbeat-interval", "500ms");

    private NodeProcess node;
    private String otherDatabase;

    @BeforeEach
    void names() {
        node = mesh.node("i");
        otherDatabase = "loom_it_other_" + Infra.suffix();
    }

    @AfterEach
    void dropOtherDatabase() throws Exception {
        try (Connection sql = node.sql();
                Statement s = sql.createStatement()) {
            s.execute("DROP DATABASE IF EXISTS " + otherDatabase);
        }
    }

    @Test
    void slotFollowsTheServerWhileTheGraphIsIdle() throws Exception {
        long written;
        try (Connection sql = node.sql();
                Statement s = sql.createStatement()) {
            s.execute("CREATE DATABASE " + otherDatabase);
            String url = sql.getMetaData().getURL();
            try (Connection other = DriverManager.getConnection(
                            url.substring(0, url.lastIndexOf('/') + 1) + otherDatabase, "postgres", "");
                    Statement o = other.createStatement()) {
                o.execute("CREATE TABLE filler AS SELECT g, repeat('x', 200) AS pad FROM generate_series(1, 20000) g");
            }
            try (ResultSet rs = s.executeQuery("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")) {
                rs.next();
                written = rs.getLong(1);
            }
            await().atMost(Duration.ofSeconds(20))
                    .pollInterval(Duration.ofMillis(250))
                    .until(() -> node.confirmedFlushLsn(sql) >= written);
        }
    }
}
