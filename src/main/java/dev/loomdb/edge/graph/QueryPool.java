package dev.loomdb.edge.graph;

import dev.loomdb.edge.config.LoomConfig;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.core.Vertx;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.RowSet;
import io.vertx.mutiny.sqlclient.SqlConnection;
import io.vertx.mutiny.sqlclient.Tuple;
import io.vertx.pgclient.PgBuilder;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.pgclient.PgException;
import io.vertx.sqlclient.PoolOptions;
import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * Where graph questions run ({@link GraphQueries}, {@link PathSearch}) and the bounds they keep: a
 * small read-only pool whose statements stop after {@code loom.query.timeout}, a deadline for questions
 * of many statements, and the checks of what a request may ask for (depth, result size, types). A
 * bound hit mid-way is a 422 naming the bound and how to raise it; a request past one a 400.
 */
@ApplicationScoped
public class QueryPool {

    static final String LIVE_NODES =
            "SELECT " + GraphStore.NODE_COLUMNS + " FROM loom.nodes WHERE id = ANY($1) AND NOT tombstone";
    static final String LIVE_EDGES =
            "SELECT " + GraphStore.EDGE_COLUMNS + " FROM loom.edges WHERE id = ANY($1) AND NOT tombstone";

    private final Pool pool;
    private final LoomConfig config;

    /**
     * Queries run on a small pool of their own whose sessions are read-only and stop any statement
     * after {@code loom.query.timeout} (set when each connection opens), so that a one-statement
     * question needs no transaction around it: one round trip.
     */
    public QueryPool(
            Vertx vertx,
            LoomConfig config,
            @ConfigProperty(name = "quarkus.datasource.reactive.url") String reactiveUrl,
            @ConfigProperty(name = "quarkus.datasource.username") String user,
            @ConfigProperty(name = "quarkus.datasource.password") Optional<String> password) {
        this.config = config;
        PgConnectOptions options = PgConnectOptions.fromUri(reactiveUrl.replaceFirst("^vertx-reactive:", ""))
                .setUser(user)
                .addProperty("application_name", "loom-query")
                .addProperty("default_transaction_read_only", "on")
                .addProperty(
                        "statement_timeout",
                        Long.toString(config.query().timeout().toMillis()));
        password.ifPresent(options::setPassword);
        this.pool = Pool.newInstance(PgBuilder.pool()
                .with(new PoolOptions().setMaxSize(4).setName("loom-query"))
                .connectingTo(options)
                .using(vertx.getDelegate())
                .build());
    }

    @PreDestroy
    void close() {
        pool.closeAndAwait();
    }

    /** The pool, for a question of one statement (no transaction needed). */
    Pool pool() {
        return pool;
    }

    /** When a question started now must end ({@code loom.query.timeout}), for {@link #checkDeadline}. */
    long deadline() {
        return System.currentTimeMillis() + config.query().timeout().toMillis();
    }

    /**
     * Runs a query of several statements in a transaction on one snapshot of the graph (repeatable
     * read); each statement stops after {@code loom.query.timeout} (the pool's sessions say so).
     */
    <T> Uni<T> bounded(Function<SqlConnection, Uni<T>> query) {
        return timed(pool.withTransaction(conn -> conn.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                .execute()
                .chain(v -> query.apply(conn))));
    }

    /** A statement stopped by {@code loom.query.timeout} becomes a 422 saying which bound it hit. */
    <T> Uni<T> timed(Uni<T> query) {
        return query.onFailure(e -> e instanceof PgException pg && "57014".equals(pg.getSqlState()))
                .transform(e -> timedOut());
    }

    ApiProblem timedOut() {
        return new ApiProblem(
                422,
                "Query bound reached",
                "The query ran longer than loom.query.timeout ("
                        + config.query().timeout().toMillis()
                        + " ms); narrow it (maxDepth, edge or node types, limit) or raise the setting.");
    }

    void checkDeadline(long deadline) {
        if (System.currentTimeMillis() > deadline) {
            throw timedOut();
        }
    }

    Uni<Map<String, Node>> liveNodes(SqlConnection conn, List<String> ids) {
        return conn.preparedQuery(LIVE_NODES)
                .execute(Tuple.of(ids.toArray(String[]::new)))
                .map(QueryPool::nodesById);
    }

    static Map<String, Node> nodesById(RowSet<Row> rows) {
        Map<String, Node> nodes = new HashMap<>();
        rows.forEach(row -> nodes.put(row.getString("id"), GraphStore.node(row)));
        return nodes;
    }

    /** A comma-separated list of types, or null for every type. */
    static String[] types(String list) {
        if (list == null || list.isBlank()) {
            return null;
        }
        String[] types = Arrays.stream(list.split(","))
                .map(String::trim)
                .filter(t -> !t.isEmpty())
                .toArray(String[]::new);
        for (String type : types) {
            GraphService.checkId("type", type);
        }
        return types.length == 0 ? null : types;
    }

    /** A whole number from 1 to {@code max} (the setting that raises it named in the error), or the default. */
    int count(String name, String value, int otherwise, int max) {
        if (value == null || value.isBlank()) {
            return otherwise;
        }
        int parsed;
        try {
            parsed = Integer.parseInt(value.trim());
        } catch (NumberFormatException e) {
            throw ApiProblem.badRequest("The " + name + " '" + value + "' is not a whole number.");
        }
        if (parsed < 1 || parsed > max) {
            String setting = name.equals("maxDepth") ? "loom.query.max-depth" : "loom.query.max-results";
            throw ApiProblem.badRequest("The " + name + " must be between 1 and " + max + " (" + setting + " = " + max
                    + "; raise the setting to allow more).");
        }
        return parsed;
    }
}
