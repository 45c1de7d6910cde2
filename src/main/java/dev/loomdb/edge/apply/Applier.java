package dev.loomdb.edge.apply;

import dev.loomdb.edge.flow.Change;
import dev.loomdb.edge.flow.Envelope;
import dev.loomdb.edge.history.ChangeHistory;
import dev.loomdb.edge.merge.MergeRule;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.pgclient.PgConnection;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowSet;
import io.vertx.sqlclient.Transaction;
import io.vertx.sqlclient.Tuple;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jboss.logging.Logger;

/**
 * Applies a peer's transaction to the local graph: one local transaction per envelope, whose node
 * and edge states go through {@code loom.apply_nodes} / {@code loom.apply_edges} (R__30_merge.sql),
 * where the merge trigger decides each row against the stored one, so that a racing local write and
 * a duplicated or older message can never win wrongly.
 *
 * <p>It uses a connection of its own, never returned to a pool, whose session is marked with the
 * node's replication origin ({@code loom_apply_<node-id>}), {@code loom.apply = on} and the merge
 * strategy: PostgreSQL then keeps the peer's clock on the rows and tags the transaction with the
 * origin, which capture sees and skips (no echo).
 */
public final class Applier {

    private static final Logger LOG = Logger.getLogger(Applier.class);

    private static final String RECORD_PEER = recordPeer(1);

    /**
     * The merge statement of one kind and the peer's bookkeeping as one statement (data-modifying
     * common table expressions run to completion whether read or not): one round trip and PostgreSQL's
     * implicit transaction instead of BEGIN, two statements and COMMIT.
     */
    private static final String APPLY_NODES_RECORDING_PEER =
            "WITH applied AS (" + StateArrays.APPLY_NODES + "), peer AS (" + recordPeer(10) + ") SELECT * FROM applied";

    private static final String APPLY_EDGES_RECORDING_PEER =
            "WITH applied AS (" + StateArrays.APPLY_EDGES + "), peer AS (" + recordPeer(12) + ") SELECT * FROM applied";

    private static final String APPLY_NEW_NODES_RECORDING_PEER = "WITH applied AS (" + StateArrays.APPLY_NEW_NODES
            + "), peer AS (" + recordPeer(10) + ") SELECT * FROM applied";

    private static final String APPLY_NEW_EDGES_RECORDING_PEER = "WITH applied AS (" + StateArrays.APPLY_NEW_EDGES
            + "), peer AS (" + recordPeer(12) + ") SELECT * FROM applied";

    /** The peer's bookkeeping; its five parameters numbered from {@code first}. */
    private static String recordPeer(int first) {
        return """
            INSERT INTO loom.sync_peers AS p (peer_id, last_seen, last_hlc, last_seq, messages_received, changes_received)
            VALUES ($%1$d, now(), $%2$d, $%3$d, $%5$d, $%4$d)
            ON CONFLICT (peer_id) DO UPDATE SET last_seen = now(), last_hlc = greatest(p.last_hlc, EXCLUDED.last_hlc),
                last_seq = greatest(p.last_seq, EXCLUDED.last_seq),
                messages_received = p.messages_received + EXCLUDED.messages_received,
                changes_received = p.changes_received + EXCLUDED.changes_received""".formatted(first, first + 1, first + 2, first + 3, first + 4);
    }

    private final Vertx vertx;
    private final MergeRule rule;
    private final boolean autoResolve;
    private final ChangeHistory history;
    private final PgConnectOptions options;
    private final String origin;
    private final boolean asyncCommit;
    private PgConnection connection;
    private final CommitFlush flush;

    public Applier(
            Vertx vertx,
            PgConnectOptions options,
            String origin,
            MergeRule rule,
            boolean autoResolve,
            ChangeHistory history,
            boolean asyncCommit) {
        this.vertx = vertx;
        this.asyncCommit = asyncCommit;
        this.history = history;
        this.rule = rule;
        this.autoResolve = autoResolve;
        this.origin = origin;
        // its statements prepared once per session: a one-row message otherwise pays PostgreSQL's parse,
        // analysis and planning of the apply statement every time (a quarter of the backend's time)
        this.options = new PgConnectOptions(options)
                .addProperty("application_name", "loom-apply")
                .setCachePreparedStatements(true);
        this.flush = new CommitFlush(vertx, options);
    }

