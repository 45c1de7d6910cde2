package dev.loomdb.edge.graph;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loomdb.edge.config.LoomConfig;
import dev.loomdb.edge.flow.Hlc;
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
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * Questions about the local graph that PostgreSQL answers: a node's neighbours, a breadth-first
 * traversal, a shortest path, counts by type. Every query is bounded (depth, result size, time:
 * {@code loom.query.*}): a request past a bound gets 400, a query that hits one mid-way 422, both
 * with a problem body naming the bound and how to raise it, or a result marked {@code truncated}.
 * Tombstones never appear, and no path or traversal goes through a deleted node or edge.
 */
@ApplicationScoped
public class GraphQueries {

    /** Which edges a query follows from a node: those leaving it, those arriving, or both. */
    enum Direction {
        OUT,
        IN,
        BOTH;

        boolean out() {
            return this != IN;
        }

        boolean in() {
            return this != OUT;
        }

        Direction reverse() {
            return this == OUT ? IN : this == IN ? OUT : BOTH;
        }

        String wireName() {
            return name().toLowerCase(Locale.ROOT);
        }

        static Direction parse(String value, Direction otherwise) {
            if (value == null || value.isBlank()) {
                return otherwise;
            }
            return switch (value.trim()) {
                case "out" -> OUT;
                case "in" -> IN;
                case "both" -> BOTH;
                default -> throw ApiProblem.badRequest("The direction '" + value + "' is none of out, in, both.");
            };
        }
    }

    private static final String OTHER_NODE_COLUMNS = "n.id AS n_id, n.type AS n_type, n.properties::text AS"
            + " n_properties, n.version AS n_version, n.hlc AS n_hlc, n.origin AS n_origin";

    /**
     * A node's edges with the node at their other end ($1 the node, $2 edge types, $3 node types, $4
     * limit, $5 follow outgoing, $6 follow incoming): outgoing first, then by edge id.
     */
    private static final String NEIGHBOURS = "SELECT * FROM (SELECT 'out' AS direction, e.id, e.type, e.source_id,"
            + " e.target_id, e.properties::text AS properties, e.version, e.hlc, e.origin, " + OTHER_NODE_COLUMNS
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

    /**
     * One side's step of a path search: the edges from a frontier to live nodes not yet reached from
     * that side ($1 frontier, $2 reached, $3 follow source to target, $4 follow target to source).
     */
    private static final String PATH_STEP = "SELECT id, source_id AS near, target_id AS far FROM loom.edges e"
            + " WHERE $3 AND source_id = ANY($1) AND NOT tombstone AND NOT (target_id = ANY($2)) AND EXISTS (SELECT 1"
            + " FROM loom.nodes n WHERE n.id = e.target_id AND NOT n.tombstone)"
            + " UNION ALL SELECT id, target_id, source_id FROM loom.edges e WHERE $4 AND target_id = ANY($1)"
            + " AND NOT tombstone AND NOT (source_id = ANY($2)) AND EXISTS (SELECT 1 FROM loom.nodes n"
            + " WHERE n.id = e.source_id AND NOT n.tombstone) ORDER BY far, id";

    private static final String LIVE_NODES =
            "SELECT " + GraphStore.NODE_COLUMNS + " FROM loom.nodes WHERE id = ANY($1) AND NOT tombstone";
    private static final String LIVE_EDGES =
            "SELECT " + GraphStore.EDGE_COLUMNS + " FROM loom.edges WHERE id = ANY($1) AND NOT tombstone";

    private final Pool pool;
    private final GraphService graph;
    private final ObjectMapper mapper;
    private final LoomConfig config;
    private volatile Stats stats;

    private record Stats(ObjectNode json, long countedAtMillis) {}

