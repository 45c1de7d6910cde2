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
 * with messages queued for it. With the node's own broker (the default) the peer gets everything the
 * broker acknowledged, with no repair at the next start. With Moquette ({@code
 * loom.embedded.broker.engine=moquette}) the peer gets what was queued before the broker's last save,
 * and the node publishes its own changes since then again (Moquette alone does not start from such a
 * save at all).
 */
class EmbeddedBrokerCrashIT {

    @RegisterExtension
    final Mesh own = Mesh.named("own-broker-kill")
            .nodes("hub", "peer")
            .hostedBroker()
            .unstarted()
            .with("loom.sync.anti-entropy.interval", "0")
            .with("loom.sync.bootstrap", "false");

    @Test
    void everythingTheKilledNodesBrokerAcknowledgedReachesThoseAwayWithNoRepair() throws Exception {
        NodeProcess hub = own.node("hub");
        NodeProcess peer = own.node("peer");
        hub.start().awaitReady();
        peer.start().awaitReady();
        peer.stop(); // offline: the broker queues the hub's changes for it
        int port = own.brokerPort();
        String awayId = "away-" + own.name();
        new MqttProbe("127.0.0.1", port, "loom/t/#", awayId, false).close(); // an MQTT client away too
        try (MqttProbe publisher = new MqttProbe("127.0.0.1", port, null)) {
            for (int i = 0; i < 200; i++) {
                publisher.publish("loom/t/" + i, ("m" + i).getBytes(StandardCharsets.UTF_8)); // returns on the PUBACK
            }
        }
        for (int i = 0; i < 50; i++) {
            hub.api().body("{\"type\":\"T\"}").put("/api/nodes/n" + i).then().statusCode(201);
        }
        await("the broker acknowledged the hub's changes")
                .atMost(Duration.ofSeconds(20))
                .until(() -> hub.api().get("/api/sync/status").jsonPath().getInt("pending") == 0);

        hub.kill(); // right after the last acknowledgement
        hub.start().awaitReady();
        assertFalse(hub.log().contains("published again"), "no repair: " + hub.logTail());
        await("the hub's status shows what its broker holds for the clients away")
                .atMost(Duration.ofSeconds(10))
                .until(() -> {
                    io.restassured.path.json.JsonPath status =
                            hub.api().get("/api/sync/status").jsonPath();
                    return status.getInt("embeddedBroker.queuedMessages") > 200
                            && awayId.equals(status.getString("embeddedBroker.busiest[0].clientId"))
                            && status.getInt("embeddedBroker.busiest[0].queued") == 200
                            && !status.getBoolean("embeddedBroker.busiest[0].connected");
                });

        peer.start().awaitReady();
        await("the peer has the hub's 50 changes (anti-entropy and bootstrap are off here)")
                .atMost(Duration.ofSeconds(30))
                .until(() -> peer.api()
                                .get("/api/nodes?type=T&limit=100")
                                .jsonPath()
                                .getList("items")
                                .size()
                        == 50);
        try (MqttProbe away = new MqttProbe("127.0.0.1", port, null, awayId, false)) {
            assertTrue(away.sessionPresent(), "the session outlived the kill");
            await("the 200 messages queued for the client away")
                    .atMost(Duration.ofSeconds(20))
                    .until(() -> away.distinctMessages().size() == 200);
        }
    }

    @RegisterExtension
    final Mesh mesh = Mesh.named("broker-crash")
            .nodes("hub")
            .hostedBroker()
            .unstarted()
            .with("loom.embedded.broker.engine", "moquette")
            .with("loom.embedded.broker.autosave-interval", "1s");

    @Test
    void moquetteKilledStartsAgainAndDeliversWhatItQueuedForAnOfflinePeer() throws Exception {
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

    @RegisterExtension
    final Mesh withPeer = Mesh.named("broker-loss")
            .nodes("hub", "peer")
            .hostedBroker()
            .unstarted()
            .with("loom.embedded.broker.engine", "moquette")
            .with("hub", "loom.embedded.broker.autosave-interval", "1h")
            .with("loom.sync.anti-entropy.interval", "0")
            .with("loom.sync.bootstrap", "false");

    @Test
    void whatKilledMoquetteAcknowledgedAfterItsLastSaveIsPublishedAgainByItsNode() throws Exception {
        NodeProcess hub = withPeer.node("hub");
        NodeProcess peer = withPeer.node("peer");
        hub.start().awaitReady();
        peer.start().awaitReady();
        peer.stop(); // offline: the broker queues the hub's changes for it
        hub.stop(); // a clean stop saves the broker's sessions, the peer's among them
        hub.start().awaitReady();
        hub.api()
                .body("{\"type\":\"T\"}")
                .put("/api/nodes/after-the-save")
                .then()
                .statusCode(201);
        await("the broker acknowledged the change")
                .atMost(Duration.ofSeconds(20))
                .until(() -> hub.api().get("/api/sync/status").jsonPath().getInt("pending") == 0);

        hub.kill(); // the broker saves every hour here: the change queued for the peer was never saved
        hub.start().awaitReady();
        assertTrue(hub.log().contains("did not stop cleanly last time"), hub.logTail());
        await("the hub published its change again")
                .atMost(Duration.ofSeconds(30))
                .until(() -> hub.log().contains("The embedded broker stopped uncleanly: published again"));
        peer.start().awaitReady();
        await("the peer has the change (anti-entropy is off here)")
                .atMost(Duration.ofSeconds(30))
                .until(() -> peer.api().get("/api/nodes/after-the-save").statusCode() == 200);
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
