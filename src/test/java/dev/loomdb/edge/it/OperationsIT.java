package dev.loomdb.edge.it;

import static org.awaitility.Awaitility.await;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.restassured.path.json.JsonPath;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The operating surface: stop/start, status that survives restarts, live events (SSE), the circuit
 * breaker per peer, the change history, metrics and JSON logs.
 */
class OperationsIT {

    private static final Duration SYNC = Duration.ofSeconds(20);
    private static final ObjectMapper JSON = new ObjectMapper();

    @RegisterExtension
    final Mesh mesh = Mesh.named("ops").nodes("a", "b").unstarted();

    private final List<AutoCloseable> closing = new ArrayList<>();

    @AfterEach
    void closeWatchers() throws Exception {
        for (int i = closing.size() - 1; i >= 0; i--) {
            closing.get(i).close();
        }
        closing.clear();
    }

    /** A, which embeds the broker in the one-machine mode, and B: configured by the mesh, started by the test. */
    private NodeProcess[] twoNodes() {
        return new NodeProcess[] {mesh.node("a"), mesh.node("b")};
    }

    private static void put(NodeProcess node, String id, String type, String properties) {
        node.api()
                .body("{\"type\":\"" + type + "\",\"properties\":" + properties + "}")
                .put("/api/nodes/" + id)
                .then()
                .statusCode(201);
    }

    private static void awaitNode(NodeProcess node, String id) {
        await().atMost(SYNC)
                .untilAsserted(() -> node.api().get("/api/nodes/" + id).then().statusCode(200));
    }

    private static JsonPath status(NodeProcess node) {
        return node.api().get("/api/sync/status").jsonPath();
    }

    @Test
    void stopAndStartLoseNothingAndTheStatusContinuesAfterARestart() throws Exception {
        NodeProcess[] nodes = twoNodes();
        NodeProcess a = nodes[0].start().awaitReady();
        NodeProcess b = nodes[1].start().awaitReady();
        put(a, "before", "Item", "{}");
        awaitNode(b, "before");
        // B applied A's change and flushed before acknowledging it; A, which only wrote, acknowledges the
        // echo of its own message without a flush commit
        await().atMost(SYNC).until(() -> status(b).getLong("counters.applyFlushes") > 0);
        await().during(Duration.ofMillis(500))
                .atMost(SYNC)
                .until(() -> status(a).getLong("counters.applyFlushes") == 0);

        b.api()
                .post("/api/sync/stop")
                .then()
                .statusCode(200)
                .body("running", equalTo(false))
                .body("changed", equalTo(true));
        b.api().post("/api/sync/stop").then().statusCode(200).body("changed", equalTo(false));
        b.api().get("/q/health/ready").then().statusCode(503);
        long publishedByA = status(a).getLong("counters.publishedChanges");
        for (int i = 0; i < 5; i++) {
            put(a, "from-a-" + i, "Item", "{\"i\":" + i + "}");
        }
        for (int i = 0; i < 3; i++) {
            put(b, "from-b-" + i, "Item", "{\"i\":" + i + "}");
        }
        try (Connection sql = b.sql();
                Statement s = sql.createStatement()) {
            s.execute("INSERT INTO loom.nodes (id, type, properties) VALUES ('from-b-sql', 'Item', '{}')");
        }
        // A's changes are with the broker, yet the stopped B applies none of them; B's own wait in its slot.
        await().atMost(SYNC).until(() -> status(a).getLong("counters.publishedChanges") >= publishedByA + 5);
        b.api().get("/api/nodes/from-a-4").then().statusCode(404);
        JsonPath stopped = status(b);
        assertFalse(stopped.getBoolean("running"));
        assertFalse(stopped.getBoolean("brokerConnected"));
        assertTrue(stopped.getLong("lag.bytes") > 0, "B's unsent writes show as replication lag");
        a.api().get("/api/nodes/from-b-sql").then().statusCode(404);

        b.api().post("/api/sync/start").then().statusCode(200).body("running", equalTo(true));
        for (int i = 0; i < 5; i++) {
            awaitNode(b, "from-a-" + i);
        }
        for (int i = 0; i < 3; i++) {
            awaitNode(a, "from-b-" + i);
        }
        awaitNode(a, "from-b-sql");
        b.api().get("/q/health/ready").then().statusCode(200);

        String peerA = "peers.'" + a.nodeId() + "'";
        await().atMost(SYNC).until(() -> status(b).getLong(peerA + ".changesReceived") >= 6);
        JsonPath before = status(b);
        assertTrue(before.getList("subscriptions").contains("loom/" + mesh.name() + "/changes/#"));
        assertEquals("closed", before.getString(peerA + ".circuitBreaker"));
        b.stop();
        b.start().awaitReady();
        await().atMost(SYNC).untilAsserted(() -> {
            JsonPath after = status(b);
            assertEquals(before.getLong(peerA + ".changesReceived"), after.getLong(peerA + ".changesReceived"));
            assertEquals(before.getString(peerA + ".lastHlc"), after.getString(peerA + ".lastHlc"));
            assertTrue(
                    after.getLong("counters.applied") >= before.getLong("counters.applied"),
                    "counters continue across restarts");
            assertTrue(after.getLong("counters.published") >= before.getLong("counters.published"));
        });
    }

