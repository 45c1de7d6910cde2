package dev.loomdb.edge.graph;

import dev.loomdb.edge.flow.Hlc;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.RowSet;
import io.vertx.mutiny.sqlclient.SqlClient;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;

/**
 * The queries on {@code loom.nodes} and {@code loom.edges}. Rows are stamped (clock, version,
 * origin) by the database's trigger, and a delete is a tombstone: deleted rows are invisible here.
 */
@ApplicationScoped
public class GraphStore {

    static final String NODE_COLUMNS = "id, type, properties::text AS properties, version, hlc, origin";
    static final String EDGE_COLUMNS =
            "id, type, source_id, target_id, properties::text AS properties, version, hlc, origin";

    private final Pool pool;
    /** Where the statements run: the pool, or one transaction's connection ({@link #inTransaction}). */
    private final SqlClient client;

    @Inject
    public GraphStore(Pool pool) {
        this(pool, pool);
    }

    private GraphStore(Pool pool, SqlClient client) {
        this.pool = pool;
        this.client = client;
    }

    /**
     * Runs {@code work} in one transaction on a store bound to it: all its writes commit together (and are
     * captured and published as one unit), or none does when the returned Uni fails.
     */
    public <T> Uni<T> inTransaction(Function<GraphStore, Uni<T>> work) {
        return pool.withTransaction(conn -> work.apply(new GraphStore(pool, conn)));
    }

    /**
     * Creates or replaces the node; with {@code ifVersion} (If-Match: a version, or {@link #ANY_VERSION})
     * only a live node at that version is replaced, and none is created: null when it did not hold.
     */
    public Uni<Written<Node>> replaceNode(String id, String type, String properties, Long ifVersion) {
        return client.preparedQuery(
                        """
                WITH before AS (SELECT tombstone FROM loom.nodes WHERE id = $1)
                INSERT INTO loom.nodes AS t (id, type, properties)
                SELECT $1, $2, $3::text::jsonb WHERE $4::bigint IS NULL OR EXISTS (SELECT 1 FROM before WHERE NOT tombstone)
                ON CONFLICT (id) DO UPDATE SET type = EXCLUDED.type, properties = EXCLUDED.properties, tombstone = false
                WHERE $4::bigint IS NULL OR (NOT t.tombstone AND ($4 = -1 OR t.version = $4))
                RETURNING\s""" + NODE_COLUMNS + ", NOT EXISTS (SELECT 1 FROM before WHERE NOT tombstone) AS created")
                .execute(Tuple.of(id, type, properties, ifVersion))
                .map(rows -> {
                    if (rows.size() == 0) {
                        return null;
                    }
                    Row row = rows.iterator().next();
                    return new Written<>(node(row), row.getBoolean("created"));
                });
    }

    /** If-Match: *, any version of a live row. */
    public static final long ANY_VERSION = -1;

    private static final String IF_VERSION = " AND ($%d::bigint IS NULL OR $%d = -1 OR version = $%d)";

    private static String ifVersion(int param) {
        return IF_VERSION.formatted(param, param, param);
    }

    /** Merges {@code properties} into the node's (top level), removes {@code removed}, and changes its type if given. */
    public Uni<Node> patchNode(String id, String type, String properties, List<String> removed, Long ifVersion) {
        return client.preparedQuery("UPDATE loom.nodes SET type = coalesce($2, type),"
                        + " properties = (properties || $3::text::jsonb) - $4::text[] WHERE id = $1 AND NOT tombstone"
                        + ifVersion(5) + " RETURNING " + NODE_COLUMNS)
                .execute(Tuple.of(id, type, properties, removed.toArray(new String[0]), ifVersion))
                .map(rows -> rows.size() == 0 ? null : node(rows.iterator().next()));
    }

    public Uni<Node> findNode(String id) {
        return client.preparedQuery("SELECT " + NODE_COLUMNS + " FROM loom.nodes WHERE id = $1 AND NOT tombstone")
                .execute(Tuple.of(id))
                .map(rows -> rows.size() == 0 ? null : node(rows.iterator().next()));
    }

    /** Deletes (tombstones) the node; false when there was no such node. */
    public Uni<Boolean> deleteNode(String id, Long ifVersion) {
        return client.preparedQuery(
                        "UPDATE loom.nodes SET tombstone = true WHERE id = $1 AND NOT tombstone" + ifVersion(2))
                .execute(Tuple.of(id, ifVersion))
                .map(rows -> rows.rowCount() > 0);
    }

    /** {@code where}: a JSON object the properties must contain ({@code @>}, served by the GIN index), or null. */
    public Uni<Page<Node>> listNodes(String type, String after, int limit, String where) {
        return client.preparedQuery("SELECT " + NODE_COLUMNS + " FROM loom.nodes WHERE NOT tombstone"
                        + " AND ($1::text IS NULL OR type = $1) AND ($2::text IS NULL OR id > $2)"
                        + " AND ($4::text IS NULL OR properties @> $4::text::jsonb) ORDER BY id LIMIT $3")
                .execute(Tuple.of(type, after, limit + 1, where))
                .map(rows -> page(rows, limit, GraphStore::node, Node::id));
    }

