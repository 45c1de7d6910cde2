package dev.loomdb.edge.apply;

import dev.loomdb.edge.flow.Change;
import dev.loomdb.edge.flow.Envelope;
import dev.loomdb.edge.history.ChangeHistory;
import dev.loomdb.edge.merge.MergeRule;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.pgclient.PgConnection;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowSet;
import io.vertx.sqlclient.Transaction;
import io.vertx.sqlclient.Tuple;
import java.util.ArrayList;
import java.util.List;
import org.jboss.logging.Logger;

/**
 * Applies a peer's transaction to the local graph: one local transaction per envelope, each row
 * merged by the {@link MergeRule} inside PostgreSQL (a conditional upsert), so that a racing
 * local write and a duplicated or older message can never win wrongly.
 *
 * <p>It uses a connection of its own, never returned to a pool, whose session is marked with the
 * node's replication origin ({@code loom_apply_<node-id>}) and {@code loom.apply = on}: PostgreSQL then keeps the
 * peer's clock on the rows and tags the transaction with the origin, which capture sees and skips
 * (no echo).
 */
public final class Applier {

    private static final Logger LOG = Logger.getLogger(Applier.class);

    /**
     * The incoming clocks as a node stores them (migration V7): compact, whatever form the message
     * used, so that nodes holding the same states hold the same bytes. {@code {}}, what a new row's
     * change carries, is taken as it is, compared as text: the hot path parses nothing more.
     */
    private static final String STORED_CLOCKS = "CASE WHEN x.property_clocks = '{}' THEN '{}'::jsonb"
            + " ELSE loom.compact_clocks(x.properties::jsonb, x.property_clocks::jsonb, x.hlc, x.origin) END";

    /** One incoming node state, for tests of the merge: {@code $1..$9} as the columns of {@code x}. */
    private static final String INSERT_NODE = """
            INSERT INTO loom.nodes AS t (id, type, properties, property_clocks, hlc, version, origin, tombstone, deleted_at,
                base_hlc, applied)
            SELECT x.id, x.type, x.properties::jsonb, %s, x.hlc, x.version, x.origin, x.tombstone,
                   CASE WHEN x.tombstone THEN now() END, x.base_hlc, true
            FROM (VALUES ($1::text, $2::text, $3::text, $4::text, $5::bigint, $6::bigint, $7::text, $8::boolean, $9::bigint))
                 AS x(id, type, properties, property_clocks, hlc, version, origin, tombstone, base_hlc)
            ON CONFLICT (id) DO UPDATE SET\s""".formatted(STORED_CLOCKS);

    /** All of an envelope's node states in one statement: parallel arrays, one element per node. */
    private static final String INSERT_NODES = """
            INSERT INTO loom.nodes AS t (id, type, properties, property_clocks, hlc, version, origin, tombstone, deleted_at,
                base_hlc, applied)
            SELECT x.id, x.type, x.properties::jsonb, %s, x.hlc, x.version, x.origin, x.tombstone,
                   CASE WHEN x.tombstone THEN now() END, x.base_hlc, true
            FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::text[],
                        $8::boolean[], $9::bigint[])
                 AS x(id, type, properties, property_clocks, hlc, version, origin, tombstone, base_hlc)
            ON CONFLICT (id) DO UPDATE SET\s""".formatted(STORED_CLOCKS);

    private static final String INSERT_EDGES = """
            INSERT INTO loom.edges AS t (id, type, source_id, target_id, properties, property_clocks, hlc, version, origin,
                tombstone, deleted_at, base_hlc, applied)
            SELECT x.id, x.type, x.source_id, x.target_id, x.properties::jsonb, %s, x.hlc, x.version,
                   x.origin, x.tombstone, CASE WHEN x.tombstone THEN now() END, x.base_hlc, true
            FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[],
                        $8::bigint[], $9::text[], $10::boolean[], $11::bigint[])
                 AS x(id, type, source_id, target_id, properties, property_clocks, hlc, version, origin, tombstone, base_hlc)
            ON CONFLICT (id) DO UPDATE SET\s""".formatted(STORED_CLOCKS);