    /** Applies the envelope's changes in one transaction, with the peer's bookkeeping and history. */
    public Future<Applied> apply(Envelope envelope) {
        if (inOneStatement(envelope.changes())) {
            return connection().compose(conn -> writeInOneStatement(conn, envelope, 1, allInserts(envelope.changes())));
        }
        return inTransaction(conn -> write(conn, envelope, 1));
    }

    /**
     * Applies rows of state sync (a bootstrap's pages, anti-entropy's rows) as {@link #apply}; when it
     * takes one statement, they are written by a plain INSERT ({@code loom.apply_new_nodes} /
     * {@code loom.apply_new_edges}): a third fewer WAL records for a new row than the merge statement's
     * speculative insertion. When one of them is stored already, all of them go through the merge
     * statement instead.
     */
    public Future<Applied> applyRows(Envelope envelope) {
        if (inOneStatement(envelope.changes())) {
            return connection().compose(conn -> writeInOneStatement(conn, envelope, 1, true));
        }
        return apply(envelope);
    }

    /**
     * Whether every change inserted its row on the peer (a new sensor reading, a new node of a load): the
     * row is then most likely new here too, and the one-statement apply writes them by a plain INSERT, as
     * {@link #applyRows} does; when one is stored (a redelivered message, the same id created on two nodes),
     * all of them go through the merge statement, where the merge decides.
     */
    static boolean allInserts(List<Change> changes) {
        for (Change c : changes) {
            if (c.op() != Change.Op.INSERT) {
                return false;
            }
        }
        return true;
    }

    /**
     * Whether the changes can be applied by one statement in PostgreSQL's implicit transaction: rows of
     * one kind (an edge's merge reads the nodes a sibling statement would not yet show), conflicts
     * resolved by the rule (no conflict records to write around the merge) and no change history.
     */
    private boolean inOneStatement(List<Change> changes) {
        if (!autoResolve || history.enabled() || changes.isEmpty()) {
            return false;
        }
        Change.Kind kind = changes.get(0).kind();
        for (Change c : changes) {
            if (c.kind() != kind) {
                return false;
            }
        }
        return true;
    }

    /**
     * {@link #write} for {@link #inOneStatement} changes: the merge and the peer's bookkeeping at once;
     * with {@code newRows}, by a plain INSERT unless a row is stored ({@link #applyRows}, {@link #allInserts}).
     */
    private Future<Applied> writeInOneStatement(PgConnection conn, Envelope envelope, int messages, boolean newRows) {
        List<Change> changes = lastStatePerRow(envelope.changes());
        boolean nodes = changes.get(0).kind() == Change.Kind.NODE;
        Tuple arguments = nodes ? StateArrays.nodes(changes) : StateArrays.edges(changes);
        peerArguments(envelope, messages).forEach(arguments::addValue);
        List<Change> effective = new ArrayList<>();
        String statement = newRows
                ? (nodes ? APPLY_NEW_NODES_RECORDING_PEER : APPLY_NEW_EDGES_RECORDING_PEER)
                : (nodes ? APPLY_NODES_RECORDING_PEER : APPLY_EDGES_RECORDING_PEER);
        return conn.preparedQuery(statement).execute(arguments).map(rows -> {
            collectEffective(rows, changes, effective);
            return new Applied(effective, envelope.changes().size() - effective.size(), List.of());
        });
    }

    /** Runs {@code work} in one transaction on the apply connection: committed, or rolled back on failure. */
    private <T> Future<T> inTransaction(java.util.function.Function<PgConnection, Future<T>> work) {
        return connection()
                .compose(conn -> conn.begin()
                        .compose(tx -> work.apply(conn)
                                .compose(done -> tx.commit().map(done))
                                .recover(failure -> rollback(tx).compose(v -> Future.failedFuture(failure)))));
    }

    /**
     * Applies several envelopes of one peer, in their order, in one transaction, with one commit for
     * all (a receiver's backlog then costs one commit, not one per source transaction). Their changes go
     * through the merge statements together when no row is written by two of them; otherwise, and
     * with the change history kept, each envelope is written on its own, in the same transaction. All or
     * none: on failure nothing of any of them is applied.
     */
    public Future<List<Applied>> applyAll(List<Envelope> envelopes) {
        if (history.enabled() || rowInSeveral(envelopes)) {
            return inTransaction(conn -> writeEach(conn, envelopes, 0, new ArrayList<>()));
        }
        List<Change> all = allChanges(envelopes);
        if (inOneStatement(all)) {
            return connection().compose(conn -> writeTogether(conn, envelopes, all, true));
        }
        return inTransaction(conn -> writeTogether(conn, envelopes, all, false));
    }

