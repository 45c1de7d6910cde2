package dev.loomdb.edge.embedded;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loomdb.edge.it.Infra;
import dev.loomdb.edge.it.MqttProbe;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * The node's own embedded broker: what it acknowledged is in its log before the acknowledgement, persistent
 * sessions and retained messages outlive a restart, and the queue of a client that stays away is bounded.
 * A kill -9 of a node hosting it is in {@code EmbeddedBrokerCrashIT}.
 */
class LoomBrokerTest {

    private static LoomBroker start(Path dataDir, int port, Duration sessionExpiry, int maxQueued) {
        return start(dataDir, port, sessionExpiry, new QueueLimit(maxQueued, 64L << 20), BrokerSecurity.OPEN);
    }

    private static LoomBroker start(
            Path dataDir, int port, Duration sessionExpiry, QueueLimit limit, BrokerSecurity security) {
        return LoomBroker.start(
                "127.0.0.1",
                port,
                dataDir,
                1024 * 1024,
                Duration.ofHours(1), // never forced to disk while the test runs: what is in the file was written
                sessionExpiry,
                limit,
                security);
    }

    private static byte[] text(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void everyMessageItAcknowledgedIsInItsLogAtThatMomentAndReachesTheClientThatWasAway() throws Exception {
        Path dataDir = Files.createTempDirectory("loom-broker");
        Path atTheKill = Files.createTempDirectory("loom-broker-killed");
        int port = Infra.freePort();
        try (LoomBroker broker = start(dataDir, port, Duration.ofDays(7), 100_000);
                MqttProbe publisher = new MqttProbe("127.0.0.1", port, null)) {
            new MqttProbe("127.0.0.1", port, "loom/t/#", "peer-away", false).close(); // subscribed, then away
            for (int i = 0; i < 300; i++) {
                publisher.publish("loom/t/" + i, text("m" + i)); // returns on the PUBACK
            }
            // the file as a kill -9 right after the last PUBACK leaves it: no close, no later write
            Files.copy(dataDir.resolve(BrokerLog.FILE), atTheKill.resolve(BrokerLog.FILE));
        }
        try (LoomBroker again = start(atTheKill, port, Duration.ofDays(7), 100_000);
                MqttProbe peer = new MqttProbe("127.0.0.1", port, null, "peer-away", false)) {
            assertTrue(peer.sessionPresent(), "the persistent session outlived the broker");
            await("the 300 messages queued for the peer")
                    .atMost(Duration.ofSeconds(20))
                    .until(() -> peer.distinctMessages().size() == 300);
            assertEquals(
                    IntStream.range(0, 300).mapToObj(i -> "m" + i).toList(),
                    peer.distinctMessages().stream()
                            .map(MqttProbe.Message::text)
                            .toList(),
                    "in the order published");
            await("the acknowledgements reach the log")
                    .atMost(Duration.ofSeconds(10))
                    .until(() -> again.queued("peer-away") == 0);
        }
    }

    @Test
    void subscriptionsAndRetainedMessagesOutliveARestartAndAcknowledgedMessagesAreNotSentAgain() throws Exception {
        Path dataDir = Files.createTempDirectory("loom-broker");
        int port = Infra.freePort();
        try (LoomBroker broker = start(dataDir, port, Duration.ofDays(7), 100_000);
                MqttProbe publisher = new MqttProbe("127.0.0.1", port, null);
                MqttProbe peer = new MqttProbe("127.0.0.1", port, "loom/t/#", "peer-p", false)) {
            publisher.publish("loom/t/before", text("before"));
            await().atMost(Duration.ofSeconds(10)).until(() -> peer.messages().size() == 1);
            await("the peer's acknowledgement")
                    .atMost(Duration.ofSeconds(10))
                    .until(() -> broker.queued("peer-p") == 0);
        }
        try (LoomBroker broker = start(dataDir, port, Duration.ofDays(7), 100_000);
                MqttProbe peer = new MqttProbe("127.0.0.1", port, null, "peer-p", false);
                MqttProbe publisher = new MqttProbe("127.0.0.1", port, null)) {
            assertTrue(peer.sessionPresent());
            publisher.publish("loom/t/after", text("after"));
            // sent because the subscription was kept (this connection did not subscribe); "before" was acknowledged
            await().atMost(Duration.ofSeconds(10)).until(() -> !peer.messages().isEmpty());
            assertEquals(
                    List.of("after"),
                    peer.messages().stream().map(MqttProbe.Message::text).toList());

            publisher.publishRetained("loom/nodes/a", text("online"));
        }
        try (LoomBroker broker = start(dataDir, port, Duration.ofDays(7), 100_000);
                MqttProbe late = new MqttProbe("127.0.0.1", port, "loom/nodes/+")) {
            await("the retained message, kept across the restart")
                    .atMost(Duration.ofSeconds(10))
                    .until(() -> late.messages().stream().anyMatch(m -> m.text().equals("online")));
        }
    }

    @Test
    void theQueueOfAClientThatStaysAwayKeepsItsNewestMessagesUpToTheLimit() throws Exception {
        Path dataDir = Files.createTempDirectory("loom-broker");
        int port = Infra.freePort();
        try (LoomBroker broker = start(dataDir, port, Duration.ofDays(7), 50);
                MqttProbe publisher = new MqttProbe("127.0.0.1", port, null)) {
            new MqttProbe("127.0.0.1", port, "loom/t/#", "peer-slow", false).close();
            for (int i = 0; i < 80; i++) {
                publisher.publish("loom/t/x", text("m" + i));
            }
            assertEquals(50, broker.queued("peer-slow"));
            assertEquals(30, broker.dropped());
            // what the node's status shows of its broker (refreshed every second)
            await().atMost(Duration.ofSeconds(5)).until(() -> broker.stats().dropped() == 30);
            BrokerStats stats = broker.stats();
            assertEquals(50, stats.queuedMessages());
            assertEquals(50 * 3, stats.queuedBytes(), "m30..m79: 50 payloads of 3 bytes");
            assertEquals(1, stats.connected(), "the publisher");
            assertEquals(2, stats.sessions(), "the publisher's and the away client's");
            assertEquals(1, stats.busiest().size());
            BrokerStats.Session away = stats.busiest().get(0);
            assertEquals("peer-slow", away.clientId());
            assertFalse(away.connected());
            assertEquals(50, away.queued());
            assertTrue(stats.logBytes() > 50 * 3, "the queued messages are in the log");
            try (MqttProbe peer = new MqttProbe("127.0.0.1", port, null, "peer-slow", false)) {
                await().atMost(Duration.ofSeconds(10))
                        .until(() -> peer.messages().size() == 50);
                assertEquals(
                        IntStream.range(30, 80).mapToObj(i -> "m" + i).toList(),
                        peer.messages().stream().map(MqttProbe.Message::text).toList());
                await().atMost(Duration.ofSeconds(5))
                        .until(() -> broker.stats().queuedMessages() == 0
                                && broker.stats().busiest().isEmpty());
            }
        }
    }

    @Test
    void theQueueOfAClientThatStaysAwayKeepsItsNewestBytesUpToTheLimit() throws Exception {
        Path dataDir = Files.createTempDirectory("loom-broker");
        int port = Infra.freePort();
        try (LoomBroker broker =
                        start(dataDir, port, Duration.ofDays(7), new QueueLimit(100_000, 10_000), BrokerSecurity.OPEN);
                MqttProbe publisher = new MqttProbe("127.0.0.1", port, null)) {
            new MqttProbe("127.0.0.1", port, "loom/t/#", "peer-far", false).close();
            for (int i = 0; i < 30; i++) {
                byte[] kilobyte = new byte[1000];
                kilobyte[0] = (byte) i;
                publisher.publish("loom/t/x", kilobyte);
            }
            assertEquals(10, broker.queued("peer-far"), "10 messages of 1,000 bytes fill 10,000 bytes");
            assertEquals(20, broker.dropped());
            try (MqttProbe peer = new MqttProbe("127.0.0.1", port, null, "peer-far", false)) {
                await().atMost(Duration.ofSeconds(10))
                        .until(() -> peer.messages().size() == 10);
                assertEquals(
                        IntStream.range(20, 30).boxed().toList(),
                        peer.messages().stream().map(m -> (int) m.payload()[0]).toList(),
                        "the newest kept");
            }
        }
    }

    @Test
    void theSessionOfAClientAwayLongerThanTheExpiryIsDropped() throws Exception {
        Path dataDir = Files.createTempDirectory("loom-broker");
        int port = Infra.freePort();
        try (LoomBroker broker = start(dataDir, port, Duration.ofSeconds(2), 100_000)) {
            new MqttProbe("127.0.0.1", port, "loom/t/#", "peer-gone", false).close();
            assertTrue(broker.hasSession("peer-gone"));
            await("the expiry (2 s) and a cleaning round (1 s)")
                    .atMost(Duration.ofSeconds(8))
                    .until(() -> !broker.hasSession("peer-gone"));
        }
        try (LoomBroker broker = start(dataDir, port, Duration.ofSeconds(2), 100_000)) {
            assertFalse(broker.hasSession("peer-gone"), "dropped in the log too");
        }
    }

    @Test
    void withUsersAClientWithoutAPasswordIsRefused() throws Exception {
        Path dataDir = Files.createTempDirectory("loom-broker");
        int port = Infra.freePort();
        try (LoomBroker broker = start(
                dataDir,
                port,
                Duration.ofDays(7),
                new QueueLimit(100, 64L << 20),
                new BrokerSecurity(java.util.Optional.empty(), "", Map.of("hub", "secret")))) {
            assertThrows(Exception.class, () -> new MqttProbe("127.0.0.1", port, null).close());
        }
    }
}
