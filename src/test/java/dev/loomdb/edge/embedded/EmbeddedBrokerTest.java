package dev.loomdb.edge.embedded;

import static org.awaitility.Awaitility.await;

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
        try (EmbeddedBroker broker =
                        EmbeddedBroker.start("127.0.0.1", port, dataDir, 1024 * 1024, Duration.ofSeconds(30));
                MqttProbe peer = new MqttProbe("127.0.0.1", port, "loom/t/#", "peer-p", false)) {
            MVStore store = EmbeddedBroker.store(broker.server());
            store.commit(); // the periodic save, taken while the persistent peer is connected
            store.closeImmediately(); // then the store fails, as a failed save leaves it

            // Restarting needs the repair: Moquette does not start from a save holding a connected persistent session.
            await().atMost(Duration.ofSeconds(10)).until(() -> broker.restarts() == 1);
            new MqttProbe("127.0.0.1", port, "loom/t/#", "peer-q", false).close(); // it accepts and subscribes again
        }
    }
}