    private static String rowKey(Change c) {
        return c.kind().wireName() + ':' + c.id();
    }

    /**
     * Whether a row is written by more than one of the envelopes. Their order is then no proof of age
     * (a broker redelivers older messages after newer ones across a reconnection), so each envelope goes
     * through the merge statements on its own, which decide by the rows' clocks.
     */
    static boolean rowInSeveral(List<Envelope> envelopes) {
        Set<String> seen = new HashSet<>();
        for (Envelope envelope : envelopes) {
            Set<String> own = new HashSet<>();
            for (Change c : envelope.changes()) {
                String key = rowKey(c);
                if (own.add(key) && !seen.add(key)) {
                    return true;
                }
            }
        }
        return false;
    }

    private Future<List<Applied>> writeEach(
            PgConnection conn, List<Envelope> envelopes, int from, List<Applied> applied) {
        if (from == envelopes.size()) {
            return Future.succeededFuture(applied);
        }
        return write(conn, envelopes.get(from), 1).compose(one -> {
            applied.add(one);
            return writeEach(conn, envelopes, from + 1, applied);
        });
    }

    /**
     * The envelopes' changes ({@code all}) in one pass, by one statement when {@code oneStatement}; what
     * took effect is told per envelope.
     */
    private Future<List<Applied>> writeTogether(
            PgConnection conn, List<Envelope> envelopes, List<Change> all, boolean oneStatement) {
        Envelope last = envelopes.get(envelopes.size() - 1);
        Future<Applied> written = oneStatement
                ? writeInOneStatement(conn, last.whole(all), envelopes.size(), allInserts(all))
                : write(conn, last.whole(all), envelopes.size());
        return written.map(together -> {
            Set<Change> effective = Collections.newSetFromMap(new IdentityHashMap<>());
            effective.addAll(together.effective());
            List<Applied> each = new ArrayList<>(envelopes.size());
            for (Envelope envelope : envelopes) {
                Set<Change> own = Collections.newSetFromMap(new IdentityHashMap<>());
                own.addAll(envelope.changes());
                List<Change> tookEffect =
                        envelope.changes().stream().filter(effective::contains).toList();
                List<Applied.Conflict> conflicts = together.conflicts().stream()
                        .filter(c -> own.contains(c.change()))
                        .toList();
                each.add(new Applied(tookEffect, envelope.changes().size() - tookEffect.size(), conflicts));
            }
            return each;
        });
    }

    /** Writes an envelope's changes; {@code messages}: how many of the peer's messages it stands for. */
    private Future<Applied> write(PgConnection conn, Envelope envelope, int messages) {
        List<Change> nodeChanges = new ArrayList<>();
        List<Change> edgeChanges = new ArrayList<>();
        for (Change c : lastStatePerRow(envelope.changes())) {
            (c.kind() == Change.Kind.NODE ? nodeChanges : edgeChanges).add(c);
        }
        List<Change> effective = new ArrayList<>();
        List<Applied.Conflict> conflicts = new ArrayList<>();
        Future<Void> done = Future.succeededFuture();
        if (!nodeChanges.isEmpty()) {
            if (!autoResolve) {
                done = done.compose(v -> ConflictRecords.record(conn, Change.Kind.NODE, nodeChanges, conflicts));
            }
            done = done.compose(v -> conn.preparedQuery(StateArrays.APPLY_NODES)
                    .execute(StateArrays.nodes(nodeChanges))
                    .map(rows -> collectEffective(rows, nodeChanges, effective)));
        }
        if (!edgeChanges.isEmpty()) {
            if (!autoResolve) {
                done = done.compose(v -> ConflictRecords.record(conn, Change.Kind.EDGE, edgeChanges, conflicts));
            }
            done = done.compose(v -> conn.preparedQuery(StateArrays.APPLY_EDGES)
                    .execute(StateArrays.edges(edgeChanges))
                    .map(rows -> collectEffective(rows, edgeChanges, effective)));
        }
        if (!autoResolve) {
            done = done.compose(v -> ConflictRecords.closeResolved(conn, envelope.changes()));
        }
        done = done.compose(v -> recordPeer(conn, envelope, messages));
        if (history.enabled()) {
            done = done.compose(
                    v -> history.recordRemote(conn, envelope.origin(), envelope.firstCommitTime(), effective));
        }
        return done.map(v -> new Applied(effective, envelope.changes().size() - effective.size(), conflicts));
    }

