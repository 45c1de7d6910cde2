package dev.loomdb.edge.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loomdb.edge.flow.Change;
import dev.loomdb.edge.flow.Envelope;
import dev.loomdb.edge.mesh.EnvelopeCodec;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Transactions larger than the largest MQTT message (here 64 KiB, so that a few thousand rows make
 * one): they travel in parts and are applied whole; a row no message can carry is left out without
 * stopping anything after it; a late joiner takes pages cut to the message size. Before parts, such
 * a transaction closed every node's connection on arrival, again after each reconnection, for ever.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class LargeTransactionIT {

    private static final int MAX_MESSAGE = 64 * 1024;
    private static final int ROWS = 3_000;
    private static final Duration SYNC = Duration.ofSeconds(60);

    @RegisterExtension
    static final Mesh MESH =
            Mesh.named("large-tx").nodes("a", "b").with("loom.mqtt.max-message-size", Integer.toString(MAX_MESSAGE));

    private MqttProbe probe;

    @BeforeAll
    void startProbe() throws Exception {
        probe = new MqttProbe(MESH.brokerHost(), MESH.brokerPort(), MESH.topicOf(MESH.node("a")) + "/#");
    }

    @AfterAll
    void stopProbe() {
        if (probe != null) {
            probe.close();
        }
    }

    private static long count(NodeProcess node, String where) throws Exception {
        return single(node, "SELECT count(*) FROM loom.nodes WHERE " + where);
    }

    private static long single(NodeProcess node, String query) throws Exception {
        try (Connection sql = node.sql();
                Statement s = sql.createStatement();
                ResultSet rs = s.executeQuery(query)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    @Test
    @Order(1)
    void aTransactionLargerThanAMessageArrivesInPartsAndIsAppliedWholeInOneLocalTransaction() throws Exception {
        NodeProcess a = MESH.node("a");
        NodeProcess b = MESH.node("b");
        try (Connection sql = a.sql();
                Statement s = sql.createStatement()) {
            s.execute("INSERT INTO loom.nodes (id, type, properties) SELECT 'big-' || g, 'T',"
                    + " jsonb_build_object('text', repeat('x', 150), 'g', g) FROM generate_series(1, " + ROWS + ") g");
        }
        await("all rows on B").atMost(SYNC).until(() -> count(b, "id LIKE 'big-%'") == ROWS);
        assertEquals(
                1,
                single(b, "SELECT count(DISTINCT xmin::text) FROM loom.nodes WHERE id LIKE 'big-%'"),
                "B applied the transaction in one local transaction");

        // the probe may get the parts after B applied them: wait for it too
        await("the probe saw the parts")
                .atMost(SYNC)
                .until(() -> probe.on(MESH.topicOf(a)).stream()
                                .filter(m -> m.text().contains("\"parts\""))
                                .count()
                        >= 10);
        List<MqttProbe.Message> parts = probe.on(MESH.topicOf(a)).stream()
                .filter(m -> m.text().contains("\"parts\""))
                .toList();
        parts.forEach(m -> assertTrue(m.payload().length <= MAX_MESSAGE, "a part of " + m.payload().length));
        b.api().get("/api/sync/status").then().body("counters.rejected", org.hamcrest.Matchers.equalTo(0));
    }

    @Test
    @Order(2)
    void aRowNoMessageCanCarryIsLeftOutWithAnErrorAndEverythingAfterItArrives() throws Exception {
        NodeProcess a = MESH.node("a");
        NodeProcess b = MESH.node("b");
        try (Connection sql = a.sql();
                Statement s = sql.createStatement()) {
            sql.setAutoCommit(false);
            s.execute("INSERT INTO loom.nodes (id, type, properties) VALUES"
                    + " ('huge', 'T', jsonb_build_object('text', repeat('y', 100000))),"
                    + " ('beside-huge', 'T', '{\"n\": 1}')");
            sql.commit();
            sql.setAutoCommit(true);
            s.execute("INSERT INTO loom.nodes (id, type, properties) VALUES ('after-huge', 'T', '{\"n\": 2}')");
        }
        await().atMost(SYNC).until(() -> count(b, "id IN ('beside-huge', 'after-huge')") == 2);
        assertEquals(0, count(b, "id = 'huge'"));
        assertTrue(
                a.log().contains("Not published: node 'huge' takes") && a.log().contains("loom.mqtt.max-message-size"),
                "A names the row and the setting");
    }

    @Test
    @Order(3)
    void aLateJoinerTakesTheGraphInPagesCutToTheMessageSize() throws Exception {
        NodeProcess a = MESH.node("a");
        NodeProcess c = MESH.join("c");
        c.awaitReady();
        long expected = count(a, "NOT tombstone AND id <> 'huge'");
        await("C holds A's graph but the row no message carries")
                .atMost(SYNC)
                .until(() -> count(c, "NOT tombstone") == expected);
        assertEquals(0, count(c, "id = 'huge'"));
        assertEquals(1, single(c, "SELECT count(*) FROM loom.nodes WHERE id = 'big-" + ROWS + "'"));
        assertTrue(c.log().contains("Bootstrap completed"), "C bootstrapped");
        assertTrue(a.log().contains("State sync cannot send node 'huge'"), "A names the row it cannot send");
    }

    @Test
    @Order(4)
    void aTransactionOfMoreTypesThanTheBrokerLetsWaitArrivesWholeOnTheirTopics() throws Exception {
        NodeProcess a = MESH.node("a");
        NodeProcess b = MESH.node("b");
        try (Connection sql = a.sql();
                Statement s = sql.createStatement()) {
            s.execute(
                    "INSERT INTO loom.nodes (id, type) SELECT 'typed-' || g, 'Type' || g FROM generate_series(1, 40) g");
        }
        await("all 40 types on B, well before the parts' wait")
                .atMost(SYNC)
                .until(() -> count(b, "id LIKE 'typed-%'") == 40);
        assertEquals(
                1,
                single(b, "SELECT count(DISTINCT xmin::text) FROM loom.nodes WHERE id LIKE 'typed-%'"),
                "B applied the transaction in one local transaction");
        await("the probe saw the 40 messages")
                .atMost(SYNC)
                .until(() -> probe.on(MESH.topicOf(a)).stream()
                                .filter(m -> m.text().contains("typed-"))
                                .count()
                        >= 40);
        List<MqttProbe.Message> messages = probe.on(MESH.topicOf(a)).stream()
                .filter(m -> m.text().contains("typed-"))
                .toList();
        assertEquals(
                40, messages.stream().map(MqttProbe.Message::topic).distinct().count(), "one topic per type");
        EnvelopeCodec codec = new EnvelopeCodec(new ObjectMapper());
        for (MqttProbe.Message message : messages) {
            Envelope envelope = codec.decode(message.payload());
            assertEquals(40, envelope.spans().size(), "each message names the window's 40 types");
            assertTrue(
                    message.topic()
                            .endsWith("/node/" + envelope.changes().get(0).type()),
                    message.topic());
        }
    }

    @Test
    @Order(5)
    void thePartsANodeHoldsWhenItStopsAreKeptAndTheWindowIsAppliedWhenTheRestArrives() throws Exception {
        NodeProcess b = MESH.node("b");
        EnvelopeCodec codec = new EnvelopeCodec(new ObjectMapper());
        List<Change> changes = List.of(
                new Change(
                        Change.Op.INSERT,
                        Change.Kind.NODE,
                        "held-1",
                        "T",
                        "{}",
                        null,
                        null,
                        dev.loomdb.edge.flow.Hlc.at(Instant.now()).value(),
                        1,
                        "zz-held",
                        false),
                new Change(
                        Change.Op.INSERT,
                        Change.Kind.NODE,
                        "held-2",
                        "T",
                        "{}",
                        null,
                        null,
                        dev.loomdb.edge.flow.Hlc.at(Instant.now()).value() + 1,
                        1,
                        "zz-held",
                        false));
        Envelope whole = new Envelope(1, MESH.name(), "zz-held", 4242, 1, "0/1", Instant.now(), 1, changes);
        String topic = "loom/" + MESH.name() + "/changes/zz-held/node/T";
        probe.publish(topic, codec.encode(whole.part(1, 2, changes.subList(0, 1))));
        await("B stored the first part")
                .atMost(SYNC)
                .until(() -> single(b, "SELECT count(*) FROM loom.held_parts") == 1);
        assertEquals(0, count(b, "id LIKE 'held-%'"), "a window is not applied in part");

        b.stop();
        b.start().awaitReady();
        assertTrue(b.log().contains("Holding again 1 parts of split windows"), b.logTail());
        probe.publish(topic, codec.encode(whole.part(2, 2, changes.subList(1, 2))));
        await("B applied the window once whole").atMost(SYNC).until(() -> count(b, "id LIKE 'held-%'") == 2);
        await().atMost(SYNC).until(() -> single(b, "SELECT count(*) FROM loom.held_parts") == 0);
    }
}
