package dev.loomdb.edge.history;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loomdb.edge.flow.Change;
import dev.loomdb.edge.it.SchemaDatabase;
import dev.loomdb.edge.mesh.ChangeJson;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.mutiny.core.Vertx;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.pgclient.PgBuilder;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.sqlclient.PoolOptions;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The local history keeps publication order: entries are written in the order the envelopes were
 * published, whatever order the broker's acknowledgements and the pool's connections finish in, so
 * the bound keeps the newest entries. Real PostgreSQL, a pool of several connections.
 */
class ChangeHistoryIT {

    private static SchemaDatabase database;
    private static Vertx vertx;
    private static Pool pool;

    private final ChangeJson codec = new ChangeJson(new ObjectMapper());

    @BeforeAll
    static void startPostgres() throws Exception {
        database = SchemaDatabase.create("history");
        vertx = Vertx.vertx();
        pool = Pool.newInstance(PgBuilder.pool()
                .with(new PoolOptions().setMaxSize(4))
                .connectingTo(PgConnectOptions.fromUri(database.reactiveUrl()).setUser("postgres"))
                .using(vertx.getDelegate())
                .build());
    }

    @AfterAll
    static void stopPostgres() throws Exception {
        if (pool != null) {
            pool.closeAndAwait();
        }
        if (vertx != null) {
            vertx.closeAndAwait();
        }
        if (database != null) {
            database.close();
        }
    }

    @BeforeEach
    void emptyHistory() throws Exception {
        try (Connection connection = database.connect();
                Statement s = connection.createStatement()) {
            s.execute("TRUNCATE loom.change_history");
        }
    }

    @Test
    void acknowledgementsInReverseOrderStillRecordInPublicationOrder() throws Exception {
        ChangeHistory history = new ChangeHistory(pool, true, 5, 1_000_000, codec::encode);
        List<Promise<Void>> acknowledgements = new ArrayList<>();
        Future<Void> last = null;
        for (int i = 0; i < 12; i++) {
            Promise<Void> acknowledged = Promise.promise();
            acknowledgements.add(acknowledged);
            last = history.recordLocal(acknowledged.future(), "n1", Instant.now(), List.of(change("c-" + i)));
        }
        for (int i = acknowledgements.size() - 1; i >= 0; i--) {
            acknowledgements.get(i).complete();
        }
        await(last);

        assertEquals(
                List.of("c-7", "c-8", "c-9", "c-10", "c-11"), recordedIds(history), "the newest five, oldest first");
    }

    @Test
    void aFailedPublicationOrWriteRecordsNothingAndHoldsUpNothing() throws Exception {
        Function<Change, String> json = change -> change.id().equals("bad") ? "{not json" : codec.encode(change);
        ChangeHistory history = new ChangeHistory(pool, true, 10, 1_000_000, json);
        Promise<Void> neverPublished = Promise.promise();
        history.recordLocal(neverPublished.future(), "n1", Instant.now(), List.of(change("lost")));
        history.recordLocal(Future.succeededFuture(), "n1", Instant.now(), List.of(change("bad"), change("x-1")));
        Future<Void> last = history.recordLocal(Future.succeededFuture(), "n1", Instant.now(), List.of(change("x-2")));
        neverPublished.fail("broker gone");
        await(last);

        assertEquals(
                List.of("x-2"),
                recordedIds(history),
                "nothing from the failed publication, nothing half-written from the failed batch");
    }

    @Test
    void aDisabledHistoryRecordsNothing() throws Exception {
        ChangeHistory history = new ChangeHistory(pool, false, 10, 1_000_000, codec::encode);
        await(history.recordLocal(Future.succeededFuture(), "n1", Instant.now(), List.of(change("c-0"))));

        assertEquals(List.of(), recordedIds(history));
    }

    @Test
    void entriesTheChangeFeedHasNotHadAcknowledgedAreKeptUpToTheBacklog() throws Exception {
        ChangeHistory history = new ChangeHistory(pool, true, 5, 12, codec::encode);
        try {
            await(history.recordLocal(Future.succeededFuture(), "n1", Instant.now(), List.of(change("c-0"))));
            long first = history.list(0, 1)
                    .await()
                    .atMost(Duration.ofSeconds(30))
                    .get(0)
                    .seq();
            feedPosition(first + 2); // the feed has had c-0 .. c-2 acknowledged
            Future<Void> last = null;
            for (int i = 1; i < 20; i++) {
                last = history.recordLocal(Future.succeededFuture(), "n1", Instant.now(), List.of(change("c-" + i)));
            }
            await(last);
            // not only the newest 5: all the feed has yet to send, but no more than 12 behind the newest
            assertEquals(
                    java.util.stream.IntStream.range(8, 20)
                            .mapToObj(i -> "c-" + i)
                            .toList(),
                    recordedIds(history));

            feedPosition(first + 10);
            history.clear().await().atMost(Duration.ofSeconds(30));
            assertEquals(
                    java.util.stream.IntStream.range(11, 20)
                            .mapToObj(i -> "c-" + i)
                            .toList(),
                    recordedIds(history),
                    "clearing the history keeps what the feed has not sent");
        } finally {
            try (Connection connection = database.connect();
                    Statement s = connection.createStatement()) {
                s.execute("DELETE FROM loom.sync_state WHERE name = '" + ChangeHistory.FEED_POSITION + "'");
            }
        }
    }

    private static void feedPosition(long seq) throws Exception {
        try (Connection connection = database.connect();
                Statement s = connection.createStatement()) {
            s.execute("INSERT INTO loom.sync_state (name, value) VALUES ('" + ChangeHistory.FEED_POSITION + "', '" + seq
                    + "') ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value");
        }
    }

    private static Change change(String id) {
        return new Change(Change.Op.INSERT, Change.Kind.NODE, id, "Item", "{}", null, null, 1, 1, "n1", false);
    }

    private static void await(Future<Void> future) throws Exception {
        future.toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }

    private static List<String> recordedIds(ChangeHistory history) {
        ObjectMapper mapper = new ObjectMapper();
        return history.list(0, 100).await().atMost(Duration.ofSeconds(30)).stream()
                .map(entry -> {
                    try {
                        return mapper.readTree(entry.change()).get("id").asText();
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                })
                .toList();
    }
}