    /**
     * One statement cannot write a row twice: when a transaction wrote a row several times (no debounce
     * folded it), its last state, which carries everything before it, is the one applied.
     */
    static List<Change> lastStatePerRow(List<Change> changes) {
        Map<String, Change> last = new LinkedHashMap<>();
        for (Change c : changes) {
            String key = rowKey(c);
            last.remove(key);
            last.put(key, c);
        }
        return last.size() == changes.size() ? changes : new ArrayList<>(last.values());
    }

    /** The statement returns the id of every row it inserted or updated: those changes took effect. */
    private static Void collectEffective(RowSet<Row> rows, List<Change> changes, List<Change> effective) {
        Set<String> written = new HashSet<>();
        for (Row row : rows) {
            written.add(row.getString(0));
        }
        for (Change c : changes) {
            if (written.contains(c.id())) {
                effective.add(c);
            }
        }
        return null;
    }

    /** The peer's bookkeeping moves with the data it describes: same transaction. */
    private Future<Void> recordPeer(PgConnection conn, Envelope envelope, int messages) {
        return conn.preparedQuery(RECORD_PEER)
                .execute(Tuple.tuple(peerArguments(envelope, messages)))
                .mapEmpty();
    }

    /** The peer, its highest clock and sequence number, the changes and messages received. */
    private static List<Object> peerArguments(Envelope envelope, int messages) {
        long maxHlc = 0;
        for (Change c : envelope.changes()) {
            maxHlc = Math.max(maxHlc, c.hlc().value());
        }
        return List.<Object>of(
                envelope.origin(),
                maxHlc,
                envelope.seq(),
                (long) envelope.changes().size(),
                (long) messages);
    }

    private static List<Change> allChanges(List<Envelope> envelopes) {
        List<Change> all = new ArrayList<>();
        for (Envelope envelope : envelopes) {
            all.addAll(envelope.changes());
        }
        return all;
    }

    private static Future<Void> rollback(Transaction tx) {
        return tx.rollback().otherwiseEmpty();
    }

    /** The apply session: the node's replication origin, loom.apply = on, and the merge strategy. */
    private Future<PgConnection> connection() {
        if (connection != null) {
            return Future.succeededFuture(connection);
        }
        return PgConnection.connect(vertx, options)
                .compose(conn -> conn.preparedQuery("SELECT pg_replication_origin_create($1) WHERE NOT EXISTS"
                                + " (SELECT 1 FROM pg_replication_origin WHERE roname = $1)")
                        .execute(Tuple.of(origin))
                        .compose(r -> conn.preparedQuery("SELECT pg_replication_origin_session_setup($1)")
                                .execute(Tuple.of(origin)))
                        .compose(r -> conn.preparedQuery(MergeRule.SESSION_SETTINGS)
                                .execute(Tuple.of(
                                        rule.strategyName(),
                                        new JsonObject(new HashMap<String, Object>(rule.typeStrategyNames())).encode(),
                                        autoResolve ? "on" : "off")))
                        .compose(r -> asyncCommit
                                ? conn.query("SET synchronous_commit = off").execute()
                                : Future.succeededFuture(r))
                        .map(r -> {
                            conn.closeHandler(v -> {
                                if (connection == conn) {
                                    connection = null;
                                }
                            });
                            connection = conn;
                            return conn;
                        })
                        .onFailure(e -> {
                            LOG.warnf("Cannot prepare the apply connection: %s", e.getMessage());
                            conn.close();
                        }));
    }

    /** Puts on disk every commit of the apply session made before this call (see {@link AcksAfterFlush}). */
    public Future<Void> flushCommits() {
        return flush.flush();
    }

    /** Drops the connection after a failure that may have broken it; the next apply opens a new one. */
    public void reset() {
        PgConnection current = connection;
        connection = null;
        if (current != null) {
            current.close();
        }
    }

    public Future<Void> close() {
        PgConnection current = connection;
        connection = null;
        flush.close();
        return current == null ? Future.succeededFuture() : current.close();
    }
}
