package dev.loomdb.edge.capture;

import static org.awaitility.Awaitility.await;
import static org.hamcrest.Matchers.containsString;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loomdb.edge.it.Mesh;
import dev.loomdb.edge.it.NodeProcess;
import io.restassured.path.json.JsonPath;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A pgoutput message capture cannot decode stops capture after a bounded number of attempts, with an
 * error naming its LSN in the log, the status and readiness; nothing after it is skipped, and once
 * the operator has dealt with it, POST /api/sync/start starts capture again.
 */
class CaptureFailureIT {

    @RegisterExtension
    final Mesh single = Mesh.named("capture-failure").nodes("cf");

    @Test
    void anUndecodableMessageStopsCaptureWithItsLsnAndCaptureStartsAgainOnRequest() throws Exception {
        NodeProcess node = single.node("cf");
        String endOfBadTransaction;
        try (Connection sql = node.sql();
                Statement s = sql.createStatement()) {
            // Without the old row, an UPDATE that leaves a TOASTed value alone sends it as "unchanged",
            // and capture cannot know the row's properties: the message cannot be decoded. (PostgreSQL 15's
            // row filter needs the old row too: the publication goes without it; the node restores it.)
            s.execute("ALTER PUBLICATION loom_graph SET TABLE loom.nodes, loom.edges");
            s.execute("ALTER TABLE loom.nodes REPLICA IDENTITY DEFAULT");
            s.execute("INSERT INTO loom.nodes (id, type, properties) SELECT 'big', 'T', jsonb_build_object('blob',"
                    + " (SELECT string_agg(md5(g::text || random()::text), '') FROM generate_series(1, 2000) g))");
            s.execute("UPDATE loom.nodes SET type = 'U' WHERE id = 'big'");
            try (ResultSet rs = s.executeQuery("SELECT pg_current_wal_lsn()::text")) {
                rs.next();
                endOfBadTransaction = rs.getString(1);
            }
        }

        await("capture stopped with an error naming the LSN")
                .atMost(Duration.ofSeconds(60))
                .until(() -> node.api().get("/api/sync/status").jsonPath().getString("captureError") != null);
        JsonPath status = node.api().get("/api/sync/status").jsonPath();
        String error = status.getString("captureError");
        assertTrue(
                error.matches("the pgoutput message at LSN [0-9A-F]+/[0-9A-F]+ of slot .* cannot be decoded: .*"),
                error);
        assertTrue(error.contains("unchanged TOAST value"), error);
        assertTrue(!status.getBoolean("capturing"), "capture is stopped");
        node.api().get("/q/health/ready").then().statusCode(503).body(containsString("captureError"));
        assertTrue(node.log().contains("Capture stopped after 5 attempts"), "an ERROR says so in the log");
        long attempts = node.log()
                .lines()
                .filter(l -> l.contains("Cannot decode the pgoutput message"))
                .count();
        assertTrue(attempts == 4, "four warnings before the error, then no more attempts: " + attempts);

        try (Connection sql = node.sql();
                Statement s = sql.createStatement()) {
            try (ResultSet rs = s.executeQuery("SELECT confirmed_flush_lsn < '" + endOfBadTransaction
                    + "'::pg_lsn FROM pg_replication_slots WHERE slot_name = '" + node.slot() + "'")) {
                rs.next();
                assertTrue(rs.getBoolean(1), "the slot was not confirmed past the message it could not decode");
            }
            // What the operator does (docs/operations.md): restore the table, skip the transaction in the slot,
            // write the row again so that it syncs, start capture.
            s.execute("ALTER TABLE loom.nodes REPLICA IDENTITY FULL");
            s.execute("SELECT pg_replication_slot_advance('" + node.slot() + "', '" + endOfBadTransaction + "')");
            s.execute("UPDATE loom.nodes SET properties = properties WHERE id = 'big'");
        }
        long published = node.api().get("/api/sync/status").jsonPath().getLong("counters.published");
        node.api().post("/api/sync/start").then().statusCode(200).body("changed", org.hamcrest.Matchers.is(true));
        await("capture running again, and the row rewritten published")
                .atMost(Duration.ofSeconds(30))
                .until(() -> {
                    JsonPath now = node.api().get("/api/sync/status").jsonPath();
                    return now.getString("captureError") == null
                            && now.getBoolean("capturing")
                            && now.getLong("counters.published") > published;
                });
        node.api().get("/q/health/ready").then().statusCode(200);
    }
}
