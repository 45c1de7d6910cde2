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

    private static final String UPSERT_NODE_TEMPLATE = """
            INSERT INTO loom.nodes AS t (id, type, properties, hlc, version, origin, tombstone, deleted_at)
            VALUES ($1, $2, $3::text::jsonb, $4, $5, $6, $7, CASE WHEN $7 THEN now() END)
            ON CONFLICT (id) DO UPDATE SET type = EXCLUDED.type, properties = EXCLUDED.properties,
                hlc = EXCLUDED.hlc, version = EXCLUDED.version, origin = EXCLUDED.origin,
                tombstone = EXCLUDED.tombstone,
                deleted_at = CASE WHEN EXCLUDED.tombstone THEN coalesce(t.deleted_at, now()) END
            WHERE\s""";

    private static final String UPSERT_EDGE_TEMPLATE = """
            INSERT INTO loom.edges AS t (id, type, source_id, target_id, properties, hlc, version, origin, tombstone,
                deleted_at)
            VALUES ($1, $2, $3, $4, $5::text::jsonb, $6, $7, $8, $9, CASE WHEN $9 THEN now() END)
            ON CONFLICT (id) DO UPDATE SET type = EXCLUDED.type, source_id = EXCLUDED.source_id,
                target_id = EXCLUDED.target_id, properties = EXCLUDED.properties,
                hlc = EXCLUDED.hlc, version = EXCLUDED.version, origin = EXCLUDED.origin,
                tombstone = EXCLUDED.tombstone,
                deleted_at = CASE WHEN EXCLUDED.tombstone THEN coalesce(t.deleted_at, now()) END
            WHERE\s""";

    private final Vertx vertx;
    private final String upsertNode;
    private final String upsertEdge;
    private final PgConnectOptions options;
    private final String origin;
    private PgConnection connection;

    public Applier(Vertx vertx, PgConnectOptions options, String origin, MergeRule rule) {
        this.vertx = vertx;
        this.upsertNode = upsertNodeSql(rule);
        this.upsertEdge = UPSERT_EDGE_TEMPLATE + rule.sqlCondition();
        this.origin = origin;
        this.options = new PgConnectOptions(options).addProperty("application_name", "loom-apply");
    }

    /**
     * The statement that merges one incoming node state: {@code $1..$7} are id, type, properties (JSON
     * text), hlc, version, origin, tombstone.
     */
    public static String upsertNodeSql(MergeRule rule) {
        return UPSERT_NODE_TEMPLATE + rule.sqlCondition();
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
                nodes.add(Tuple.of(c.id(), c.type(), c.properties(), c.hlc(), c.version(), c.origin(), c.tombstone()));
            } else {
                edges.add(Tuple.tuple(List.of(c.id(), c.type(), c.source(), c.target(), c.properties(), c.hlc(),
                        c.version(), c.origin(), c.tombstone())));
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
