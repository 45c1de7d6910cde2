package dev.loomdb.edge.history;

import dev.loomdb.edge.flow.Change;
import io.smallrye.mutiny.Uni;
import io.vertx.core.Future;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.pgclient.PgConnection;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.jboss.logging.Logger;

/**
 * The seed's change history (trackChanges / maxChangeHistory): when {@code loom.history.enabled},
 * every local change the broker has acknowledged and every remote change applied here is kept in
 * {@code loom.change_history}, newest {@code loom.history.max-entries} only. It survives restarts.
 */
public final class ChangeHistory {

    private static final Logger LOG = Logger.getLogger(ChangeHistory.class);

    private static final String INSERT = "INSERT INTO loom.change_history (direction, peer_id, commit_time, change)"
            + " VALUES ($1, $2, $3, $4::text::jsonb)";
    /** Where the change feed is ({@code loom.sync_state}): entries after it are kept for the feed. */
    public static final String FEED_POSITION = "feed-position";

    /** The position a trim or clear may remove up to: the feed's, or everything when no feed is kept. */
    private static final String HELD = "COALESCE((SELECT value::bigint FROM loom.sync_state WHERE name = '"
            + FEED_POSITION + "'), 9223372036854775807)";
    /**
     * Keeps the newest $1 entries, and those the change feed has not yet had acknowledged unless they are
     * more than $2 (loom.feed.max-backlog) behind the newest.
     */
    private static final String TRIM = "DELETE FROM loom.change_history"
            + " WHERE seq <= (SELECT max(seq) FROM loom.change_history) - $1"
            + " AND seq <= GREATEST(" + HELD + ", (SELECT max(seq) FROM loom.change_history) - $2)";

    private final Pool pool;
    private final boolean enabled;
    private final int maxEntries;
    private final long maxBacklog;
    private final Function<Change, String> toJson;
    /** The last local record asked for (guarded by this). */
    private Future<Void> localTail = Future.succeededFuture();

    /**
     * @param maxBacklog how far behind the newest entry the change feed's unacknowledged entries are still
     *     kept beyond {@code maxEntries}
     */
    public ChangeHistory(Pool pool, boolean enabled, int maxEntries, long maxBacklog, Function<Change, String> toJson) {
        this.pool = pool;
        this.enabled = enabled;
        this.maxEntries = maxEntries;
        this.maxBacklog = maxBacklog;
        this.toJson = toJson;
    }

    public boolean enabled() {
        return enabled;
    }

    public int maxEntries() {
        return maxEntries;
    }

    /** Inside the transaction that applies a peer's changes. */
    public Future<Void> recordRemote(PgConnection conn, String peer, Instant commitTime, List<Change> changes) {
        if (changes.isEmpty()) {
            return Future.succeededFuture();
        }
        List<io.vertx.sqlclient.Tuple> rows = new ArrayList<>(changes.size());
        for (Change change : changes) {
            rows.add(io.vertx.sqlclient.Tuple.of("remote", peer, utc(commitTime), toJson.apply(change)));
        }
        return conn.preparedQuery(INSERT)
                .executeBatch(rows)
                .compose(r ->
                        conn.preparedQuery(TRIM).execute(io.vertx.sqlclient.Tuple.of((long) maxEntries, maxBacklog)))
                .mapEmpty();
    }

    /**
     * Local changes, once {@code published} succeeds (the broker has them). Entries are written in the
     * order of the calls, each after the previous call's, whatever order the publications finish in or
     * the pool's connections run in: seq follows publication order and the trim keeps the newest. A
     * publication that fails, or a write that fails (logged), records nothing and holds up no later
     * call. The future completes when this call's entries are written or given up.
     */
    public synchronized Future<Void> recordLocal(
            Future<Void> published, String nodeId, Instant commitTime, List<Change> changes) {
        if (!enabled || changes.isEmpty()) {
            return Future.succeededFuture();
        }
        localTail = localTail
                .transform(previous -> published)
                .transform(result ->
                        result.succeeded() ? insertLocal(nodeId, commitTime, changes) : Future.succeededFuture());
        return localTail;
    }

    private Future<Void> insertLocal(String nodeId, Instant commitTime, List<Change> changes) {
        List<io.vertx.mutiny.sqlclient.Tuple> rows = new ArrayList<>(changes.size());
        for (Change change : changes) {
            rows.add(io.vertx.mutiny.sqlclient.Tuple.of("local", nodeId, utc(commitTime), toJson.apply(change)));
        }
        return Future.fromCompletionStage(pool.withTransaction(conn -> conn.preparedQuery(INSERT)
                        .executeBatch(rows)
                        .chain(r -> conn.preparedQuery(TRIM)
                                .execute(io.vertx.mutiny.sqlclient.Tuple.of((long) maxEntries, maxBacklog))))
                .replaceWithVoid()
                .onFailure()
                .recoverWithItem(e -> {
                    LOG.warnf("Could not record %d local changes in the history: %s", changes.size(), e.getMessage());
                    return null;
                })
                .subscribeAsCompletionStage());
    }

    /** Entries after {@code since} (a seq), oldest first. */
    public Uni<List<HistoryEntry>> list(long since, int limit) {
        return pool.preparedQuery("SELECT seq, recorded_at, direction, peer_id, commit_time, change::text"
                        + " FROM loom.change_history WHERE seq > $1 ORDER BY seq LIMIT $2")
                .execute(io.vertx.mutiny.sqlclient.Tuple.of(since, limit))
                .map(rows -> {
                    List<HistoryEntry> entries = new ArrayList<>();
                    rows.forEach(row -> entries.add(new HistoryEntry(
                            row.getLong(0),
                            row.getOffsetDateTime(1).toInstant(),
                            row.getString(2),
                            row.getString(3),
                            row.getOffsetDateTime(4) == null
                                    ? null
                                    : row.getOffsetDateTime(4).toInstant(),
                            row.getString(5))));
                    return entries;
                });
    }

    /** The changes of entries {@code from..to} (inclusive), oldest first. */
    public Uni<List<String>> changes(long from, long to) {
        return pool.preparedQuery(
                        "SELECT change::text FROM loom.change_history WHERE seq BETWEEN $1 AND $2 ORDER BY seq")
                .execute(io.vertx.mutiny.sqlclient.Tuple.of(from, to))
                .map(rows -> {
                    List<String> changes = new ArrayList<>();
                    rows.forEach(row -> changes.add(row.getString(0)));
                    return changes;
                });
    }

    /** clearChangeHistory: how many entries were removed (those the change feed has yet to send stay). */
    public Uni<Integer> clear() {
        return pool.query("DELETE FROM loom.change_history WHERE seq <= " + HELD)
                .execute()
                .map(rows -> rows.rowCount());
    }

    private static OffsetDateTime utc(Instant instant) {
        return instant == null ? null : instant.atOffset(ZoneOffset.UTC);
    }
}
