package dev.loomdb.edge.embedded;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loomdb.edge.it.Infra;
import dev.loomdb.edge.it.MqttProbe;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.h2.mvstore.MVStore;
import org.junit.jupiter.api.Test;

/**
 * The watchdog: when Moquette's H2 session store fails (it can under load), the broker is restarted
 * from its last save, which holds a persistent session that was connected at the time. Delivery
 * across such a restart is checked with real node processes in {@code EmbeddedBrokerCrashIT}.
 */
class EmbeddedBrokerTest {

    @Test
    void aFailedSessionStoreRestartsTheBrokerFromASaveWithAConnectedPersistentSession() throws Exception {
        Path dataDir = Files.createTempDirectory("loom-broker");
        int port = Infra.freePort();
        try (EmbeddedBroker broker = EmbeddedBroker.start(
                        "127.0.0.1", port, dataDir, 1024 * 1024, Duration.ofSeconds(30), Duration.ofDays(7));
                MqttProbe peer = new MqttProbe("127.0.0.1", port, "loom/t/#", "peer-p", false)) {
            MVStore store = EmbeddedBroker.store(broker.server());
            store.commit(); // the periodic save, taken while the persistent peer is connected
            store.closeImmediately(); // then the store fails, as a failed save leaves it

            // Restarting needs the repair: Moquette does not start from a save holding a connected persistent session.
            await().atMost(Duration.ofSeconds(10)).until(() -> broker.restarts() == 1);
            new MqttProbe("127.0.0.1", port, "loom/t/#", "peer-q", false).close(); // it accepts and subscribes again
        }
    }

    @Test
    void theSessionAndQueueOfAClientThatStaysAwayAreDroppedAfterTheSessionExpiry() throws Exception {
        Path dataDir = Files.createTempDirectory("loom-broker");
        int port = Infra.freePort();
        try (EmbeddedBroker broker = EmbeddedBroker.start(
                        "127.0.0.1", port, dataDir, 1024 * 1024, Duration.ofSeconds(30), Duration.ofSeconds(2));
                MqttProbe publisher = new MqttProbe("127.0.0.1", port, null)) {
            new MqttProbe("127.0.0.1", port, "loom/t/#", "peer-away", false).close(); // subscribed, then away
            for (int i = 0; i < 5; i++) {
                publisher.publish("loom/t/x", ("m" + i).getBytes(java.nio.charset.StandardCharsets.UTF_8));
            }
            try (MqttProbe soon = new MqttProbe("127.0.0.1", port, null, "peer-away", false)) {
                assertTrue(soon.sessionPresent(), "within the expiry the broker keeps the session");
                await().atMost(Duration.ofSeconds(10))
                        .until(() -> soon.messages().size() == 5);
            }
            publisher.publish("loom/t/x", "late".getBytes(java.nio.charset.StandardCharsets.UTF_8));
            // the subject is time itself: the client stays away longer than the expiry (2 s) and the
            // broker's cleaning round (1 s)
            long away = System.nanoTime();
            await().atMost(Duration.ofSeconds(6))
                    .until(() ->
                            System.nanoTime() - away > Duration.ofMillis(3500).toNanos());
            try (MqttProbe back = new MqttProbe("127.0.0.1", port, null, "peer-away", false)) {
                assertFalse(back.sessionPresent(), "the session expired: the client is told so at connection");
                await().during(Duration.ofSeconds(1))
                        .atMost(Duration.ofSeconds(3))
                        .until(() -> back.messages().isEmpty());
            }
        }
    }

    @Test
    void aSessionExpiryTheBrokerCannotCountIsRefusedNamingTheSetting() {
        EmbeddedStartException e = assertThrows(
                EmbeddedStartException.class,
                () -> EmbeddedBroker.start(
                        "127.0.0.1",
                        Infra.freePort(),
                        Files.createTempDirectory("loom-broker"),
                        1024,
                        Duration.ofSeconds(30),
                        Duration.ofDays(30)));
        assertTrue(
                e.getMessage().contains("loom.embedded.broker.session-expiry is 2592000 s")
                        && e.getMessage().contains("24d"),
                e.getMessage());
    }
}