    private static final List<String> NODE_COLUMNS =
            List.of("type", "hlc", "version", "origin", "tombstone", "base_hlc");
    private static final List<String> EDGE_COLUMNS =
            List.of("type", "source_id", "target_id", "hlc", "version", "origin", "tombstone", "base_hlc");

    /** Neither state was based on the other, and they come from different nodes. */
    static final String CONCURRENT =
            "(t.origin <> EXCLUDED.origin AND EXCLUDED.base_hlc < t.hlc AND t.base_hlc < EXCLUDED.hlc)";

    /**
     * With auto-resolve off: keeps a concurrent incoming node state aside as a conflict (once per state).
     * Parameters as the node upsert's.
     */
    private static final String RECORD_NODE_CONFLICT = """
            INSERT INTO loom.conflicts (kind, entity_id, local, remote)
            SELECT 'node', t.id,
                   jsonb_build_object('type', t.type, 'properties', t.properties, 'hlc', t.hlc::text, 'version', t.version,
                                      'origin', t.origin, 'tombstone', t.tombstone),
                   jsonb_build_object('type', $2::text, 'properties', $3::text::jsonb,
                                      'propertyClocks', loom.effective_clocks($3::text::jsonb, $4::text::jsonb, $5::bigint,
                                                                              $7::text),
                                      'hlc', $5::bigint::text, 'version', $6::bigint, 'origin', $7::text,
                                      'tombstone', $8::boolean)
            FROM loom.nodes t
            WHERE t.id = $1 AND t.origin <> $7 AND $9::bigint < t.hlc AND t.base_hlc < $5::bigint
              AND NOT EXISTS (SELECT 1 FROM loom.conflicts c WHERE c.kind = 'node' AND c.entity_id = $1
                              AND c.resolved_at IS NULL AND c.remote ->> 'hlc' = $5::bigint::text
                              AND c.remote ->> 'origin' = $7::text)
            RETURNING id, entity_id""";

    private static final String RECORD_EDGE_CONFLICT = """
            INSERT INTO loom.conflicts (kind, entity_id, local, remote)
            SELECT 'edge', t.id,
                   jsonb_build_object('type', t.type, 'source', t.source_id, 'target', t.target_id,
                                      'properties', t.properties, 'hlc', t.hlc::text, 'version', t.version,
                                      'origin', t.origin, 'tombstone', t.tombstone),
                   jsonb_build_object('type', $2::text, 'source', $3::text, 'target', $4::text,
                                      'properties', $5::text::jsonb,
                                      'propertyClocks', loom.effective_clocks($5::text::jsonb, $6::text::jsonb, $7::bigint,
                                                                              $9::text),
                                      'hlc', $7::bigint::text, 'version', $8::bigint, 'origin', $9::text,
                                      'tombstone', $10::boolean)
            FROM loom.edges t
            WHERE t.id = $1 AND t.origin <> $9 AND $11::bigint < t.hlc AND t.base_hlc < $7::bigint
              AND NOT EXISTS (SELECT 1 FROM loom.conflicts c WHERE c.kind = 'edge' AND c.entity_id = $1
                              AND c.resolved_at IS NULL AND c.remote ->> 'hlc' = $7::bigint::text
                              AND c.remote ->> 'origin' = $9::text)
            RETURNING id, entity_id""";

    private static final String RECORD_PEER = """
            INSERT INTO loom.sync_peers AS p (peer_id, last_seen, last_hlc, last_seq, messages_received, changes_received)
            VALUES ($1, now(), $2, $3, 1, $4)
            ON CONFLICT (peer_id) DO UPDATE SET last_seen = now(), last_hlc = greatest(p.last_hlc, EXCLUDED.last_hlc),
                last_seq = greatest(p.last_seq, EXCLUDED.last_seq), messages_received = p.messages_received + 1,
                changes_received = p.changes_received + EXCLUDED.changes_received""";