    /**
     * Queries run on a small pool of their own whose sessions are read-only and stop any statement
     * after {@code loom.query.timeout} (set when each connection opens), so that a one-statement
     * question needs no transaction around it: one round trip.
     */
    public GraphQueries(
            Vertx vertx,
            GraphService graph,
            ObjectMapper mapper,
            LoomConfig config,
            @ConfigProperty(name = "quarkus.datasource.reactive.url") String reactiveUrl,
            @ConfigProperty(name = "quarkus.datasource.username") String user,
            @ConfigProperty(name = "quarkus.datasource.password") Optional<String> password) {
        this.graph = graph;
        this.mapper = mapper;
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

    // --- neighbours

    public Uni<ObjectNode> neighbors(String id, String direction, String edgeType, String nodeType, String limit) {
        GraphService.checkId("node id", id);
        Direction dir = Direction.parse(direction, Direction.BOTH);
        int size = count(
                "limit", limit, config.api().defaultLimit(), config.query().maxResults());
        Uni<Map<String, Node>> start = pool.preparedQuery(LIVE_NODES)
                .execute(Tuple.of(new String[] {id}))
                .map(GraphQueries::nodesById);
        Uni<List<Row>> edges = pool.preparedQuery(NEIGHBOURS)
                .execute(
                        Tuple.tuple(Arrays.asList(id, types(edgeType), types(nodeType), size + 1, dir.out(), dir.in())))
                .map(rows -> {
                    List<Row> list = new ArrayList<>();
                    rows.forEach(list::add);
                    return list;
                });
        return timed(Uni.combine().all().unis(start, edges).asTuple().map(both -> {
            Node node = both.getItem1().get(id);
            if (node == null) {
                throw ApiProblem.notFound("There is no node '" + id + "'.");
            }
            List<Row> rows = both.getItem2();
            ObjectNode json = mapper.createObjectNode();
            json.set("node", graph.nodeJson(node));
            ArrayNode list = json.putArray("neighbors");
            for (Row row : rows.subList(0, Math.min(size, rows.size()))) {
                ObjectNode item = list.addObject();
                item.put("direction", row.getString("direction"));
                item.set("edge", graph.edgeJson(GraphStore.edge(row)));
                item.set(
                        "node",
                        graph.nodeJson(new Node(
                                row.getString("n_id"),
                                row.getString("n_type"),
                                row.getString("n_properties"),
                                row.getLong("n_version"),
                                new Hlc(row.getLong("n_hlc")),
                                row.getString("n_origin"))));
            }
            json.put("truncated", rows.size() > size);
            return json;
        }));
    }

    // --- traversal

    public Uni<ObjectNode> traverse(
            String from, String maxDepth, String direction, String edgeTypes, String nodeTypes, String limit) {
        GraphService.checkId("start node ('from')", from);
        int depth = count(
                "maxDepth",
                maxDepth,
                Math.min(3, config.query().maxDepth()),
                config.query().maxDepth());
        Direction dir = Direction.parse(direction, Direction.OUT);
        int cap = count(
                "limit",
                limit,
                Math.min(1000, config.query().maxResults()),
                config.query().maxResults());
        String[] edges = types(edgeTypes);
        String[] nodes = types(nodeTypes);
        long deadline = System.currentTimeMillis() + config.query().timeout().toMillis();
        return bounded(conn -> liveNodes(conn, List.of(from)).chain(start -> {
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
        checkDeadline(deadline);
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

    // --- shortest path

    /** How a node was reached from one side of a path search: the node before it and the edge between. */
    private record Step(String previous, String edge) {}

    public Uni<ObjectNode> path(String from, String to, String maxDepth, String direction) {
        GraphService.checkId("start node ('from')", from);
        GraphService.checkId("end node ('to')", to);
        int depth = count(
                "maxDepth", maxDepth, config.query().maxDepth(), config.query().maxDepth());
        Direction dir = Direction.parse(direction, Direction.OUT);
        long deadline = System.currentTimeMillis() + config.query().timeout().toMillis();
        return bounded(conn -> liveNodes(conn, List.of(from, to)).chain(ends -> {
            for (String end : List.of(from, to)) {
                if (!ends.containsKey(end)) {
                    throw ApiProblem.notFound("There is no node '" + end + "'.");
                }
            }
            Map<String, Step> forward = new HashMap<>();
            Map<String, Step> backward = new HashMap<>();
            forward.put(from, null);
            backward.put(to, null);
            Uni<String> meeting = from.equals(to)
                    ? Uni.createFrom().item(from)
                    : search(conn, List.of(from), List.of(to), 0, depth, dir, forward, backward, deadline);
            return meeting.chain(meet -> {
                ObjectNode json = mapper.createObjectNode();
                json.put("from", from).put("to", to).put("maxDepth", depth).put("direction", dir.wireName());
                if (meet == null) {
                    json.put("found", false);
                    json.put(
                            "detail",
                            "No path of at most " + depth + " hops from '" + from + "' to '" + to
                                    + "' along "
                                    + (dir == Direction.BOTH ? "edges either way" : dir.wireName() + " edges")
                                    + " (maxDepth goes up to loom.query.max-depth = "
                                    + config.query().maxDepth() + ").");
                    return Uni.createFrom().item(json);
                }
                List<String> nodeIds = new ArrayList<>();
                List<String> edgeIds = new ArrayList<>();
                for (String at = meet;
                        at != null;
                        at = forward.get(at) == null ? null : forward.get(at).previous()) {
                    nodeIds.add(0, at);
                    if (forward.get(at) != null) {
                        edgeIds.add(0, forward.get(at).edge());
                    }
                }
                for (Step step = backward.get(meet); step != null; step = backward.get(step.previous())) {
                    nodeIds.add(step.previous());
                    edgeIds.add(step.edge());
                }
                return liveNodes(conn, nodeIds)
                        .chain(nodes -> conn.preparedQuery(LIVE_EDGES)
                                .execute(Tuple.of(edgeIds.toArray(String[]::new)))
                                .map(rows -> {
                                    Map<String, Edge> edges = new HashMap<>();
                                    rows.forEach(row -> edges.put(row.getString("id"), GraphStore.edge(row)));
                                    json.put("found", true);
                                    json.put("hops", edgeIds.size());
                                    ArrayNode nodeList = json.putArray("nodes");
                                    nodeIds.forEach(n -> nodeList.add(graph.nodeJson(nodes.get(n))));
                                    ArrayNode edgeList = json.putArray("edges");
                                    edgeIds.forEach(e -> edgeList.add(graph.edgeJson(edges.get(e))));
                                    return json;
                                }));
            });
        }));
    }

    /**
     * Bidirectional breadth-first search: the smaller frontier goes one hop further each step, until a
     * node is reached from both sides (the shortest path meets there) or the hops run out.
     */
    private Uni<String> search(
            SqlConnection conn,
            List<String> front,
            List<String> back,
            int hops,
            int maxHops,
            Direction dir,
            Map<String, Step> forward,
            Map<String, Step> backward,
            long deadline) {
        if (hops >= maxHops || front.isEmpty() || back.isEmpty()) {
            return Uni.createFrom().item((String) null);
        }
        checkDeadline(deadline);
        boolean fromFront = front.size() <= back.size();
        List<String> frontier = fromFront ? front : back;
        Map<String, Step> mine = fromFront ? forward : backward;
        Map<String, Step> theirs = fromFront ? backward : forward;
        Direction way = fromFront ? dir : dir.reverse();
        return conn.preparedQuery(PATH_STEP)
                .execute(Tuple.of(
                        frontier.toArray(String[]::new), mine.keySet().toArray(String[]::new), way.out(), way.in()))
                .chain(rows -> {
                    List<String> next = new ArrayList<>();
                    String meet = null;
                    for (Row row : rows) {
                        String far = row.getString("far");
                        if (mine.containsKey(far)) {
                            continue;
                        }
                        mine.put(far, new Step(row.getString("near"), row.getString("id")));
                        next.add(far);
                        if (meet == null && theirs.containsKey(far)) {
                            meet = far;
                        }
                    }
                    if (meet != null) {
                        return Uni.createFrom().item(meet);
                    }
                    if (mine.size() > config.query().maxResults()) {
                        throw new ApiProblem(
                                422,
                                "Query bound reached",
                                "The path search reached more than "
                                        + config.query().maxResults()
                                        + " nodes from one side (loom.query.max-results); ask for fewer hops with"
                                        + " maxDepth, or raise the setting.");
                    }
                    return search(
                            conn,
                            fromFront ? next : front,
                            fromFront ? back : next,
                            hops + 1,
                            maxHops,
                            dir,
                            forward,
                            backward,
                            deadline);
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
        return bounded(conn -> conn.query("SELECT 'nodes', type, count(*) FROM loom.nodes WHERE NOT tombstone"
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

    // --- bounds

    /**
     * Runs a query of several statements in a transaction on one snapshot of the graph (repeatable
     * read); each statement stops after {@code loom.query.timeout} (the pool's sessions say so).
     */
    private <T> Uni<T> bounded(Function<SqlConnection, Uni<T>> query) {
        return timed(pool.withTransaction(conn -> conn.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                .execute()
                .chain(v -> query.apply(conn))));
    }

    /** A statement stopped by {@code loom.query.timeout} becomes a 422 saying which bound it hit. */
    private <T> Uni<T> timed(Uni<T> query) {
        return query.onFailure(e -> e instanceof PgException pg && "57014".equals(pg.getSqlState()))
                .transform(e -> timedOut());
    }

    private ApiProblem timedOut() {
        return new ApiProblem(
                422,
                "Query bound reached",
                "The query ran longer than loom.query.timeout ("
                        + config.query().timeout().toMillis()
                        + " ms); narrow it (maxDepth, edge or node types, limit) or raise the setting.");
    }

    private void checkDeadline(long deadline) {
        if (System.currentTimeMillis() > deadline) {
            throw timedOut();
        }
    }

    private Uni<Map<String, Node>> liveNodes(SqlConnection conn, List<String> ids) {
        return conn.preparedQuery(LIVE_NODES)
                .execute(Tuple.of(ids.toArray(String[]::new)))
                .map(GraphQueries::nodesById);
    }

    private static Map<String, Node> nodesById(RowSet<Row> rows) {
        Map<String, Node> nodes = new HashMap<>();
        rows.forEach(row -> nodes.put(row.getString("id"), GraphStore.node(row)));
        return nodes;
    }

    /** A comma-separated list of types, or null for every type. */
    private static String[] types(String list) {
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
    private int count(String name, String value, int otherwise, int max) {
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
