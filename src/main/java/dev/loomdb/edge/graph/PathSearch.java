package dev.loomdb.edge.graph;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loomdb.edge.config.LoomConfig;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.SqlConnection;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Shortest paths over the local graph: by hops, a bidirectional breadth-first search of one statement
 * per step (the smaller side goes one hop further), or with a weight, the lightest path of at most
 * {@code maxDepth} hops ({@link WeightedPath}). Bounded like every graph question ({@link QueryPool});
 * no path goes through a deleted node or edge.
 */
@ApplicationScoped
public class PathSearch {

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

    private final QueryPool queries;
    private final GraphService graph;
    private final ObjectMapper mapper;
    private final LoomConfig config;

    public PathSearch(QueryPool queries, GraphService graph, ObjectMapper mapper, LoomConfig config) {
        this.queries = queries;
        this.graph = graph;
        this.mapper = mapper;
        this.config = config;
    }

    /** How a node was reached from one side of a path search: the node before it and the edge between. */
    private record Step(String previous, String edge) {}

    public Uni<ObjectNode> path(String from, String to, String maxDepth, String direction) {
        return path(from, to, maxDepth, direction, null);
    }

    /**
     * A shortest path by hops, or with {@code weight} (an edge property) the lightest path of at most
     * {@code maxDepth} hops ({@link WeightedPath}).
     */
    public Uni<ObjectNode> path(String from, String to, String maxDepth, String direction, String weight) {
        GraphService.checkId("start node ('from')", from);
        GraphService.checkId("end node ('to')", to);
        if (weight != null) {
            GraphService.checkId("weight property", weight);
        }
        int depth = queries.count(
                "maxDepth", maxDepth, config.query().maxDepth(), config.query().maxDepth());
        Direction dir = Direction.parse(direction, Direction.OUT);
        long deadline = queries.deadline();
        return queries.bounded(conn -> queries.liveNodes(conn, List.of(from, to))
                .chain(ends -> {
                    for (String end : List.of(from, to)) {
                        if (!ends.containsKey(end)) {
                            throw ApiProblem.notFound("There is no node '" + end + "'.");
                        }
                    }
                    ObjectNode json = mapper.createObjectNode();
                    json.put("from", from).put("to", to).put("maxDepth", depth).put("direction", dir.wireName());
                    String along = (dir == Direction.BOTH ? "edges either way" : dir.wireName() + " edges");
                    String notFound =
                            "No path of at most " + depth + " hops from '" + from + "' to '" + to + "' along " + along
                                    + " (maxDepth goes up to loom.query.max-depth = "
                                    + config.query().maxDepth() + ").";
                    if (weight != null) {
                        json.put("weight", weight);
                        return new WeightedPath(
                                        conn,
                                        weight,
                                        dir,
                                        depth,
                                        config.query().maxResults(),
                                        x -> queries.checkDeadline(deadline))
                                .search(from, to)
                                .chain(found -> {
                                    if (found == null) {
                                        json.put("found", false);
                                        json.put(
                                                "detail",
                                                notFound.replace(
                                                        "No path",
                                                        "No path with a numeric '" + weight + "' on every edge"));
                                        return Uni.createFrom().item(json);
                                    }
                                    json.put("totalWeight", found.weight());
                                    json.put("edgesWithoutWeight", found.skippedEdges());
                                    return pathJson(conn, json, found.nodes(), found.edges());
                                });
                    }
                    Map<String, Step> forward = new HashMap<>();
                    Map<String, Step> backward = new HashMap<>();
                    forward.put(from, null);
                    backward.put(to, null);
                    Uni<String> meeting = from.equals(to)
                            ? Uni.createFrom().item(from)
                            : search(conn, List.of(from), List.of(to), 0, depth, dir, forward, backward, deadline);
                    return meeting.chain(meet -> {
                        if (meet == null) {
                            json.put("found", false);
                            json.put("detail", notFound);
                            return Uni.createFrom().item(json);
                        }
                        List<String> nodeIds = new ArrayList<>();
                        List<String> edgeIds = new ArrayList<>();
                        for (String at = meet;
                                at != null;
                                at = forward.get(at) == null
                                        ? null
                                        : forward.get(at).previous()) {
                            nodeIds.add(0, at);
                            if (forward.get(at) != null) {
                                edgeIds.add(0, forward.get(at).edge());
                            }
                        }
                        for (Step step = backward.get(meet); step != null; step = backward.get(step.previous())) {
                            nodeIds.add(step.previous());
                            edgeIds.add(step.edge());
                        }
                        return pathJson(conn, json, nodeIds, edgeIds);
                    });
                }));
    }

    /** A path found: its nodes and edges in order, read on the query's snapshot. */
    private Uni<ObjectNode> pathJson(SqlConnection conn, ObjectNode json, List<String> nodeIds, List<String> edgeIds) {
        return queries.liveNodes(conn, nodeIds)
                .chain(nodes -> conn.preparedQuery(QueryPool.LIVE_EDGES)
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
        queries.checkDeadline(deadline);
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
}
