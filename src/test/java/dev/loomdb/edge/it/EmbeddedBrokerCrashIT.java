package dev.loomdb.edge.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A node that hosts the mesh's broker is killed (SIGKILL: no clean stop) while a peer is offline
 * with messages queued for it: the node starts again, and the peer gets what was queued before the
 * broker's last save. Moquette alone does not start from such a save at all.
 */
class EmbeddedBrokerCrashIT {

    @RegisterExtension
    final Mesh mesh = Mesh.named("broker-crash")
            .nodes("hub")
            .hostedBroker()
            .unstarted()
            .with("loom.embedded.broker.autosave-interval", "1s");

    @Test
    void aKilledBrokerNodeStartsAgainAndDeliversWhatItQueuedForAnOfflinePeer() throws Exception {
        NodeProcess hub = mesh.node("hub");
        int port = mesh.brokerPort();
        hub.start().awaitReady();
        String peerId = "peer-" + mesh.name();
        new MqttProbe("127.0.0.1", port, "loom/t/#", peerId, false).close(); // subscribed, then offline
        Path store = hub.workDir().resolve("loom-data/broker/moquette_store.h2");
        try (MqttProbe publisher = new MqttProbe("127.0.0.1", port, null)) {
            publishAndAwaitSave(publisher, store, "loom/t/queued"); // the peer is offline: this one is queued
        }

        hub.kill();
        hub.start().awaitReady();

        try (MqttProbe peer = new MqttProbe("127.0.0.1", port, "loom/t/#", peerId, false)) {
            await("the message queued before the kill")
                    .atMost(Duration.ofSeconds(20))
                    .until(() ->
                            peer.messages().stream().anyMatch(m -> m.topic().equals("loom/t/queued")));
        }
        assertTrue(hub.log().contains("saved sessions were made loadable again"), hub.logTail());
        assertFalse(
                hub.log().contains("MQTTMessageLogger"), "the broker does not log every MQTT packet: " + hub.logTail());
    }

    /**
     * Publishes a payload no other run uses and waits until the broker's store file holds it: the
     * store is not compressed, so its bytes there mean a save that includes the queued message.
     * (The file's modification time cannot tell: a save a few ms after the publish may or may not
     * hold it, and no later save comes while nothing changes.)
     */
    private void publishAndAwaitSave(MqttProbe publisher, Path store, String topic) throws Exception {
        byte[] payload = (topic + "-" + mesh.name()).getBytes(StandardCharsets.UTF_8);
        publisher.publish(topic, payload);
        await("a save of the broker's store holding " + topic)
                .atMost(Duration.ofSeconds(10))
                .pollInterval(Duration.ofMillis(100))
                .until(() -> Files.exists(store)
                        && new String(Files.readAllBytes(store), StandardCharsets.ISO_8859_1)
                                .contains(new String(payload, StandardCharsets.ISO_8859_1)));
    }
}
