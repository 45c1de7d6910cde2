package dev.loomdb.edge.embedded;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loomdb.edge.it.Infra;
import dev.loomdb.edge.it.MqttProbe;
import io.moquette.broker.Server;
import java.lang.reflect.Field;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.h2.mvstore.MVStore;
import org.junit.jupiter.api.Test;

/** The embedded broker survives the failure of its session store, as Moquette's H2 queue can fail under load. */
class EmbeddedBrokerTest {

    @Test
    void aFailedSessionStoreRestartsTheBrokerAndItServesAgain() throws Exception {
        Path dataDir = Files.createTempDirectory("loom-broker");
        int port = Infra.freePort();
        try (EmbeddedBroker broker = EmbeddedBroker.start("127.0.0.1", port, dataDir, 1024 * 1024)) {
            try (MqttProbe before = new MqttProbe("127.0.0.1", port, "loom/t/#");
                    MqttProbe publisher = new MqttProbe("127.0.0.1", port, null)) {
                delivered(publisher, before, "loom/t/1");
            }

            failStore(broker); // what a failed save does to Moquette's store: it closes itself
            assertTrue(EmbeddedBroker.storeFailed(currentServer(broker)));

            await().atMost(Duration.ofSeconds(10)).until(() -> broker.restarts() == 1);
            try (MqttProbe after = new MqttProbe("127.0.0.1", port, "loom/t/#");
                    MqttProbe publisher = new MqttProbe("127.0.0.1", port, null)) {
                delivered(publisher, after, "loom/t/2");
            }
            assertEquals(1, broker.restarts(), "a healthy store is left alone");
        }
    }

    @Test
    void aPersistentSessionAndItsQueuedMessageSurviveABrokerThatDidNotStopCleanly() throws Exception {
        Path dataDir = Files.createTempDirectory("loom-broker");
        int port = Infra.freePort();
        try (EmbeddedBroker broker = EmbeddedBroker.start("127.0.0.1", port, dataDir, 1024 * 1024)) {
            new MqttProbe("127.0.0.1", port, "loom/t/#", "peer-p", false).close(); // subscribed, then offline
            await().atMost(Duration.ofSeconds(10)).until(() -> currentServer(broker).listConnectedClients().stream()
                    .noneMatch(c -> c.getClientID().equals("peer-p"))); // the broker has seen it go: it queues for it
            try (MqttProbe publisher = new MqttProbe("127.0.0.1", port, null)) {
                publisher.publish("loom/t/queued", "for p".getBytes(StandardCharsets.UTF_8)); // queued for peer-p
            }
            store(broker).commit(); // the periodic save, with the sessions as they are while the broker runs
            store(broker).closeImmediately(); // then the broker dies without stopping cleanly

            await().atMost(Duration.ofSeconds(10)).until(() -> broker.restarts() == 1);
            try (MqttProbe peer = new MqttProbe("127.0.0.1", port, "loom/t/#", "peer-p", false)) {
                await().atMost(Duration.ofSeconds(10)).until(() -> !peer.messages().isEmpty());
                assertEquals("loom/t/queued", peer.messages().get(0).topic());
            }
        }
    }

    /**
     * Publishes on the topic until the subscriber has a message on it: a publication right after the
     * subscriber's SUBACK was seen to miss it now and then with the broker in the test's own JVM.
     */
    private static void delivered(MqttProbe publisher, MqttProbe subscriber, String topic) {
        await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(500)).until(() -> {
            if (subscriber.messages().isEmpty()) {
                publisher.publish(topic, topic.getBytes(StandardCharsets.UTF_8));
            }
            return subscriber.messages().stream().anyMatch(m -> m.topic().equals(topic));
        });
    }

    private static Server currentServer(EmbeddedBroker broker) throws ReflectiveOperationException {
        Field server = EmbeddedBroker.class.getDeclaredField("server");
        server.setAccessible(true);
        synchronized (broker) {
            return (Server) server.get(broker);
        }
    }

    private static void failStore(EmbeddedBroker broker) throws ReflectiveOperationException {
        store(broker).closeImmediately();
    }

    private static MVStore store(EmbeddedBroker broker) throws ReflectiveOperationException {
        Server server = currentServer(broker);
        Field builderField = Server.class.getDeclaredField("h2Builder");
        builderField.setAccessible(true);
        Object builder = builderField.get(server);
        Field storeField = builder.getClass().getDeclaredField("mvStore");
        storeField.setAccessible(true);
        return (MVStore) storeField.get(builder);
    }
}