    @Test
    void watchersSeeRemoteChangesLiveAndMetricsHoldTheLatency() throws Exception {
        NodeProcess[] nodes = twoNodes();
        NodeProcess a = nodes[0].start().awaitReady();
        NodeProcess b = nodes[1].with("quarkus.log.console.json.enabled", "true")
                .start()
                .awaitReady();

        SseClient people = new SseClient(b.httpPort(), "/api/sync/events?kind=remote-change&type=Person");
        closing.add(people);
        SseClient everything = new SseClient(b.httpPort(), "/api/sync/events");
        closing.add(everything);
        people.awaitSubscribed();
        everything.awaitSubscribed();
        put(a, "robot-1", "Robot", "{}");
        put(a, "ada", "Person", "{\"name\":\"Ada\"}");

        SseClient.Event ada =
                people.awaitEvent(Duration.ofSeconds(10), e -> e.data().contains("\"ada\""));
        JsonPath event = new JsonPath(ada.data());
        assertEquals("remote-change", ada.name());
        assertEquals("Ada", event.getString("change.properties.name"));
        assertEquals(a.nodeId(), event.getString("peer"));
        assertTrue(event.getDouble("latencyMs") >= 0, ada.data());
        everything.awaitEvent(Duration.ofSeconds(10), e -> e.data().contains("\"robot-1\""));
        for (SseClient.Event e : people.events()) {
            assertTrue(
                    e.name().equals("subscribed")
                            || (e.name().equals("remote-change") && e.data().contains("\"type\":\"Person\"")),
                    "filtered out: " + e);
        }

        b.api()
                .accept("text/event-stream")
                .get("/api/sync/events?kind=nope")
                .then()
                .statusCode(400)
                .contentType("application/problem+json")
                .body("detail", containsString("remote-change"));

        String metrics =
                b.api().get("/q/metrics").then().statusCode(200).extract().asString();
        Matcher count = Pattern.compile("(?m)^loom_propagation_latency_seconds_count(?:\\{[^}]*\\})? (\\S+)")
                .matcher(metrics);
        assertTrue(count.find(), "the latency histogram is exported");
        assertTrue(Double.parseDouble(count.group(1)) >= 1, "it holds a sample per applied message");
        assertTrue(metrics.contains("loom_propagation_latency_seconds_bucket"), "with buckets");
        assertTrue(metrics.contains("loom_messages_total{direction=\"in\"}"));
        assertTrue(metrics.contains("loom_rejected_total{reason=\"malformed\"}"));
        assertTrue(metrics.contains("loom_replication_lag_bytes"));

        int jsonLines = 0;
        for (String line : b.log().split("\n")) {
            if (line.startsWith("{")) {
                JsonNode record = JSON.readTree(line);
                assertTrue(record.has("message") && record.has("level"), line);
                jsonLines++;
            }
        }
        assertTrue(jsonLines > 3, "the console log is JSON lines when quarkus.log.console.json.enabled=true");
    }

