package dev.loomdb.edge.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * How a node process starts and stops: a taken port stops it at once; a node started on nothing makes
 * its own PostgreSQL, is ready and stops on SIGTERM within seconds.
 */
class NodeStartIT {

    private final Path root = Infra.workDir("start");

    @Test
    void aTakenBrokerPortStopsTheNodeAtStartNamingTheSetting() throws Exception {
        try (ServerSocket taken = new ServerSocket(0)) {
            NodeProcess blocked = NodeProcess.create(
                    root, "blocked-" + Infra.suffix(), "blocked", "127.0.0.1", taken.getLocalPort(), true);
            try {
                blocked.start();
                assertTrue(blocked.process().waitFor(60, TimeUnit.SECONDS), "the node must stop by itself");
                assertNotEquals(0, blocked.process().exitValue());
                assertTrue(blocked.log().contains("loom.embedded.broker.port"), blocked.logTail());
                assertFalse(listening(blocked.httpPort()), "the HTTP server must not be up");
            } finally {
                blocked.close();
            }
        }
    }

    @Test
    void gracefulStopExitsWithinSeconds() throws Exception {
        NodeProcess other = NodeProcess.create(
                root, "g-" + Infra.suffix(), "graceful", Infra.brokerHost(), Infra.brokerPort(), !Infra.external());
        try {
            other.initdbOnFirstStart().start().awaitReady();
            if (!Infra.external()) {
                assertTrue(
                        other.log().contains("initdb completed"),
                        "the node made its own PostgreSQL: " + other.logTail());
            }
            long started = System.nanoTime();
            other.stop();
            Duration took = Duration.ofNanos(System.nanoTime() - started);
            assertTrue(took.compareTo(Duration.ofSeconds(10)) < 0, "stopping took " + took);
            assertTrue(other.log().contains("stopped"), other.logTail());
            await().atMost(Duration.ofSeconds(5)).until(() -> !listening(other.httpPort()));
        } finally {
            other.close();
        }
    }

    private static boolean listening(int port) {
        try (Socket ignored = new Socket("127.0.0.1", port)) {
            return true;
        } catch (Exception e) {
            return false;
        }
    }
}
