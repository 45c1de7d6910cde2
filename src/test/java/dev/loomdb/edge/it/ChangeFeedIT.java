package dev.loomdb.edge.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.GetResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The change feed routed to RabbitMQ by configuration alone: B's feed sends every change it records
 * (applied from A, written on B) through the SmallRye RabbitMQ connector to a topic exchange; the test
 * reads a durable queue bound to it. RabbitMQ stopped and started again: the mesh syncs meanwhile and
 * nothing of the feed is lost; B killed mid-feed and started again: the feed goes on from where it was
 * (at least once: what it had not saved is sent again). A's feed goes, by configuration as well, through
 * the SmallRye MQTT connector to a second MQTT broker (a Mosquitto of the test's own), where a
 * subscriber reads A's own writes and those applied from B, each entity's changes in order.
 */
class ChangeFeedIT {

    private static final Duration SYNC = Duration.ofSeconds(60);
    private static final String EXCHANGE = "loom-feed";
    private static final String QUEUE = "feed-test";

    private final ObjectMapper mapper = new ObjectMapper();
    private static final String MQTT_FEED_TOPIC = "plant-3/loom-feed";

    private RabbitMqProcess rabbit;
    private StandaloneBroker second;
    private MqttProbe mqttFeed;

    @RegisterExtension
    final Mesh mesh = Mesh.named("feed").nodes("a", "b").unstarted();

    @BeforeEach
    void startRabbitMq() throws Exception {
        RabbitMqProcess.assumeInstalled();
        rabbit = new RabbitMqProcess(Infra.workDir("rabbitmq")).start();
        NodeProcess b = mesh.node("b")
                .with("loom.feed.enabled", "true")
                .with("mp.messaging.outgoing.loom-feed.connector", "smallrye-rabbitmq")
                .with("mp.messaging.outgoing.loom-feed.host", "127.0.0.1")
                .with("mp.messaging.outgoing.loom-feed.port", Integer.toString(rabbit.port()))
                .with("mp.messaging.outgoing.loom-feed.username", "guest")
                .with("mp.messaging.outgoing.loom-feed.password", "guest")
                .with("mp.messaging.outgoing.loom-feed.exchange.name", EXCHANGE)
                .with("mp.messaging.outgoing.loom-feed.publish-confirms", "true")
                .with("mp.messaging.outgoing.loom-feed.reconnect-interval", "1")
                .with("mp.messaging.outgoing.loom-feed.retry-on-fail-attempts", "1")
                .with("mp.messaging.outgoing.loom-feed.retry-on-fail-interval", "1")
                .with("loom.feed.events", "true")
                .with("mp.messaging.outgoing.loom-events.connector", "smallrye-rabbitmq")
                .with("mp.messaging.outgoing.loom-events.host", "127.0.0.1")
                .with("mp.messaging.outgoing.loom-events.port", Integer.toString(rabbit.port()))
                .with("mp.messaging.outgoing.loom-events.username", "guest")
                .with("mp.messaging.outgoing.loom-events.password", "guest")
                .with("mp.messaging.outgoing.loom-events.exchange.name", "loom-events")
                .with("loom.feed.retry-interval", "500ms")
                .with("loom.feed.ack-timeout", "5s");
        declareQueue();
        second = StandaloneBroker.mosquitto(Infra.workDir("second-broker")).start();
        mqttFeed = new MqttProbe("127.0.0.1", second.port(), MQTT_FEED_TOPIC);
        mesh.node("a")
                .with("loom.feed.enabled", "true")
                .with("mp.messaging.outgoing.loom-feed.connector", "smallrye-mqtt")
                .with("mp.messaging.outgoing.loom-feed.host", "127.0.0.1")
                .with("mp.messaging.outgoing.loom-feed.port", Integer.toString(second.port()))
                .with("mp.messaging.outgoing.loom-feed.topic", MQTT_FEED_TOPIC)
                .with("mp.messaging.outgoing.loom-feed.qos", "1")
                .with("mp.messaging.outgoing.loom-feed.max-message-size", "1048576")
                .start()
                .awaitReady();
        b.start().awaitReady();
    }

    @AfterEach
    void stopRabbitMq() throws Exception {
        if (mqttFeed != null) {
            mqttFeed.close();
        }
        if (second != null) {
            second.close();
        }
        if (rabbit != null) {
            rabbit.close();
        }
    }

    /** What A's feed sent to the second MQTT broker, each message once, in the order they came. */
    private List<JsonNode> mqttFeed() throws Exception {
        List<JsonNode> messages = new ArrayList<>();
        for (MqttProbe.Message message : mqttFeed.distinctMessages()) {
            messages.add(mapper.readTree(message.payload()));
        }
        return messages;
    }

    private Connection connect() throws Exception {
        ConnectionFactory factory = new ConnectionFactory();
        factory.setHost("127.0.0.1");
        factory.setPort(rabbit.port());
        return factory.newConnection("feed-test");
    }

    private void declareQueue() throws Exception {
        try (Connection connection = connect();
                Channel channel = connection.createChannel()) {
            channel.exchangeDeclare(EXCHANGE, "topic", true);
            channel.queueDeclare(QUEUE, true, false, false, null);
            channel.queueBind(QUEUE, EXCHANGE, "#");
            channel.exchangeDeclare("loom-events", "topic", true);
            channel.queueDeclare("events-test", true, false, false, null);
            channel.queueBind("events-test", "loom-events", "#");
        }
    }

    /** Takes every message now on the queue, acknowledging each. */
    private List<JsonNode> drain() throws Exception {
        return drain(QUEUE);
    }

    private List<JsonNode> drain(String queue) throws Exception {
        List<JsonNode> messages = new ArrayList<>();
        drain(queue, messages::add);
        return messages;
    }

    /**
     * Hands on every message now on the queue as it takes it (each acknowledged as taken: a connection that
     * breaks mid-way loses none the caller has not been given).
     */
    private void drain(String queue, java.util.function.Consumer<JsonNode> each) throws Exception {
        try (Connection connection = connect();
                Channel channel = connection.createChannel()) {
            GetResponse response;
            while ((response = channel.basicGet(queue, true)) != null) {
                AMQP.BasicProperties properties = response.getProps();
                assertEquals("application/json", properties.getContentType());
                each.accept(mapper.readTree(response.getBody()));
            }
        }
    }

    private static void put(NodeProcess node, String id, int n) {
        node.api()
                .body("{\"type\":\"Sensor\",\"properties\":{\"n\":" + n + "}}")
                .put("/api/nodes/" + id)
                .then()
                .statusCode(201);
    }

    private static Set<String> ids(String prefix, int count) {
        return IntStream.rangeClosed(1, count).mapToObj(i -> prefix + i).collect(Collectors.toSet());
    }

    private void awaitOnQueue(Set<String> seen, List<JsonNode> received, Set<String> expected) {
        await("the feed's messages on RabbitMQ")
                .atMost(SYNC)
                .pollInterval(Duration.ofMillis(250))
                // RabbitMQ may still be starting after a restart: a connection it refuses or closes is tried again
                .ignoreExceptionsInstanceOf(java.io.IOException.class)
                .until(() -> {
                    drain(QUEUE, message -> {
                        received.add(message);
                        seen.add(message.path("change").path("id").asText());
                    });
                    return seen.containsAll(expected);
                });
    }

    @Test
    void changesReachRabbitMqThroughTheFeedAndNoneIsLostWhenItIsDownOrTheNodeRestarts() throws Exception {
        NodeProcess a = mesh.node("a");
        NodeProcess b = mesh.node("b");
        Set<String> seen = new HashSet<>();
        List<JsonNode> received = new ArrayList<>();

        put(a, "before-1", 1);
        awaitOnQueue(seen, received, Set.of("before-1"));
        JsonNode first = received.get(0);
        assertEquals(b.nodeId(), first.path("node").asText(), "B's feed sent it");
        assertEquals("remote", first.path("direction").asText(), "applied from A");
        assertEquals(a.nodeId(), first.path("peer").asText());
        assertEquals("Sensor", first.path("change").path("type").asText());
        assertEquals(1, first.path("change").path("properties").path("n").asInt());

        // one entity changed ten times: its messages come in the order of the changes
        for (int n = 1; n <= 10; n++) {
            a.api()
                    .body("{\"properties\":{\"n\":" + n + "}}")
                    .patch("/api/nodes/before-1")
                    .then()
                    .statusCode(200);
        }
        await("the ten changes of before-1 on RabbitMQ")
                .atMost(SYNC)
                .pollInterval(Duration.ofMillis(250))
                .until(() -> {
                    received.addAll(drain());
                    return received.stream()
                            .anyMatch(m -> m.path("change")
                                            .path("properties")
                                            .path("n")
                                            .asInt()
                                    == 10);
                });
        List<Integer> order = received.stream()
                .filter(m -> m.path("change").path("id").asText().equals("before-1"))
                .map(m -> m.path("change").path("properties").path("n").asInt())
                .toList();
        List<Integer> sorted = new ArrayList<>(order);
        sorted.sort(null);
        assertEquals(sorted, order, "one entity's changes in order: " + order);
        List<Long> seqs = received.stream().map(m -> m.path("seq").asLong()).toList();
        for (int i = 1; i < seqs.size(); i++) {
            assertTrue(seqs.get(i) > seqs.get(i - 1), "in the order recorded: " + seqs);
        }

        // A's feed on the second MQTT broker: its own writes, in the order of the changes
        await("A's ten changes of before-1 on the second MQTT broker")
                .atMost(SYNC)
                .pollInterval(Duration.ofMillis(250))
                .until(() -> mqttFeed().stream()
                        .anyMatch(m ->
                                m.path("change").path("properties").path("n").asInt() == 10));
        List<JsonNode> onMqtt = mqttFeed();
        JsonNode firstOnMqtt = onMqtt.get(0);
        assertEquals(a.nodeId(), firstOnMqtt.path("node").asText(), "A's feed sent it");
        assertEquals("local", firstOnMqtt.path("direction").asText(), "written on A");
        assertEquals("before-1", firstOnMqtt.path("change").path("id").asText());
        List<Integer> mqttOrder = onMqtt.stream()
                .filter(m -> m.path("change").path("id").asText().equals("before-1"))
                .map(m -> m.path("change").path("properties").path("n").asInt())
                .toList();
        List<Integer> mqttSorted = new ArrayList<>(mqttOrder);
        mqttSorted.sort(null);
        assertEquals(mqttSorted, mqttOrder, "one entity's changes in order on MQTT: " + mqttOrder);
        assertEquals(10, mqttOrder.get(mqttOrder.size() - 1), "the last change last (A's debounce may fold the rest)");

        await("the sync events on their own exchange")
                .atMost(SYNC)
                .until(() -> drain("events-test").stream()
                        .anyMatch(m -> m.path("kind").asText().equals("remote-change")
                                && m.path("change").path("id").asText().equals("before-1")));

        rabbit.stop();
        for (int i = 1; i <= 40; i++) {
            put(a, "while-down-" + i, i);
        }
        put(b, "on-b-while-down", 1);
        await("the mesh syncs while RabbitMQ is down")
                .atMost(SYNC)
                .until(() -> b.api().get("/api/nodes/while-down-40").statusCode() == 200);
        await("B's feed notices its downstream is away")
                .atMost(SYNC)
                .until(() -> b.api().get("/api/sync/status").jsonPath().getLong("feed.failures") > 0);
        assertEquals(
                200,
                b.api().get("/q/health/ready").statusCode(),
                "a feed whose downstream is away leaves the node ready (it serves the mesh)");
        b.api().get("/api/nodes/while-down-1").then().statusCode(200);
        await("B's write applied on A is in A's feed on the second MQTT broker")
                .atMost(SYNC)
                .pollInterval(Duration.ofMillis(250))
                .until(() -> mqttFeed().stream()
                        .anyMatch(m -> m.path("change").path("id").asText().equals("on-b-while-down")
                                && m.path("direction").asText().equals("remote")
                                && m.path("peer").asText().equals(b.nodeId())));

        rabbit.start();
        Set<String> whileDown = new HashSet<>(ids("while-down-", 40));
        whileDown.add("on-b-while-down");
        awaitOnQueue(seen, received, whileDown);
        assertTrue(
                received.stream()
                        .anyMatch(m -> m.path("change").path("id").asText().equals("on-b-while-down")
                                && m.path("direction").asText().equals("local")),
                "B's own writes are in its feed too");

        // B killed (kill -9) while its feed is sending: what it had not saved as sent is sent again
        for (int i = 1; i <= 30; i++) {
            put(b, "before-kill-" + i, i);
        }
        b.kill();
        for (int i = 1; i <= 20; i++) {
            put(a, "while-b-away-" + i, i);
        }
        b.start().awaitReady();
        Set<String> afterKill = new HashSet<>(ids("while-b-away-", 20));
        afterKill.addAll(ids("before-kill-", 30));
        awaitOnQueue(seen, received, afterKill);
        assertTrue(b.log().contains("Change feed goes on after entry"), "the feed went on from its position");

        long position = b.api().get("/api/sync/status").jsonPath().getLong("feed.position");
        assertTrue(position >= 92, "B's feed acknowledged every entry: " + position);
    }
}
