package dev.loomdb.edge.it;

import static org.awaitility.Awaitility.await;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Nothing is lost when the writing node is killed without a shutdown, or when the broker restarts,
 * in the middle of a stream of thousands of writes.
 */
class CrashSafetyIT {

    private static final int TRANSACTIONS = 400;
    private static final int ROWS_PER_TRANSACTION = 10;
    private static final int ROWS = TRANSACTIONS * ROWS_PER_TRANSACTION;

    @RegisterExtension
    final Mesh mesh = Mesh.named("crash").nodes("a", "b").standaloneBroker().unstarted();

    private StandaloneBroker broker;
    private NodeProcess a;
    private NodeProcess b;
    private String prefix;

    @BeforeEach
    void nodes() {
        broker = mesh.broker();
        a = mesh.node("a");
        b = mesh.node("b");
        prefix = "w-" + mesh.name() + "-";
    }

    /** Writes ROWS nodes by plain SQL on A, in transactions of ROWS_PER_TRANSACTION; counts committed transactions. */
    private CompletableFuture<Void> writeStream(AtomicInteger committed) {
        return CompletableFuture.runAsync(() -> {
            try (Connection sql = a.sql()) {
                sql.setAutoCommit(false);
                try (PreparedStatement insert = sql.prepareStatement(
                        "INSERT INTO loom.nodes (id, type, properties) VALUES (?, 'FACT', jsonb_build_object('n', ?::int))")) {
                    for (int t = 0; t < TRANSACTIONS; t++) {
                        for (int r = 0; r < ROWS_PER_TRANSACTION; r++) {
                            int n = t * ROWS_PER_TRANSACTION + r;
                            insert.setString(1, prefix + n);
                            insert.setInt(2, n);
                            insert.addBatch();
                        }
                        insert.executeBatch();
                        sql.commit();
                        committed.incrementAndGet();
                    }
                }
            } catch (Exception e) {
                throw new IllegalStateException("the writer failed", e);
            }
        });
    }

