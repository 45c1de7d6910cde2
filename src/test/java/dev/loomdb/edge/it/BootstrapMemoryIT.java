package dev.loomdb.edge.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.restassured.path.json.JsonPath;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A late joiner with a small device's heap takes a graph whose rows would not all fit in it: a
 * bootstrap holds a page or two at a time, whatever the size of the graph.
 */
class BootstrapMemoryIT {

    private static final int NODES = 120_000;
    private static final int EDGES = 10_000;

    @RegisterExtension
    final Mesh mesh = Mesh.named("bootmem").nodes("a");

    @Test
    void aJoinerWithASmallHeapTakesAGraphLargerThanItsHeap() throws Exception {
        NodeProcess a = mesh.node("a");
        try (Connection sql = a.sql();
                Statement statement = sql.createStatement()) {
            // about 1 KB of heap a row while a page is read and applied: the 120,000 nodes would need about 115 MB at
            // once
            statement.execute("INSERT INTO loom.nodes (id, type, properties) SELECT 'm' || g, 'T' || (g % 10),"
                    + " jsonb_build_object('name', 'node number ' || g, 'w', g % 97, 'tags', jsonb_build_array('a', 'b'))"
                    + " FROM generate_series(1, " + NODES + ") g");
            statement.execute("INSERT INTO loom.edges (id, type, source_id, target_id, properties) SELECT 'me' || g,"
                    + " 'L' || (g % 5), 'm' || (g % " + NODES + " + 1), 'm' || ((g * 7) % " + NODES + " + 1),"
                    + " jsonb_build_object('weight', g % 13) FROM generate_series(1, " + EDGES + ") g");
        }

        // the small-board profile's heap (edge-configs/small-board.properties, docs/operations.md)
        NodeProcess c = mesh.join("c", "-Xmx96m", "-XX:+UseSerialGC");
        await("c's bootstrap completed")
                .atMost(Duration.ofSeconds(180))
                .pollInterval(Duration.ofMillis(500))
                .ignoreExceptions()
                .until(() -> {
                    c.requireAlive();
                    return "completed"
                            .equals(c.api().get("/api/sync/status").jsonPath().getString("stateSync.bootstrap.state"));
                });
        assertFalse(c.log().contains("OutOfMemoryError"), c.logTail());
        JsonPath status = c.api().get("/api/sync/status").jsonPath();
        assertEquals(NODES + EDGES, status.getLong("stateSync.bootstrap.rows"), "every row came by bootstrap");
        JsonPath mine = c.api().get("/api/sync/digest").jsonPath();
        JsonPath theirs = a.api().get("/api/sync/digest").jsonPath();
        assertEquals(NODES, mine.getLong("nodes"));
        assertEquals(theirs.getString("sha256"), mine.getString("sha256"), "the joiner holds the same graph");
    }
}
