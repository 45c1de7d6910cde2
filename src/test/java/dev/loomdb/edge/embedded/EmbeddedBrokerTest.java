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
                publisher.publish("loom/t/1", "one".getBytes(StandardCharsets.UTF_8));
                await().atMost(Duration.ofSeconds(10)).until(() -> before.messages().size() == 1);
                assertEquals("loom/t/1", before.messages().get(0).topic());
            }

            failStore(broker); // what a failed save does to Moquette's store: it closes itself
            assertTrue(EmbeddedBroker.storeFailed(currentServer(broker)));

            await().atMost(Duration.ofSeconds(10)).until(() -> broker.restarts() == 1);
            try (MqttProbe after = new MqttProbe("127.0.0.1", port, "loom/t/#");
                    MqttProbe publisher = new MqttProbe("127.0.0.1", port, null)) {
                publisher.publish("loom/t/2", "two".getBytes(StandardCharsets.UTF_8));
                await().atMost(Duration.ofSeconds(10)).until(() -> after.messages().size() == 1);
                assertEquals("loom/t/2", after.messages().get(0).topic());
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
