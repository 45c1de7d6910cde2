package dev.loomdb.edge.graph;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loomdb.edge.config.LoomConfig;
import dev.loomdb.edge.flow.Hlc;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.SqlConnection;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Questions about the local graph that PostgreSQL answers: a node's neighbours, a breadth-first
 * traversal, counts by type (shortest paths are {@link PathSearch}'s). Every query is bounded
 * ({@link QueryPool}: depth, result size, time, {@code loom.query.*}): a request past a bound gets
 * 400, a query that hits one mid-way 422, both with a problem body naming the bound and how to raise
 * it, or a result marked {@code truncated}. Tombstones never appear, and no traversal goes through a
 * deleted node or edge.
 */
@ApplicationScoped
public class GraphQueries {

    private static final String OTHER_NODE_COLUMNS = "n.id AS n_id, n.type AS n_type, n.properties::text AS"
            + " n_properties, n.version AS n_version, n.hlc AS n_hlc, n.origin AS n_origin";

    /**
     * A node (the row whose direction is {@code self}) and its edges with the node at their other end,
     * in one statement ($1 the node, $2 edge types, $3 node types, $4 limit, $5 follow outgoing, $6 follow
     * incoming): the node first, then outgoing edges, then incoming, each by edge id.
     */
    private static final String NEIGHBOURS = "SELECT * FROM (SELECT 'self' AS direction, NULL AS id, NULL AS type,"
            + " NULL AS source_id, NULL AS target_id, NULL AS properties, NULL AS version, NULL AS hlc, NULL AS origin, "
            + OTHER_NODE_COLUMNS + " FROM loom.nodes n WHERE n.id = $1 AND NOT n.tombstone"
            + " UNION ALL SELECT 'out', e.id, e.type, e.source_id,"
            + " e.target_id, e.properties::text, e.version, e.hlc, e.origin, " + OTHER_NODE_COLUMNS
            + " FROM loom.edges e JOIN loom.nodes n ON n.id = e.target_id WHERE $5 AND e.source_id = $1"
            + " AND NOT e.tombstone AND ($2::text[] IS NULL OR e.type = ANY($2)) AND NOT n.tombstone"
            + " AND ($3::text[] IS NULL OR n.type = ANY($3))"
            + " UNION ALL SELECT 'in', e.id, e.type, e.source_id, e.target_id, e.properties::text, e.version, e.hlc,"
            + " e.origin, " + OTHER_NODE_COLUMNS + " FROM loom.edges e JOIN loom.nodes n ON n.id = e.source_id"
            + " WHERE $6 AND e.target_id = $1 AND NOT e.tombstone AND ($2::text[] IS NULL OR e.type = ANY($2))"
            + " AND NOT n.tombstone AND ($3::text[] IS NULL OR n.type = ANY($3))) x ORDER BY direction DESC, id"
            + " LIMIT $4";

    /**
     * The nodes one hop from a frontier that are not visited yet ($1 frontier, $2 edge types, $3 node
     * types, $4 follow outgoing, $5 follow incoming, $6 visited, $7 limit), in id order.
     */
    private static final String NEXT_LEVEL = "SELECT " + GraphStore.NODE_COLUMNS + " FROM loom.nodes n WHERE NOT"
            + " tombstone AND ($3::text[] IS NULL OR type = ANY($3)) AND NOT (id = ANY($6)) AND id IN ("
            + "SELECT target_id FROM loom.edges WHERE $4 AND source_id = ANY($1) AND NOT tombstone"
            + " AND ($2::text[] IS NULL OR type = ANY($2))"
            + " UNION SELECT source_id FROM loom.edges WHERE $5 AND target_id = ANY($1) AND NOT tombstone"
            + " AND ($2::text[] IS NULL OR type = ANY($2))) ORDER BY id LIMIT $7";

    private final QueryPool queries;
    private final GraphService graph;
    private final ObjectMapper mapper;
    private final LoomConfig config;
    private volatile Stats stats;

    private record Stats(ObjectNode json, long countedAtMillis) {}

    public GraphQueries(QueryPool queries, GraphService graph, ObjectMapper mapper, LoomConfig config) {
        this.queries = queries;
        this.graph = graph;
        this.mapper = mapper;
        this.config = config;
    }

    // --- neighbours

    public Uni<ObjectNode> neighbors(String id, String direction, String edgeType, String nodeType, String limit) {
        GraphService.checkId("node id", id);
        Direction dir = Direction.parse(direction, Direction.BOTH);
        int size = queries.count(
                "limit", limit, config.api().defaultLimit(), config.query().maxResults());
        return queries.timed(queries.pool()
                .preparedQuery(NEIGHBOURS)
                .execute(Tuple.tuple(Arrays.asList(
                        id, QueryPool.types(edgeType), QueryPool.types(nodeType), size + 2, dir.out(), dir.in())))
                .map(rows -> {
                    List<Row> list = new ArrayList<>();
                    rows.forEach(list::add);
                    if (list.isEmpty() || !"self".equals(list.get(0).getString("direction"))) {
                        throw ApiProblem.notFound("There is no node '" + id + "'.");
                    }
                    ObjectNode json = mapper.createObjectNode();
                    json.set("node", graph.nodeJson(otherNode(list.get(0))));
                    List<Row> edges = list.subList(1, list.size());
                    ArrayNode items = json.putArray("neighbors");
                    for (Row row : edges.subList(0, Math.min(size, edges.size()))) {
                        ObjectNode item = items.addObject();
                        item.put("direction", row.getString("direction"));
                        item.set("edge", graph.edgeJson(GraphStore.edge(row)));
                        item.set("node", graph.nodeJson(otherNode(row)));
                    }
                    json.put("truncated", edges.size() > size);
                    return json;
                }));
    }

    /** The node of a row of {@link #NEIGHBOURS}: the node asked about, or the one at an edge's other end. */
    private static Node otherNode(Row row) {
        return new Node(
                row.getString("n_id"),
                row.getString("n_type"),
                row.getString("n_properties"),
                row.getLong("n_version"),
                new Hlc(row.getLong("n_hlc")),
                row.getString("n_origin"));
    }

    // --- traversal

    public Uni<ObjectNode> traverse(
            String from, String maxDepth, String direction, String edgeTypes, String nodeTypes, String limit) {
        GraphService.checkId("start node ('from')", from);
        int depth = queries.count(
                "maxDepth",
                maxDepth,
                Math.min(3, config.query().maxDepth()),
                config.query().maxDepth());
        Direction dir = Direction.parse(direction, Direction.OUT);
        int cap = queries.count(
                "limit",
                limit,
                Math.min(1000, config.query().maxResults()),
                config.query().maxResults());
        String[] edges = QueryPool.types(edgeTypes);
        String[] nodes = QueryPool.types(nodeTypes);
        long deadline = queries.deadline();
        return queries.bounded(conn -> queries.liveNodes(conn, List.of(from)).chain(start -> {
            Node first = start.get(from);
            if (first == null) {
                throw ApiProblem.notFound("There is no node '" + from + "'.");
            }
            Map<String, Integer> depths = new LinkedHashMap<>();
            List<Node> reached = new ArrayList<>(List.of(first));
            depths.put(from, 0);
            return level(conn, List.of(from), 1, depth, dir, edges, nodes, cap, depths, reached, deadline)
                    .map(truncated -> {
                        ObjectNode json = mapper.createObjectNode();
                        json.put("from", from).put("maxDepth", depth).put("direction", dir.wireName());
                        ArrayNode list = json.putArray("nodes");
                        for (Node node : reached) {
                            list.addObject().put("depth", depths.get(node.id())).set("node", graph.nodeJson(node));
                        }
                        json.put("truncated", truncated);
                        if (truncated) {
                            json.put(
                                    "truncatedBy",
                                    "limit " + cap + " (ask for more with 'limit', up to loom.query.max-results = "
                                            + config.query().maxResults() + ")");
                        }
                        return json;
                    });
        }));
    }

    /** Reaches the nodes one level further; completes with whether the cap cut the answer short. */
    private Uni<Boolean> level(
            SqlConnection conn,
            List<String> frontier,
            int depth,
            int maxDepth,
            Direction dir,
            String[] edges,
            String[] nodes,
            int cap,
            Map<String, Integer> depths,
            List<Node> reached,
            long deadline) {
        if (frontier.isEmpty() || depth > maxDepth) {
            return Uni.createFrom().item(false);
        }
        queries.checkDeadline(deadline);
        int room = cap - reached.size();
        return conn.preparedQuery(NEXT_LEVEL)
                .execute(Tuple.tuple(Arrays.asList(
                        frontier.toArray(String[]::new),
                        edges,
                        nodes,
                        dir.out(),
                        dir.in(),
                        depths.keySet().toArray(String[]::new),
                        room + 1)))
                .chain(rows -> {
                    List<String> next = new ArrayList<>();
                    for (Row row : rows) {
                        if (next.size() == room) {
                            return Uni.createFrom().item(true);
                        }
                        Node node = GraphStore.node(row);
                        depths.put(node.id(), depth);
                        reached.add(node);
                        next.add(node.id());
                    }
                    return level(conn, next, depth + 1, maxDepth, dir, edges, nodes, cap, depths, reached, deadline);
                });
    }

    // --- statistics

    /** Live nodes and edges by type, counted at most once per {@code loom.query.stats-max-age}. */
    public Uni<ObjectNode> stats() {
        Stats last = stats;
        long now = System.currentTimeMillis();
        if (last != null
                && now - last.countedAtMillis() < config.query().statsMaxAge().toMillis()) {
            return Uni.createFrom().item(last.json());
        }
        return queries.bounded(conn -> conn.query("SELECT 'nodes', type, count(*) FROM loom.nodes WHERE NOT tombstone"
                        + " GROUP BY type UNION ALL SELECT 'edges', type, count(*) FROM loom.edges WHERE NOT tombstone"
                        + " GROUP BY type ORDER BY 1, 2")
                .execute()
                .map(rows -> {
                    ObjectNode json = mapper.createObjectNode();
                    for (String kind : List.of("nodes", "edges")) {
                        json.putObject(kind).put("total", 0L).putObject("byType");
                    }
                    for (Row row : rows) {
                        ObjectNode kind = (ObjectNode) json.get(row.getString(0));
                        kind.put("total", kind.get("total").asLong() + row.getLong(2));
                        ((ObjectNode) kind.get("byType")).put(row.getString(1), row.getLong(2));
                    }
                    json.put("countedAt", Instant.ofEpochMilli(now).toString());
                    json.put("maxAgeSeconds", config.query().statsMaxAge().toSeconds());
                    stats = new Stats(json, now);
                    return json;
                }));
    }
}
