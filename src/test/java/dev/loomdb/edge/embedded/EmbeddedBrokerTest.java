package dev.loomdb.edge.embedded;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

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

/**
 * The embedded broker survives the failure of its session store (Moquette's H2 queue can fail under
 * load) and starts again from a save taken while a persistent peer was connected.
 */
class EmbeddedBrokerTest {

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
            store(broker).closeImmediately(); // then the store fails (or the broker dies) without stopping cleanly

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
