package dev.loomdb.edge.apply;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loomdb.edge.flow.Change;
import dev.loomdb.edge.flow.Envelope;
import dev.loomdb.edge.history.ChangeHistory;
import dev.loomdb.edge.it.SchemaDatabase;
import dev.loomdb.edge.merge.MergeRule;
import io.vertx.core.Future;
import io.vertx.mutiny.core.Vertx;
import io.vertx.pgclient.PgConnectOptions;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A peer's state applied while another session writes the same row: a local insert of the same id
 * (newer or older than the peer's state) and a purge of the stored row, each held open until the apply
 * waits on it. Nothing is rejected, and the row ends as the merge rule decides. Real PostgreSQL.
 */
class ApplierRaceIT {

    private static SchemaDatabase database;
    private static Vertx vertx;
    private static Applier applier;

    @BeforeAll
    static void start() throws Exception {
        database = SchemaDatabase.create("applier_race");
        vertx = Vertx.vertx();
        ChangeHistory noHistory = new ChangeHistory(null, false, 0, 0, c -> "");
        applier = new Applier(
                vertx.getDelegate(),
                PgConnectOptions.fromUri(database.reactiveUrl()).setUser("postgres"),
                "loom_apply_race",
                MergeRule.lastWriteWins(),
                true,
                noHistory,
                false);
    }

    @AfterAll
    static void stop() throws Exception {
        if (applier != null) {
            applier.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        }
        if (vertx != null) {
            vertx.closeAndAwait();
        }
        if (database != null) {
            database.close();
        }
    }

    private static long hlcIn(Duration fromNow) {
        return (Instant.now().plus(fromNow).toEpochMilli()) << 16;
    }

    private static Envelope envelope(Change change) {
        return envelope(List.of(change));
    }

    private static Envelope envelope(List<Change> changes) {
        Instant at = Instant.now();
        return new Envelope(Envelope.FORMAT_VERSION, "m", "peer", 1, 1, "0/1", at, 1, changes, at);
    }

    private static Change peerState(String id, long hlc, boolean tombstone) {
        return peerState(Change.Op.UPDATE, id, hlc, tombstone);
    }

    /** A peer's insert: what its capture sends for a row it created. */
    private static Change peerInsert(String id, long hlc) {
        return peerState(Change.Op.INSERT, id, hlc, false);
    }

    private static Change peerState(Change.Op op, String id, long hlc, boolean tombstone) {
        return new Change(
                op,
                Change.Kind.NODE,
                id,
                "T",
                tombstone ? "{}" : "{\"by\":\"peer\"}",
                null,
                null,
                hlc,
                2,
                "peer",
                tombstone);
    }

    /**
     * Applies {@code state} while another session holds {@code statements} uncommitted: that session commits
     * once the apply session waits on it, and the apply's outcome is returned.
     */
    private static Applied applyWhileHeld(Change state, String... statements) throws Exception {
        return applyWhileHeld(applier::apply, state, statements);
    }

    /** As {@link #applyWhileHeld(Change, String...)}, applied by {@code how} (a live message's apply, or state sync's). */
    private static Applied applyWhileHeld(
            java.util.function.Function<Envelope, Future<Applied>> how, Change state, String... statements)
            throws Exception {
        try (Connection other = database.connect();
                Connection watcher = database.connect()) {
            other.setAutoCommit(false);
            try (Statement s = other.createStatement()) {
                for (String sql : statements) {
                    s.execute(sql);
                }
            }
            Future<Applied> applying = how.apply(envelope(state));
            await().atMost(Duration.ofSeconds(20)).until(() -> {
                try (Statement s = watcher.createStatement();
                        ResultSet rs = s.executeQuery("SELECT count(*) FROM pg_stat_activity WHERE datname ="
                                + " current_database() AND application_name = 'loom-apply'"
                                + " AND wait_event_type = 'Lock'")) {
                    rs.next();
                    return rs.getInt(1) == 1;
                }
            });
            other.commit();
            return result(applying);
        }
    }

    /** properties|origin|tombstone|applied of the stored row, or "absent". */
    private static String row(String id) throws Exception {
        try (Connection connection = database.connect();
                Statement s = connection.createStatement();
                ResultSet rs = s.executeQuery("SELECT properties::text, origin, tombstone, applied FROM loom.nodes"
                        + " WHERE id = '" + id + "'")) {
            return rs.next()
                    ? rs.getString(1) + "|" + rs.getString(2) + "|" + rs.getBoolean(3) + "|" + rs.getBoolean(4)
                    : "absent";
        }
    }

    private static <T> T result(Future<T> applying) throws Exception {
        return applying.toCompletionStage().toCompletableFuture().get(20, TimeUnit.SECONDS);
    }

    @Test
    void aRowInsertedLocallyWhileAPeersStateIsAppliedIsMergedNotRejected() throws Exception {
        // the peer's state is an hour later than the local insert: it wins the merge
        Applied applied = applyWhileHeld(
                peerState("raced", hlcIn(Duration.ofHours(1)), false),
                "INSERT INTO loom.nodes (id, type, properties) VALUES ('raced', 'T', '{\"by\":\"local\"}')");
        assertEquals(1, applied.effective().size(), "the peer's state took effect");
        assertEquals("{\"by\": \"peer\"}|peer|false|true", row("raced"));
    }

    @Test
    void aLocalInsertThatWinsKeepsTheRow() throws Exception {
        Applied applied = applyWhileHeld(
                peerState("kept", hlcIn(Duration.ofHours(-1)), false),
                "INSERT INTO loom.nodes (id, type, properties) VALUES ('kept', 'T', '{\"by\":\"local\"}')");
        assertTrue(applied.effective().isEmpty(), "an older state changes nothing");
        assertEquals(1, applied.superseded());
        assertEquals("{\"by\": \"local\"}||false|false", row("kept"));
    }

    @Test
    void aRowPurgedWhileAPeersStateIsAppliedIsWrittenAgain() throws Exception {
        long deleted = hlcIn(Duration.ZERO);
        result(applier.apply(envelope(peerState("purged", deleted, true))));
        assertEquals("{}|peer|true|true", row("purged"));
        Applied applied = applyWhileHeld(
                peerState("purged", deleted + (1L << 16), false),
                "SET LOCAL loom.purge = 'on'",
                "DELETE FROM loom.nodes WHERE id = 'purged'");
        assertEquals(1, applied.effective().size(), "the later state is not lost with the purged row");
        assertEquals("{\"by\": \"peer\"}|peer|false|true", row("purged"));
    }

    /** Stores {@code newer} an hour after now and {@code older}, deleted, an hour before now. */
    private static void storeNewerAndOlder(String newer, String older) throws Exception {
        result(applier.apply(envelope(peerState(newer, hlcIn(Duration.ofHours(1)), false))));
        result(applier.apply(envelope(peerState(older, hlcIn(Duration.ofHours(-1)), true))));
    }

    @Test
    void stateSyncRowsInsertTheNewRowsAndMergeTheStoredOnes() throws Exception {
        long now = hlcIn(Duration.ZERO);
        storeNewerAndOlder("page-kept", "page-replaced");
        Applied applied = result(applier.applyRows(envelope(List.of(
                peerState("page-new-1", now, false),
                peerState("page-kept", now, false),
                peerState("page-new-2", now, true),
                peerState("page-replaced", now, false)))));
        assertEquals(
                List.of("page-new-1", "page-new-2", "page-replaced"),
                applied.effective().stream().map(Change::id).toList(),
                "the new rows and the stored row the page's state wins");
        assertEquals(1, applied.superseded(), "the stored row that is newer than the page's state stays");
        assertEquals("{\"by\": \"peer\"}|peer|false|true", row("page-new-1"));
        assertEquals("{}|peer|true|true", row("page-new-2"));
        assertEquals("{\"by\": \"peer\"}|peer|false|true", row("page-replaced"), "no longer deleted");
        Applied again = result(applier.applyRows(envelope(List.of(peerState("page-new-1", now, false)))));
        assertTrue(again.effective().isEmpty(), "the same rows again change nothing");
    }

    @Test
    void stateSyncRowsRacingALocalInsertOfTheSameIdAreMergedNotRejected() throws Exception {
        // the plain INSERT of the new rows waits on the local insert, then fails on its key: the page goes
        // through the merge statement instead, and the peer's state (an hour later) wins
        Applied applied = applyWhileHeld(
                applier::applyRows,
                peerState("raced-page", hlcIn(Duration.ofHours(1)), false),
                "INSERT INTO loom.nodes (id, type, properties) VALUES ('raced-page', 'T', '{\"by\":\"local\"}')");
        assertEquals(1, applied.effective().size(), "the peer's state took effect");
        assertEquals("{\"by\": \"peer\"}|peer|false|true", row("raced-page"));
    }

    @Test
    void aStateItsDuplicateAndALaterDeleteAreDecidedByTheMerge() throws Exception {
        long hlc = hlcIn(Duration.ZERO);
        Applied first = result(applier.apply(envelope(peerState("calm", hlc, false))));
        Applied again = result(applier.apply(envelope(peerState("calm", hlc, false))));
        Applied later = result(applier.apply(envelope(peerState("calm", hlc + 1, true))));
        assertEquals(1, first.effective().size());
        assertTrue(again.effective().isEmpty(), "a duplicate changes nothing");
        assertEquals(1, later.effective().size());
        assertEquals("{}|peer|true|true", row("calm"));
    }

    @Test
    void aPeersInsertsAreWrittenAndAStoredIdAmongThemIsMerged() throws Exception {
        // a peer's inserts go by a plain INSERT; when an id among them is stored already (created on both
        // nodes), all of them go through the merge, which decides that one either way round
        long now = hlcIn(Duration.ZERO);
        storeNewerAndOlder("insert-kept", "insert-replaced");
        Applied applied = result(applier.apply(envelope(List.of(
                peerInsert("insert-new", now), peerInsert("insert-kept", now), peerInsert("insert-replaced", now)))));
        assertEquals(
                List.of("insert-new", "insert-replaced"),
                applied.effective().stream().map(Change::id).toList());
        assertEquals(1, applied.superseded(), "the stored row newer than the peer's insert stays");
        assertEquals("{\"by\": \"peer\"}|peer|false|true", row("insert-new"));
        assertEquals("{\"by\": \"peer\"}|peer|false|true", row("insert-replaced"), "no longer deleted");
        Applied again = result(applier.apply(envelope(List.of(peerInsert("insert-new", now)))));
        assertTrue(again.effective().isEmpty(), "a redelivered insert changes nothing");
        List<Applied> grouped = result(applier.applyAll(
                List.of(envelope(peerInsert("insert-grouped", now)), envelope(peerInsert("insert-new", now)))));
        assertEquals(1, grouped.get(0).effective().size(), "a group's new row is written");
        assertTrue(grouped.get(1).effective().isEmpty(), "a group's stored row is decided by the merge");
        assertEquals("{\"by\": \"peer\"}|peer|false|true", row("insert-grouped"));
    }

    @Test
    void aPeersInsertRacingALocalInsertOfTheSameIdIsMergedNotRejected() throws Exception {
        Applied applied = applyWhileHeld(
                peerInsert("raced-insert", hlcIn(Duration.ofHours(1))),
                "INSERT INTO loom.nodes (id, type, properties) VALUES ('raced-insert', 'T', '{\"by\":\"local\"}')");
        assertEquals(1, applied.effective().size(), "the peer's insert took effect");
        assertEquals("{\"by\": \"peer\"}|peer|false|true", row("raced-insert"));
        Applied older = applyWhileHeld(
                peerInsert("raced-older", hlcIn(Duration.ofHours(-1))),
                "INSERT INTO loom.nodes (id, type, properties) VALUES ('raced-older', 'T', '{\"by\":\"local\"}')");
        assertTrue(older.effective().isEmpty(), "an older insert changes nothing");
        assertEquals("{\"by\": \"local\"}||false|false", row("raced-older"));
    }
}