    /** A write based on both sides of an open conflict resolves it here too. */
    private static final String CLOSE_RESOLVED = """
            UPDATE loom.conflicts SET resolved_at = now(), resolution = 'resolved on ' || $3::text
            WHERE kind = $1::text AND entity_id = $2::text AND resolved_at IS NULL
              AND (local ->> 'hlc')::bigint <= $4::bigint AND (remote ->> 'hlc')::bigint <= $4::bigint""";

    private final Vertx vertx;
    private final String upsertNode;
    private final String upsertEdge;
    private final boolean autoResolve;
    private final ChangeHistory history;
    private final PgConnectOptions options;
    private final String origin;
    private PgConnection connection;

    public Applier(
            Vertx vertx,
            PgConnectOptions options,
            String origin,
            MergeRule rule,
            boolean autoResolve,
            ChangeHistory history) {
        this.vertx = vertx;
        this.history = history;
        this.autoResolve = autoResolve;
        this.upsertNode = upsert(INSERT_NODES, NODE_COLUMNS, rule, autoResolve) + " RETURNING t.id";
        this.upsertEdge = upsert(INSERT_EDGES, EDGE_COLUMNS, rule, autoResolve) + " RETURNING t.id";
        this.origin = origin;
        this.options = new PgConnectOptions(options).addProperty("application_name", "loom-apply");
    }

    /**
     * The statement that merges one incoming node state: {@code $1..$9} are id, type, properties and
     * property clocks (JSON text), hlc, version, origin, tombstone, base hlc.
     */
    public static String upsertNodeSql(MergeRule rule) {
        return upsert(INSERT_NODE, NODE_COLUMNS, rule, true);
    }

    /**
     * The conditional upsert: the row's own columns follow the row rule; the properties follow it too,
     * or are merged one by one (with their clocks) where the merge strategy applies. An update that
     * changes nothing is skipped by the WHERE.
     */
    private static String upsert(String insert, List<String> rowColumns, MergeRule rule, boolean autoResolve) {
        String wins = autoResolve ? rule.sqlCondition() : "(" + rule.sqlCondition() + " AND NOT " + CONCURRENT + ")";
        // applied = true: the stamping trigger does not run in the apply session (migration V5), so the
        // statement marks the row itself, for PostgreSQL 15's publication row filter.
        StringBuilder sql = new StringBuilder(insert).append("applied = true, ");
        if (!rule.anyMerge()) {
            for (String column : rowColumns) {
                sql.append(column).append(" = EXCLUDED.").append(column).append(", ");
            }
            return sql.append(
                            "properties = EXCLUDED.properties, property_clocks = EXCLUDED.property_clocks,"
                                    + " deleted_at = CASE WHEN EXCLUDED.tombstone THEN coalesce(t.deleted_at, now()) END WHERE ")
                    .append(wins)
                    .toString();
        }
        String merging = rule.sqlMergingCondition();
        // A property without a clock entry has its row's stamp (migration V7): the clocks are merged written
        // out, and the result is compacted against the stamp the row keeps.
        String merged = "loom.merge_properties_compact(t.properties, t.property_clocks, t.hlc, t.origin,"
                + " EXCLUDED.properties, EXCLUDED.property_clocks, EXCLUDED.hlc, EXCLUDED.origin,"
                + " CASE WHEN " + wins + " THEN EXCLUDED.hlc ELSE t.hlc END,"
                + " CASE WHEN " + wins + " THEN EXCLUDED.origin ELSE t.origin END)";
        for (String column : rowColumns) {
            sql.append(column)
                    .append(" = CASE WHEN ")
                    .append(wins)
                    .append(" THEN EXCLUDED.")
                    .append(column)
                    .append(" ELSE t.")
                    .append(column)
                    .append(" END, ");
        }
        return sql.append("deleted_at = CASE WHEN ")
                .append(wins)
                .append(
                        " THEN (CASE WHEN EXCLUDED.tombstone THEN coalesce(t.deleted_at, now()) END) ELSE t.deleted_at END, ")
                .append("properties = CASE WHEN ")
                .append(merging)
                .append(" THEN ")
                .append(merged)
                .append(" -> 'p' WHEN ")
                .append(wins)
                .append(" THEN EXCLUDED.properties ELSE t.properties END, ")
                .append("property_clocks = CASE WHEN ")
                .append(merging)
                .append(" THEN ")
                .append(merged)
                .append(" -> 'c' WHEN ")
                .append(wins)
                .append(" THEN EXCLUDED.property_clocks ELSE t.property_clocks END")
                .append(" WHERE (")
                .append(wins)
                .append(") OR (")
                .append(merging)
                .append(")")
                .toString();
    }

