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
    final Mesh single = Mesh.named("rejects").nodes("r");

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
}
