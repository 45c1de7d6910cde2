package dev.loomdb.edge.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.restassured.path.json.JsonPath;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A node behind its peer applies the messages waiting for it several per transaction, each whole, and
 * a bad message among them is rejected alone: the ones around it are applied.
 */
class GroupedApplyIT {

    private static final String PEER = "zz-peer";
    private static final int MESSAGES = 120;

    @RegisterExtension
    final Mesh single = Mesh.named("grouped").nodes("r");

    /** Stops sync (the broker keeps what comes meanwhile), publishes one-row envelopes, starts it again. */
    private void backlog(NodeProcess node, int messages, int poisoned) throws Exception {
        node.api().post("/api/sync/stop").then().statusCode(200);
        long hlc = System.currentTimeMillis() << 16;
        try (MqttProbe probe = new MqttProbe(single.brokerHost(), single.brokerPort(), null)) {
            for (int i = 1; i <= messages; i++) {
                String id = i == poisoned ? "poison" : "g-" + i;
                // two changes per message, one of them to the same row each time: its last state wins
                String changes = change(id, hlc + 2L * i) + "," + change("shared", hlc + 2L * i + 1);
                String envelope = "{\"v\":1,\"mesh\":\"" + single.name() + "\",\"origin\":\"" + PEER + "\",\"seq\":" + i
                        + ",\"txid\":" + i + ",\"lsn\":\"0/" + Integer.toHexString(i) + "\","
                        + "\"commitTime\":\"2026-12-04T00:00:00Z\",\"transactions\":1,\"changes\":[" + changes + "]}";
                probe.publish("loom/" + single.name() + "/changes/" + PEER, envelope.getBytes(StandardCharsets.UTF_8));
            }
        }
        node.api().post("/api/sync/start").then().statusCode(200);
    }

    private static String change(String id, long hlc) {
        return "{\"op\":\"update\",\"kind\":\"node\",\"id\":\"" + id + "\",\"type\":\"T\","
                + "\"properties\":{\"at\":" + hlc + "},\"hlc\":\"" + hlc + "\",\"version\":1,\"origin\":\"" + PEER
                + "\",\"tombstone\":false}";
    }

    private static long count(NodeProcess node, String where) throws Exception {
        try (Connection sql = node.sql();
                Statement s = sql.createStatement();
                ResultSet rs = s.executeQuery("SELECT count(*) FROM loom.nodes WHERE " + where)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    @Test
    void aBacklogIsAppliedSeveralMessagesPerTransactionEachWhole() throws Exception {
        NodeProcess node = single.node("r");
        backlog(node, MESSAGES, -1);
        await("every message applied")
                .atMost(Duration.ofSeconds(60))
                .until(() -> count(node, "id LIKE 'g-%'") == MESSAGES);
        JsonPath status = node.api().get("/api/sync/status").jsonPath();
        assertEquals(MESSAGES, status.getLong("counters.applied"));
        long transactions = status.getLong("counters.applyTransactions");
        assertTrue(
                transactions > 0 && transactions < MESSAGES / 2,
                "the waiting messages were applied in groups: " + transactions + " transactions for " + MESSAGES);
        long flushes = status.getLong("counters.applyFlushes");
        assertTrue(
                flushes > 0 && flushes < MESSAGES,
                "the acknowledgements waited for flushes, several per flush: " + flushes + " for " + MESSAGES);
        assertEquals(MESSAGES, status.getLong("peers." + PEER + ".messagesReceived"));
        assertEquals(2L * MESSAGES, status.getLong("peers." + PEER + ".changesReceived"));
        // the row every message wrote holds the last message's state
        try (Connection sql = node.sql();
                Statement s = sql.createStatement();
                ResultSet rs = s.executeQuery(
                        "SELECT (properties->>'at')::bigint - (SELECT (properties->>'at')::bigint FROM loom.nodes"
                                + " WHERE id = 'g-1') FROM loom.nodes WHERE id = 'shared'")) {
            rs.next();
            assertEquals(2L * MESSAGES - 1, rs.getLong(1), "the shared row holds the last message's state");
        }
    }

    @Test
    void aBadMessageInABacklogIsRejectedAloneAndTheOthersAreApplied() throws Exception {
        NodeProcess node = single.node("r");
        try (Connection sql = node.sql();
                Statement s = sql.createStatement()) {
            s.execute("CREATE FUNCTION public.refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                    + " IF NEW.id = 'poison' THEN RAISE EXCEPTION USING ERRCODE = 'check_violation',"
                    + " MESSAGE = 'poison is refused here'; END IF; RETURN NEW; END $$");
            s.execute("CREATE TRIGGER refuse_poison BEFORE INSERT OR UPDATE ON loom.nodes FOR EACH ROW"
                    + " EXECUTE FUNCTION public.refuse_poison()");
        }
        int poisoned = MESSAGES / 2;
        backlog(node, MESSAGES, poisoned);
        await("every other message applied, the bad one rejected")
                .atMost(Duration.ofSeconds(60))
                .until(() -> node.api().get("/api/sync/status").jsonPath().getLong("rejectedByReason.bad-data") == 1
                        && count(node, "id LIKE 'g-%'") == MESSAGES - 1);
        assertEquals(0, count(node, "id = 'poison'"));
        JsonPath status = node.api().get("/api/sync/status").jsonPath();
        assertEquals(MESSAGES, status.getLong("counters.received"));
        assertEquals(MESSAGES - 1, status.getLong("counters.applied"));
        assertEquals(MESSAGES - 1, status.getLong("peers." + PEER + ".messagesReceived"));
        JsonPath rejected = node.api().get("/api/sync/rejected").jsonPath();
        assertEquals(1, rejected.getList("items").size());
        assertEquals("bad-data", rejected.getString("items[0].reason"));
        assertTrue(rejected.getString("items[0].payload").contains("\"poison\""), "the poisoned message kept aside");
        assertTrue(rejected.getString("items[0].detail").contains("poison is refused here"));
    }
}
