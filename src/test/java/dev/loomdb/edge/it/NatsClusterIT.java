package dev.loomdb.edge.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A mesh on a three-server NATS cluster (JetStream replicas 3, each server's MQTT gateway): nodes on
 * different servers sync, and one server killed with SIGKILL in the middle of a stream of thousands of
 * changes each way loses nothing — the node on it moves to the next server and its persistent session
 * (kept by the cluster) follows it. Anti-entropy is off, so that the broker path alone must bring every
 * change. Needs nats-server; not part of the default suite (.ci/run runs it with the NATS tests:
 * {@code mvn verify -Dloom.it.infra=external -Dit.test=NatsClusterIT}).
 */
class NatsClusterIT {

    private static final int CHANGES = 3000;
    private static final Duration SYNC = Duration.ofMinutes(2);

    private final Path root = Infra.workDir("nats-cluster");
    private final String mesh = "natscluster-" + Infra.suffix();
    private final List<AutoCloseable> started = new ArrayList<>();

    @AfterEach
    void stop() throws Exception {
        for (int i = started.size() - 1; i >= 0; i--) {
            started.get(i).close();
        }
    }

    private NodeProcess node(String name, String servers) {
        NodeProcess node = NodeProcess.create(root, name + "-" + Infra.suffix(), mesh, "127.0.0.1", 1, false)
                .with("loom.mqtt.servers", servers)
                .with("loom.sync.anti-entropy.interval", "0");
        started.add(node);
        return node.start().awaitReady();
    }

    @Test
    void aServerKilledMidStreamLosesNothing() throws Exception {
        NatsCluster cluster = new NatsCluster(root.resolve("cluster"));
        started.add(cluster.start());
        NodeProcess a = node("a", cluster.servers(0));
        NodeProcess b = node("b", cluster.servers(1));
        assertEquals("127.0.0.1:" + cluster.mqttPort(0), broker(a));
        assertEquals("127.0.0.1:" + cluster.mqttPort(1), broker(b));

        CompletableFuture<Void> fromA = CompletableFuture.runAsync(() -> write(a, "a"));
        CompletableFuture<Void> fromB = CompletableFuture.runAsync(() -> write(b, "b"));
        await("a third of the stream through").atMost(SYNC).until(() -> count(b, "a") >= CHANGES / 3);
        cluster.kill(0); // a's server, mid-stream
        fromA.get(3, TimeUnit.MINUTES);
        fromB.get(3, TimeUnit.MINUTES);

        try {
            await("every change on both nodes")
                    .atMost(SYNC)
                    .pollInterval(Duration.ofMillis(500))
                    .until(() -> count(b, "a") == CHANGES && count(a, "b") == CHANGES);
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            throw new AssertionError(
                    "b has " + count(b, "a") + " of a's " + CHANGES + ", a has " + count(a, "b") + " of b's; a's log:\n"
                            + a.logTail() + "\n" + cluster.logs(),
                    e);
        }
        assertNotEquals("127.0.0.1:" + cluster.mqttPort(0), broker(a), "a moved off the killed server");
        await("identical graphs").atMost(SYNC).until(() -> digest(a).equals(digest(b)));
    }

    /** CHANGES transactions on the node's own database, each an insert then an update of the same row. */
    private static void write(NodeProcess node, String prefix) {
        try (Connection sql = node.sql();
                PreparedStatement insert = sql.prepareStatement(
                        "INSERT INTO loom.nodes (id, type, properties) VALUES (?, 'Stream', '{\"n\": 0}')");
                PreparedStatement update =
                        sql.prepareStatement("UPDATE loom.nodes SET properties = '{\"n\": 1}' WHERE id = ?")) {
            for (int i = 0; i < CHANGES; i++) {
                insert.setString(1, prefix + "-" + i);
                insert.execute();
                if (i % 10 == 0) {
                    update.setString(1, prefix + "-" + (i / 2));
                    update.execute();
                }
                if (i % 100 == 99) {
                    Thread.sleep(100); // about 1,000 changes a second: the stream lasts past the kill
                }
            }
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static long count(NodeProcess node, String prefix) throws Exception {
        try (Connection sql = node.sql();
                Statement s = sql.createStatement();
                ResultSet rs = s.executeQuery("SELECT count(*) FROM loom.nodes WHERE type = 'Stream' AND id LIKE '"
                        + prefix + "-%' AND NOT tombstone")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static String broker(NodeProcess node) {
        return node.api().get("/api/sync/status").jsonPath().getString("broker");
    }

    private static String digest(NodeProcess node) {
        return node.api().get("/api/sync/digest").jsonPath().getString("sha256");
    }
}