    @Test
    void aPeerWhoseMessagesFailOpensItsBreakerAndRecovers() throws Exception {
        NodeProcess[] nodes = twoNodes();
        NodeProcess a = nodes[0].with("loom.debounce", "0").start().awaitReady();
        NodeProcess b = nodes[1].with("loom.circuit-breaker.threshold", "3")
                .with("loom.circuit-breaker.reset", "2s")
                .start()
                .awaitReady();
        try (Connection sql = b.sql();
                Statement s = sql.createStatement()) {
            s.execute("CREATE FUNCTION loom.refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                    + " IF NEW.type = 'Poison' THEN RAISE EXCEPTION 'poison refused by a local trigger'; END IF;"
                    + " RETURN NEW; END $$");
            s.execute("CREATE TRIGGER refuse_poison BEFORE INSERT OR UPDATE ON loom.nodes FOR EACH ROW"
                    + " EXECUTE FUNCTION loom.refuse_poison()");
        }
        SseClient watcher = new SseClient(b.httpPort(), "/api/sync/events?kind=circuit-open,circuit-closed");
        closing.add(watcher);
        watcher.awaitSubscribed();
        String peerA = "peers.'" + a.nodeId() + "'";

        for (int i = 0; i < 4; i++) {
            put(a, "poison-" + i, "Poison", "{}"); // debounce 0: one message each
        }
        await().atMost(SYNC).until(() -> "open".equals(status(b).getString(peerA + ".circuitBreaker")));
        put(a, "healthy", "Item", "{}"); // arrives while the breaker is open: parked, not lost
        await().atMost(SYNC).until(() -> status(b).getInt(peerA + ".parked") >= 5);
        b.api().get("/api/nodes/healthy").then().statusCode(404);
        assertTrue(b.api()
                .get("/q/metrics")
                .asString()
                .contains("loom_circuit_breaker_state{peer=\"" + a.nodeId() + "\"} 2.0"));
        watcher.awaitEvent(
                SYNC, e -> "circuit-open".equals(e.name()) && e.data().contains(a.nodeId()));

        try (Connection sql = b.sql();
                Statement s = sql.createStatement()) {
            s.execute("DROP TRIGGER refuse_poison ON loom.nodes");
        }
        for (int i = 0; i < 4; i++) {
            awaitNode(b, "poison-" + i);
        }
        awaitNode(b, "healthy");
        watcher.awaitEvent(SYNC, e -> "circuit-closed".equals(e.name()));
        await().atMost(SYNC).untilAsserted(() -> {
            JsonPath recovered = status(b);
            assertEquals("closed", recovered.getString(peerA + ".circuitBreaker"));
            assertEquals(0, recovered.getInt(peerA + ".parked"));
        });
    }

    @Test
    void historyIsBoundedSurvivesRestartsAndReplays() throws Exception {
        NodeProcess[] nodes = twoNodes();
        NodeProcess a = nodes[0].with("loom.history.enabled", "true")
                .with("loom.history.max-entries", "4")
                .start()
                .awaitReady();
        NodeProcess b = nodes[1].start().awaitReady();
        for (int i = 0; i < 10; i++) { // one envelope each (debounce 0); recorded in the order published
            put(a, "h-" + i, "Item", "{\"i\":" + i + "}");
        }
        awaitNode(b, "h-9");
        await().atMost(SYNC)
                .until(() -> a.api().get("/api/sync/history").jsonPath().getList("entries").stream()
                        .anyMatch(e -> e.toString().contains("h-9")));
        JsonPath history = a.api().get("/api/sync/history").jsonPath();
        assertEquals(4, history.getList("entries").size(), "bounded by loom.history.max-entries");
        assertEquals(List.of("h-6", "h-7", "h-8", "h-9"), history.getList("entries.change.id"));
        assertEquals("local", history.getString("entries[0].direction"));
        b.api().get("/api/sync/history").then().body("enabled", equalTo(false)).body("entries.size()", equalTo(0));

        a.stop();
        a.start().awaitReady();
        assertEquals(
                history.getList("entries.seq"),
                a.api().get("/api/sync/history").jsonPath().getList("entries.seq"),
                "the history survives a restart");
        long first = history.getLong("entries[0].seq");
        JsonPath page =
                a.api().get("/api/sync/history?since=" + first + "&limit=2").jsonPath();
        assertEquals(List.of("h-7", "h-8"), page.getList("entries.change.id"));

        long superseded = status(b).getLong("counters.superseded");
        try (MqttProbe probe =
                new MqttProbe(mesh.brokerHost(), mesh.brokerPort(), "loom/" + mesh.name() + "/changes/#")) {
            await().atMost(SYNC).until(probe::subscribed); // the broker on a restarted node may drop a first SUBSCRIBE
            a.api()
                    .body("{\"from\":" + first + "}")
                    .post("/api/sync/history/replay")
                    .then()
                    .statusCode(200)
                    .body("replayed", equalTo(4));
            await().atMost(SYNC)
                    .until(() -> probe.messages().stream()
                            .map(m -> new String(m.payload(), StandardCharsets.UTF_8))
                            .anyMatch(text -> text.contains("\"h-6\"") && text.contains("\"h-9\"")));
        }
        await().atMost(SYNC).until(() -> status(b).getLong("counters.superseded") >= superseded + 4);
        b.api().get("/api/nodes/h-9").then().body("version", equalTo(1)); // replaying changed nothing

        a.api()
                .body("{\"from\":5,\"to\":2}")
                .post("/api/sync/history/replay")
                .then()
                .statusCode(400)
                .contentType("application/problem+json");
        a.api().delete("/api/sync/history").then().statusCode(200).body("removed", equalTo(4));
        a.api().get("/api/sync/history").then().body("entries.size()", equalTo(0));
    }
}