    private long countOnB() throws Exception {
        try (Connection sql = b.sql();
                Statement s = sql.createStatement();
                ResultSet rs =
                        s.executeQuery("SELECT count(*), coalesce(sum((properties->>'n')::bigint), 0) FROM loom.nodes"
                                + " WHERE id LIKE '" + prefix + "%' AND NOT tombstone")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private void assertBHasEveryRow() throws Exception {
        await().atMost(Duration.ofSeconds(120))
                .pollInterval(Duration.ofMillis(500))
                .untilAsserted(() -> assertEquals(ROWS, countOnB(), "rows on B"));
        try (Connection sql = b.sql();
                Statement s = sql.createStatement();
                ResultSet rs = s.executeQuery(
                        "SELECT sum((properties->>'n')::bigint) FROM loom.nodes WHERE id LIKE '" + prefix + "%'")) {
            rs.next();
            assertEquals((long) ROWS * (ROWS - 1) / 2, rs.getLong(1), "every row arrives with its own properties");
        }
    }

    @Test
    void writerNodeKilledMidStreamLosesNothing() throws Exception {
        mesh.startAll();
        AtomicInteger committed = new AtomicInteger();
        CompletableFuture<Void> writer = writeStream(committed);
        await().atMost(Duration.ofSeconds(60)).until(() -> committed.get() >= TRANSACTIONS / 4);
        a.kill(); // SIGKILL: no shutdown, in-flight publications and unconfirmed slot positions are cut off
        writer.get(120, TimeUnit.SECONDS); // the database keeps taking writes while the node is down
        assertEquals(TRANSACTIONS, committed.get());
        a.start().awaitReady();
        assertBHasEveryRow();
    }

    @Test
    void brokerRestartedMidStreamLosesNothing() throws Exception {
        mesh.startAll();
        AtomicInteger committed = new AtomicInteger();
        CompletableFuture<Void> writer = writeStream(committed);
        await().atMost(Duration.ofSeconds(60)).until(() -> committed.get() >= TRANSACTIONS / 4);
        broker.stop();
        await().atMost(Duration.ofSeconds(30)).until(() -> committed.get() >= TRANSACTIONS / 2);
        await().atMost(Duration.ofSeconds(15))
                .untilAsserted(() -> b.api()
                        .get("/q/health/ready")
                        .then()
                        .statusCode(503)
                        .body("checks.find { it.name == 'loom-sync' }.data.brokerConnected", equalTo(false)));
        broker.start();
        await().atMost(Duration.ofSeconds(30))
                .untilAsserted(() -> b.api().get("/q/health/ready").then().statusCode(200));
        writer.get(120, TimeUnit.SECONDS);
        assertBHasEveryRow();
    }

    /** When the transaction waiting to be handed on was read, as PostgreSQL records A's last standby status. */
    private java.time.OffsetDateTime replyTimeOfA() throws Exception {
        try (Connection sql = a.sql();
                Statement s = sql.createStatement();
                ResultSet rs = s.executeQuery("SELECT r.reply_time FROM pg_stat_replication r JOIN pg_replication_slots"
                        + " l ON l.active_pid = r.pid WHERE l.slot_name = '" + a.slot() + "'")) {
            return rs.next() ? rs.getObject(1, java.time.OffsetDateTime.class) : null;
        }
    }

    @Test
    void whileTheBrokerIsDownChangesWaitInTheSlotAndCaptureKeepsReportingToPostgres() throws Exception {
        a.with("loom.capture.handoff-capacity", "2")
                .with("loom.mqtt.max-inflight", "1")
                .with("loom.debounce", "0")
                .with("loom.capture.wal-warning-bytes", "65536");
        mesh.startAll();
        broker.stop();
        try (Connection sql = a.sql();
                Statement s = sql.createStatement()) {
            for (int t = 0; t < 40; t++) { // 40 transactions: one in flight, two handed over, the rest in the slot
                s.execute("INSERT INTO loom.nodes (id, type, properties) SELECT '" + prefix + "' || (" + t
                        + " * 100 + g), 'FACT', jsonb_build_object('n', " + t + " * 100 + g, 'pad', repeat('x', 200))"
                        + " FROM generate_series(0, 99) g");
            }
        }
        await("capture waits, the hand-off full")
                .atMost(Duration.ofSeconds(30))
                .until(() -> a.api().get("/api/sync/status").jsonPath().getInt("pending") >= 3);
        java.time.OffsetDateTime first = replyTimeOfA();
        await("standby status still reaches PostgreSQL while capture waits")
                .atMost(Duration.ofSeconds(15))
                .until(() -> {
                    java.time.OffsetDateTime now = replyTimeOfA();
                    return first != null && now != null && now.isAfter(first.plusSeconds(2));
                });
        await("the retained WAL is named, with the setting that bounds it")
                .atMost(Duration.ofSeconds(15))
                .until(() -> a.log().contains("max_slot_wal_keep_size"));
        broker.start();
        await().atMost(Duration.ofSeconds(120))
                .pollInterval(Duration.ofMillis(500))
                .untilAsserted(() -> assertEquals(4000, countOnB(), "every row reaches B once the broker is back"));
    }

    @Test
    void gracefulStopSendsTheOpenDebounceWindow() throws Exception {
        a.with("loom.debounce", "30s"); // a window far longer than the test
        mesh.startAll();
        long captured = a.api().get("/api/sync/status").jsonPath().getLong("counters.captured");
        try (Connection sql = a.sql();
                Statement s = sql.createStatement()) {
            s.execute(
                    "INSERT INTO loom.nodes (id, type, properties) VALUES ('" + prefix + "last-words', 'FACT', '{}')");
        }
        await().atMost(Duration.ofSeconds(10))
                .until(() -> a.api().get("/api/sync/status").jsonPath().getLong("counters.captured") > captured);
        assertEquals(
                404,
                b.api().get("/api/nodes/" + prefix + "last-words").statusCode(),
                "the change is still waiting in the window");
        a.stop(); // SIGTERM: the open window is published before the node exits
        await().atMost(Duration.ofSeconds(20))
                .untilAsserted(() -> b.api()
                        .get("/api/nodes/" + prefix + "last-words")
                        .then()
                        .statusCode(200));
    }
}