    /** As {@link #replaceNode}. */
    public Uni<Written<Edge>> replaceEdge(
            String id, String type, String source, String target, String properties, Long ifVersion) {
        return client.preparedQuery(
                        """
                WITH before AS (SELECT tombstone FROM loom.edges WHERE id = $1)
                INSERT INTO loom.edges AS t (id, type, source_id, target_id, properties)
                SELECT $1, $2, $3, $4, $5::text::jsonb
                WHERE $6::bigint IS NULL OR EXISTS (SELECT 1 FROM before WHERE NOT tombstone)
                ON CONFLICT (id) DO UPDATE SET type = EXCLUDED.type, source_id = EXCLUDED.source_id,
                    target_id = EXCLUDED.target_id, properties = EXCLUDED.properties, tombstone = false
                WHERE $6::bigint IS NULL OR (NOT t.tombstone AND ($6 = -1 OR t.version = $6))
                RETURNING\s""" + EDGE_COLUMNS + ", NOT EXISTS (SELECT 1 FROM before WHERE NOT tombstone) AS created")
                .execute(Tuple.tuple(Arrays.asList(id, type, source, target, properties, ifVersion)))
                .map(rows -> {
                    if (rows.size() == 0) {
                        return null;
                    }
                    Row row = rows.iterator().next();
                    return new Written<>(edge(row), row.getBoolean("created"));
                });
    }

    public Uni<Edge> patchEdge(
            String id,
            String type,
            String source,
            String target,
            String properties,
            List<String> removed,
            Long ifVersion) {
        return client.preparedQuery(
                        "UPDATE loom.edges SET type = coalesce($2, type), source_id = coalesce($3, source_id),"
                                + " target_id = coalesce($4, target_id), properties = (properties || $5::text::jsonb) - $6::text[]"
                                + " WHERE id = $1 AND NOT tombstone" + ifVersion(7) + " RETURNING " + EDGE_COLUMNS)
                .execute(Tuple.tuple(
                        Arrays.asList(id, type, source, target, properties, removed.toArray(new String[0]), ifVersion)))
                .map(rows -> rows.size() == 0 ? null : edge(rows.iterator().next()));
    }

    public Uni<Edge> findEdge(String id) {
        return client.preparedQuery("SELECT " + EDGE_COLUMNS + " FROM loom.edges WHERE id = $1 AND NOT tombstone")
                .execute(Tuple.of(id))
                .map(rows -> rows.size() == 0 ? null : edge(rows.iterator().next()));
    }

    public Uni<Boolean> deleteEdge(String id, Long ifVersion) {
        return client.preparedQuery(
                        "UPDATE loom.edges SET tombstone = true WHERE id = $1 AND NOT tombstone" + ifVersion(2))
                .execute(Tuple.of(id, ifVersion))
                .map(rows -> rows.rowCount() > 0);
    }

    public Uni<Page<Edge>> listEdges(String type, String source, String target, String after, int limit, String where) {
        return client.preparedQuery("SELECT " + EDGE_COLUMNS + " FROM loom.edges WHERE NOT tombstone"
                        + " AND ($1::text IS NULL OR type = $1) AND ($2::text IS NULL OR source_id = $2)"
                        + " AND ($3::text IS NULL OR target_id = $3) AND ($4::text IS NULL OR id > $4)"
                        + " AND ($6::text IS NULL OR properties @> $6::text::jsonb) ORDER BY id LIMIT $5")
                .execute(Tuple.tuple(Arrays.asList(type, source, target, after, limit + 1, where)))
                .map(rows -> page(rows, limit, GraphStore::edge, Edge::id));
    }

    /**
     * A digest of the whole graph state, tombstones and sync metadata included (not the local
     * deletion time): two nodes holding the same state have the same digest, whatever order the
     * rows were written in. Property clocks enter as {@code loom.effective_clocks} writes them out,
     * so a row with compact clocks and the same row with every clock written out digest alike.
     * Each row is serialized as a JSON array, so no id can collide with another.
     */
    public Uni<GraphDigest> digest() {
        return client.query("""
                SELECT encode(sha256(convert_to(coalesce(string_agg(r, E'\n' ORDER BY k COLLATE "C"), ''), 'UTF8')), 'hex'),
                       count(*) FILTER (WHERE kind = 'n' AND NOT tombstone),
                       count(*) FILTER (WHERE kind = 'e' AND NOT tombstone),
                       count(*) FILTER (WHERE tombstone)
                FROM (SELECT 'n' AS kind, 'n' || id AS k, tombstone,
                             jsonb_build_array('n', id, type, properties,
                                               loom.effective_clocks(properties, property_clocks, hlc, origin), hlc::text,
                                               version, origin, tombstone)::text AS r
                      FROM loom.nodes
                      UNION ALL
                      SELECT 'e', 'e' || id, tombstone,
                             jsonb_build_array('e', id, type, source_id, target_id, properties,
                                               loom.effective_clocks(properties, property_clocks, hlc, origin), hlc::text,
                                               version, origin, tombstone)::text
                      FROM loom.edges) rows""").execute().map(rows -> {
            Row row = rows.iterator().next();
            return new GraphDigest(row.getString(0), row.getLong(1), row.getLong(2), row.getLong(3));
        });
    }

    private static <T> Page<T> page(
            RowSet<Row> rows,
            int limit,
            java.util.function.Function<Row, T> read,
            java.util.function.Function<T, String> idOf) {
        List<T> items = new ArrayList<>(Math.min(rows.size(), limit));
        for (Row row : rows) {
            if (items.size() == limit) {
                return new Page<>(items, idOf.apply(items.get(items.size() - 1)));
            }
            items.add(read.apply(row));
        }
        return new Page<>(items, null);
    }

    static Node node(Row row) {
        return new Node(
                row.getString("id"),
                row.getString("type"),
                row.getString("properties"),
                row.getLong("version"),
                new Hlc(row.getLong("hlc")),
                row.getString("origin"));
    }

    static Edge edge(Row row) {
        return new Edge(
                row.getString("id"),
                row.getString("type"),
                row.getString("source_id"),
                row.getString("target_id"),
                row.getString("properties"),
                row.getLong("version"),
                new Hlc(row.getLong("hlc")),
                row.getString("origin"));
    }
}
