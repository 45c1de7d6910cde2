package dev.loomdb.edge.apply;

import dev.loomdb.edge.graph.Change;
import dev.loomdb.edge.mesh.Envelope;
import dev.loomdb.edge.merge.MergeRule;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.pgclient.PgConnection;
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

    private static final String INSERT_NODE = """
            INSERT INTO loom.nodes AS t (id, type, properties, property_clocks, hlc, version, origin, tombstone, deleted_at)
            VALUES ($1, $2, $3::text::jsonb, $4::text::jsonb, $5, $6, $7, $8, CASE WHEN $8 THEN now() END)
            ON CONFLICT (id) DO UPDATE SET\s""";

    private static final String INSERT_EDGE = """
            INSERT INTO loom.edges AS t (id, type, source_id, target_id, properties, property_clocks, hlc, version, origin,
                tombstone, deleted_at)
            VALUES ($1, $2, $3, $4, $5::text::jsonb, $6::text::jsonb, $7, $8, $9, $10, CASE WHEN $10 THEN now() END)
            ON CONFLICT (id) DO UPDATE SET\s""";

    private static final List<String> NODE_COLUMNS = List.of("type", "hlc", "version", "origin", "tombstone");
    private static final List<String> EDGE_COLUMNS =
            List.of("type", "source_id", "target_id", "hlc", "version", "origin", "tombstone");

    private final Vertx vertx;
    private final String upsertNode;
    private final String upsertEdge;
    private final PgConnectOptions options;
    private final String origin;
    private PgConnection connection;

    public Applier(Vertx vertx, PgConnectOptions options, String origin, MergeRule rule) {
        this.vertx = vertx;
        this.upsertNode = upsertNodeSql(rule);
        this.upsertEdge = upsert(INSERT_EDGE, EDGE_COLUMNS, rule);
        this.origin = origin;
        this.options = new PgConnectOptions(options).addProperty("application_name", "loom-apply");
    }

    /**
     * The statement that merges one incoming node state: {@code $1..$8} are id, type, properties and
     * property clocks (JSON text), hlc, version, origin, tombstone.
     */
    public static String upsertNodeSql(MergeRule rule) {
        return upsert(INSERT_NODE, NODE_COLUMNS, rule);
    }

    /**
     * The conditional upsert: the row's own columns follow the row rule; the properties follow it too,
     * or are merged one by one (with their clocks) where the merge strategy applies. An update that
     * changes nothing is skipped by the WHERE.
     */
    private static String upsert(String insert, List<String> rowColumns, MergeRule rule) {
        String wins = rule.sqlCondition();
        StringBuilder sql = new StringBuilder(insert);
        if (!rule.anyMerge()) {
            for (String column : rowColumns) {
                sql.append(column).append(" = EXCLUDED.").append(column).append(", ");
            }
            return sql.append("properties = EXCLUDED.properties, property_clocks = EXCLUDED.property_clocks,"
                    + " deleted_at = CASE WHEN EXCLUDED.tombstone THEN coalesce(t.deleted_at, now()) END WHERE ")
                    .append(wins).toString();
        }
        String merging = rule.sqlMergingCondition();
        String merged = "loom.merge_properties(t.properties, t.property_clocks, EXCLUDED.properties,"
                + " EXCLUDED.property_clocks)";
        for (String column : rowColumns) {
            sql.append(column).append(" = CASE WHEN ").append(wins).append(" THEN EXCLUDED.").append(column)
                    .append(" ELSE t.").append(column).append(" END, ");
        }
        return sql.append("deleted_at = CASE WHEN ").append(wins)
                .append(" THEN (CASE WHEN EXCLUDED.tombstone THEN coalesce(t.deleted_at, now()) END) ELSE t.deleted_at END, ")
                .append("properties = CASE WHEN ").append(merging).append(" THEN ").append(merged).append(" -> 'p' WHEN ")
                .append(wins).append(" THEN EXCLUDED.properties ELSE t.properties END, ")
                .append("property_clocks = CASE WHEN ").append(merging).append(" THEN ").append(merged)
                .append(" -> 'c' WHEN ").append(wins).append(" THEN EXCLUDED.property_clocks ELSE t.property_clocks END")
                .append(" WHERE (").append(wins).append(") OR (").append(merging).append(")").toString();
    }

    /** Applies the envelope's changes in one transaction. */
    public Future<Void> apply(Envelope envelope) {
        return connection().compose(conn -> conn.begin().compose(tx -> write(conn, envelope)
                .compose(v -> tx.commit())
                .recover(failure -> rollback(tx).compose(v -> Future.failedFuture(failure)))));
    }

    private Future<Void> write(PgConnection conn, Envelope envelope) {
        List<Tuple> nodes = new ArrayList<>();
        List<Tuple> edges = new ArrayList<>();
        for (Change c : envelope.changes()) {
            if (c.kind() == Change.Kind.NODE) {
                nodes.add(Tuple.tuple(List.of(c.id(), c.type(), c.properties(), c.propertyClocks(), c.hlc(), c.version(),
                        c.origin(), c.tombstone())));
            } else {
                edges.add(Tuple.tuple(List.of(c.id(), c.type(), c.source(), c.target(), c.properties(),
                        c.propertyClocks(), c.hlc(), c.version(), c.origin(), c.tombstone())));
            }
        }
        Future<Void> done = Future.succeededFuture();
        if (!nodes.isEmpty()) {
            done = done.compose(v -> conn.preparedQuery(upsertNode).executeBatch(nodes).mapEmpty());
        }
        if (!edges.isEmpty()) {
            done = done.compose(v -> conn.preparedQuery(upsertEdge).executeBatch(edges).mapEmpty());
        }
        return done;
    }

    private static Future<Void> rollback(Transaction tx) {
        return tx.rollback().otherwiseEmpty();
    }

    private Future<PgConnection> connection() {
        if (connection != null) {
            return Future.succeededFuture(connection);
        }
        return PgConnection.connect(vertx, options).compose(conn -> conn
                .preparedQuery("SELECT pg_replication_origin_create($1) WHERE NOT EXISTS"
                        + " (SELECT 1 FROM pg_replication_origin WHERE roname = $1)").execute(Tuple.of(origin))
                .compose(r -> conn.preparedQuery("SELECT pg_replication_origin_session_setup($1)").execute(Tuple.of(origin)))
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