    /** Applies the envelope's changes in one transaction, with the peer's bookkeeping and history. */
    public Future<Applied> apply(Envelope envelope) {
        return connection()
                .compose(conn -> conn.begin()
                        .compose(tx -> write(conn, envelope)
                                .compose(applied -> tx.commit().map(applied))
                                .recover(failure -> rollback(tx).compose(v -> Future.failedFuture(failure)))));
    }

    private Future<Applied> write(PgConnection conn, Envelope envelope) {
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
                done = done.compose(v ->
                        recordConflicts(conn, RECORD_NODE_CONFLICT, nodeTuples(nodeChanges), nodeChanges, conflicts));
            }
            done = done.compose(v -> conn.preparedQuery(upsertNode)
                    .execute(nodeArrays(nodeChanges))
                    .map(rows -> collectEffective(rows, nodeChanges, effective)));
        }
        if (!edgeChanges.isEmpty()) {
            if (!autoResolve) {
                done = done.compose(v ->
                        recordConflicts(conn, RECORD_EDGE_CONFLICT, edgeTuples(edgeChanges), edgeChanges, conflicts));
            }
            done = done.compose(v -> conn.preparedQuery(upsertEdge)
                    .execute(edgeArrays(edgeChanges))
                    .map(rows -> collectEffective(rows, edgeChanges, effective)));
        }
        if (!autoResolve) {
            List<Tuple> closes = new ArrayList<>();
            for (Change c : envelope.changes()) {
                closes.add(Tuple.of(c.kind().wireName(), c.id(), c.origin(), c.baseHlc()));
            }
            done = done.compose(
                    v -> conn.preparedQuery(CLOSE_RESOLVED).executeBatch(closes).mapEmpty());
        }
        done = done.compose(v -> recordPeer(conn, envelope));
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
        java.util.Map<String, Change> last = new java.util.LinkedHashMap<>();
        for (Change c : changes) {
            String key = c.kind().wireName() + ':' + c.id();
            last.remove(key);
            last.put(key, c);
        }
        return last.size() == changes.size() ? changes : new ArrayList<>(last.values());
    }

    private static Tuple nodeArrays(List<Change> changes) {
        int n = changes.size();
        String[] id = new String[n],
                type = new String[n],
                properties = new String[n],
                clocks = new String[n],
                origin = new String[n];
        Long[] hlc = new Long[n], version = new Long[n], base = new Long[n];
        Boolean[] tombstone = new Boolean[n];
        for (int i = 0; i < n; i++) {
            Change c = changes.get(i);
            id[i] = c.id();
            type[i] = c.type();
            properties[i] = c.properties();
            clocks[i] = c.propertyClocks();
            hlc[i] = c.hlc();
            version[i] = c.version();
            origin[i] = c.origin();
            tombstone[i] = c.tombstone();
            base[i] = c.baseHlc();
        }
        return Tuple.tuple(List.of(id, type, properties, clocks, hlc, version, origin, tombstone, base));
    }

    private static Tuple edgeArrays(List<Change> changes) {
        int n = changes.size();
        String[] id = new String[n],
                type = new String[n],
                source = new String[n],
                target = new String[n],
                properties = new String[n],
                clocks = new String[n],
                origin = new String[n];
        Long[] hlc = new Long[n], version = new Long[n], base = new Long[n];
        Boolean[] tombstone = new Boolean[n];
        for (int i = 0; i < n; i++) {
            Change c = changes.get(i);
            id[i] = c.id();
            type[i] = c.type();
            source[i] = c.source();
            target[i] = c.target();
            properties[i] = c.properties();
            clocks[i] = c.propertyClocks();
            hlc[i] = c.hlc();
            version[i] = c.version();
            origin[i] = c.origin();
            tombstone[i] = c.tombstone();
            base[i] = c.baseHlc();
        }
        return Tuple.tuple(
                List.of(id, type, source, target, properties, clocks, hlc, version, origin, tombstone, base));
    }

    private static List<Tuple> nodeTuples(List<Change> changes) {
        List<Tuple> tuples = new ArrayList<>(changes.size());
        for (Change c : changes) {
            tuples.add(Tuple.tuple(List.of(
                    c.id(),
                    c.type(),
                    c.properties(),
                    c.propertyClocks(),
                    c.hlc(),
                    c.version(),
                    c.origin(),
                    c.tombstone(),
                    c.baseHlc())));
        }
        return tuples;
    }

    private static List<Tuple> edgeTuples(List<Change> changes) {
        List<Tuple> tuples = new ArrayList<>(changes.size());
        for (Change c : changes) {
            tuples.add(Tuple.tuple(List.of(
                    c.id(),
                    c.type(),
                    c.source(),
                    c.target(),
                    c.properties(),
                    c.propertyClocks(),
                    c.hlc(),
                    c.version(),
                    c.origin(),
                    c.tombstone(),
                    c.baseHlc())));
        }
        return tuples;
    }

    /** The statement returns the id of every row it inserted or updated: those changes took effect. */
    private static Void collectEffective(RowSet<Row> rows, List<Change> changes, List<Change> effective) {
        java.util.Set<String> written = new java.util.HashSet<>();
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
    private Future<Void> recordPeer(PgConnection conn, Envelope envelope) {
        long maxHlc = 0;
        for (Change c : envelope.changes()) {
            maxHlc = Math.max(maxHlc, c.hlc());
        }
        return conn.preparedQuery(RECORD_PEER)
                .execute(Tuple.of(envelope.origin(), maxHlc, envelope.seq(), (long)
                        envelope.changes().size()))
                .mapEmpty();
    }

    /** conflict-detected: logged, counted and reported; the conflict waits in loom.conflicts for a resolution. */
    private Future<Void> recordConflicts(
            PgConnection conn, String sql, List<Tuple> tuples, List<Change> changes, List<Applied.Conflict> found) {
        return conn.preparedQuery(sql).executeBatch(tuples).map(rows -> {
            int i = 0;
            for (RowSet<Row> set = rows; set != null && i < changes.size(); set = set.next(), i++) {
                for (Row row : set) {
                    Change change = changes.get(i);
                    found.add(new Applied.Conflict(row.getLong("id"), change));
                    LOG.warnf(
                            "conflict-detected: %s from %s is concurrent with the local state; kept aside as conflict %d"
                                    + " (GET /api/conflicts)",
                            change.id(), change.origin(), row.getLong("id"));
                }
            }
            return null;
        });
    }

    private static Future<Void> rollback(Transaction tx) {
        return tx.rollback().otherwiseEmpty();
    }

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
                        .compose(r -> conn.query("SET loom.apply = 'on'").execute())
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
        return current == null ? Future.succeededFuture() : current.close();
    }
}
