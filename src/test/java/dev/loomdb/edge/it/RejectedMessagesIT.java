package dev.loomdb.edge.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** A rejected message is acknowledged to the broker only once it is kept aside: none is lost on the way. */
class RejectedMessagesIT {

    @RegisterExtension
    final Mesh single = Mesh.named("rejects").nodes("r").with("loom.sync.rejected-max", "3");

    private long kept(NodeProcess node) throws Exception {
        try (Connection sql = node.sql();
                Statement s = sql.createStatement();
                ResultSet rs =
                        s.executeQuery("SELECT count(*) FROM loom.rejected_messages WHERE reason LIKE 'malformed%'")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    @Test
    void aMessageThatCannotBeKeptAsideIsNotAcknowledgedAndIsKeptOnceItCanBe() throws Exception {
        NodeProcess node = single.node("r");
        try (Connection sql = node.sql();
                Statement s = sql.createStatement()) {
            s.execute("CREATE FUNCTION public.refuse() RETURNS trigger LANGUAGE plpgsql AS"
                    + " $$ BEGIN RAISE EXCEPTION 'the disk is full'; END $$");
            s.execute("CREATE TRIGGER refuse BEFORE INSERT ON loom.rejected_messages FOR EACH ROW"
                    + " EXECUTE FUNCTION public.refuse()");
        }
        try (MqttProbe probe = new MqttProbe(single.brokerHost(), single.brokerPort(), null)) {
            probe.publish(
                    "loom/" + single.name() + "/changes/other", "{not an envelope".getBytes(StandardCharsets.UTF_8));
        }
        await("keeping it aside fails")
                .atMost(Duration.ofSeconds(20))
                .until(() -> node.log().contains("Could not keep the rejected message aside"));
        assertEquals(0, kept(node));
        assertEquals(0, node.api().get("/api/sync/status").jsonPath().getLong("counters.rejected"));

        try (Connection sql = node.sql();
                Statement s = sql.createStatement()) {
            s.execute("DROP TRIGGER refuse ON loom.rejected_messages");
        }
        await("the same message, still with the node, is kept aside once the table takes it")
                .atMost(Duration.ofSeconds(20))
                .until(() -> kept(node) == 1);
        assertEquals(1, node.api().get("/api/sync/status").jsonPath().getLong("counters.rejected"));
        assertEquals(1, node.api().get("/api/sync/status").jsonPath().getLong("rejectedByReason.malformed"));
    }

    @Test
    void rejectedMessagesAreListedBoundedAndNothingOfAMixedEnvelopeIsApplied() throws Exception {
        NodeProcess node = single.node("r");
        String mesh = single.name();
        long hlc = System.currentTimeMillis() << 16;
        String good = "{\"op\":\"insert\",\"kind\":\"node\",\"id\":\"mixed-ok\",\"type\":\"T\","
                + "\"properties\":{},\"hlc\":\"" + hlc + "\",\"version\":1,\"origin\":\"zz-mixed\","
                + "\"tombstone\":false}";
        String bad = good.replace("mixed-ok", "mixed-bad").replace("\"properties\":{}", "\"properties\":null");
        String mixed = "{\"v\":1,\"mesh\":\"" + mesh + "\",\"origin\":\"zz-mixed\",\"seq\":1,\"txid\":1,"
                + "\"lsn\":\"0/1\",\"commitTime\":\"2026-12-03T00:00:00Z\",\"transactions\":1,\"changes\":["
                + good + "," + bad + "]}";
        try (MqttProbe probe = new MqttProbe(single.brokerHost(), single.brokerPort(), null)) {
            probe.publish("loom/" + mesh + "/changes/zz-mixed/node/T", mixed.getBytes(StandardCharsets.UTF_8));
            for (int i = 1; i <= 4; i++) {
                probe.publish("loom/" + mesh + "/changes/zz-junk", ("junk " + i).getBytes(StandardCharsets.UTF_8));
            }
            probe.publish("loom/" + mesh + "/changes/zz-junk", new byte[] {(byte) 0xff, (byte) 0xfe, 0});
        }
        await().atMost(Duration.ofSeconds(20))
                .until(() -> node.api().get("/api/sync/status").jsonPath().getLong("counters.rejected") == 6);
        node.api().get("/api/nodes/mixed-ok").then().statusCode(404); // not even the valid change

        io.restassured.path.json.JsonPath kept =
                node.api().get("/api/sync/rejected").jsonPath();
        assertEquals(3, kept.getInt("max"));
        assertEquals(3, kept.getList("items").size(), "bounded by loom.sync.rejected-max");
        assertEquals(3, kept.getLong("dropped"), "the oldest three were dropped: the mixed envelope and junk 1, 2");
        assertEquals("junk 3", kept.getString("items[0].payload"));
        assertEquals("malformed", kept.getString("items[0].reason"));
        assertEquals("base64", kept.getString("items[2].payloadEncoding"));
        assertEquals("//4A", kept.getString("items[2].payload"));
        assertEquals(3, node.api().get("/api/sync/status").jsonPath().getLong("counters.rejectedDropped"));
        io.restassured.path.json.JsonPath page =
                node.api().get("/api/sync/rejected?limit=2").jsonPath();
        assertEquals(2, page.getList("items").size());
        assertEquals(
                "//4A",
                node.api()
                        .get("/api/sync/rejected?after=" + page.getLong("next"))
                        .jsonPath()
                        .getString("items[0].payload"));
        node.api().get("/api/sync/rejected?limit=0").then().statusCode(400);
    }
}
