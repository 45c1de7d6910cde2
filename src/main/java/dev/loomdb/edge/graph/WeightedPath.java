package dev.loomdb.edge.graph;

import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.SqlConnection;
import io.vertx.mutiny.sqlclient.Tuple;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongConsumer;

/**
 * A least-weight path of at most {@code maxHops} edges, the weight of an edge being a numeric property
 * of it. Hop-bounded Bellman-Ford, one statement per hop: each round relaxes the edges leaving the nodes
 * whose distance improved in the round before, using the distances as they were at the end of that
 * round, so after round {@code i} every distance is that of the lightest path of at most {@code i} hops:
 * the answer is exact for the hop bound. Rounds stop early when nothing improves; a relaxation that is
 * not lighter than the best path to the target found so far is dropped (weights are never negative).
 * Edges without a numeric, non-negative weight are not followed, and counted.
 */
final class WeightedPath {

    /**
     * The edges from a frontier to live nodes, with their weight or null ($1 frontier, $2 the weight
     * property, $3 follow source to target, $4 follow target to source).
     */
    private static final String STEP = "SELECT id, source_id AS near, target_id AS far, CASE WHEN"
            + " jsonb_typeof(properties -> $2) = 'number' THEN (properties ->> $2)::float8 END AS weight"
            + " FROM loom.edges e WHERE $3 AND source_id = ANY($1) AND NOT tombstone AND EXISTS (SELECT 1"
            + " FROM loom.nodes n WHERE n.id = e.target_id AND NOT n.tombstone)"
            + " UNION ALL SELECT id, target_id, source_id, CASE WHEN jsonb_typeof(properties -> $2) = 'number'"
            + " THEN (properties ->> $2)::float8 END FROM loom.edges e WHERE $4 AND target_id = ANY($1)"
            + " AND NOT tombstone AND EXISTS (SELECT 1 FROM loom.nodes n WHERE n.id = e.source_id AND NOT n.tombstone)"
            + " ORDER BY far, id";

    /** A node's distance as set in one round: the lightest path of at most that many hops, and its last edge. */
    private record Entry(int round, double distance, String previous, String edge) {}

    /** The path found (node and edge ids in order) and its weight, or none. */
    record Found(List<String> nodes, List<String> edges, double weight, long skippedEdges) {}

    private final SqlConnection conn;
    private final String property;
    private final Direction direction;
    private final int maxHops;
    private final int maxReached;
    private final LongConsumer checkDeadline;
    /** Per node, its distances by round, the latest last. */
    private final Map<String, List<Entry>> reached = new HashMap<>();

    private long skipped;
    private double best = Double.POSITIVE_INFINITY;

    WeightedPath(
            SqlConnection conn,
            String property,
            Direction direction,
            int maxHops,
            int maxReached,
            LongConsumer checkDeadline) {
        this.conn = conn;
        this.property = property;
        this.direction = direction;
        this.maxHops = maxHops;
        this.maxReached = maxReached;
        this.checkDeadline = checkDeadline;
    }

    Uni<Found> search(String from, String to) {
        reached.put(from, new ArrayList<>(List.of(new Entry(0, 0, null, null))));
        if (from.equals(to)) {
            return Uni.createFrom().item(new Found(List.of(from), List.of(), 0, 0));
        }
        return round(1, List.of(from), to).map(v -> found(from, to));
    }

    private Uni<Void> round(int round, List<String> frontier, String to) {
        if (round > maxHops || frontier.isEmpty()) {
            return Uni.createFrom().voidItem();
        }
        checkDeadline.accept(0);
        return conn.preparedQuery(STEP)
                .execute(Tuple.of(frontier.toArray(String[]::new), property, direction.out(), direction.in()))
                .chain(rows -> {
                    Map<String, Entry> improved = new HashMap<>();
                    for (Row row : rows) {
                        Double weight = row.getDouble("weight");
                        if (weight == null || weight < 0 || weight.isNaN() || weight.isInfinite()) {
                            skipped++;
                            continue;
                        }
                        String near = row.getString("near");
                        String far = row.getString("far");
                        double distance = at(near, round - 1).distance() + weight;
                        if (distance >= best) {
                            continue;
                        }
                        Entry current = improved.containsKey(far) ? improved.get(far) : latest(far);
                        if (current == null || distance < current.distance()) {
                            improved.put(far, new Entry(round, distance, near, row.getString("id")));
                        }
                    }
                    improved.forEach((node, entry) -> reached.computeIfAbsent(node, n -> new ArrayList<>())
                            .add(entry));
                    if (improved.containsKey(to)) {
                        best = improved.get(to).distance();
                    }
                    if (reached.size() > maxReached) {
                        throw new ApiProblem(
                                422,
                                "Query bound reached",
                                "The weighted path search reached more than " + maxReached
                                        + " nodes (loom.query.max-results); ask for fewer hops with maxDepth, or raise"
                                        + " the setting.");
                    }
                    List<String> next = new ArrayList<>(improved.keySet());
                    next.remove(to); // nothing lighter goes on through the target
                    next.sort(null);
                    return round(round + 1, next, to);
                });
    }

    /** The latest distance of a node, or null when it was not reached. */
    private Entry latest(String node) {
        List<Entry> entries = reached.get(node);
        return entries == null ? null : entries.get(entries.size() - 1);
    }

    /** A node's distance as it stood at the end of {@code round}: the latest entry set in that round or before. */
    private Entry at(String node, int round) {
        List<Entry> entries = reached.get(node);
        for (int i = entries.size() - 1; i >= 0; i--) {
            if (entries.get(i).round() <= round) {
                return entries.get(i);
            }
        }
        throw new IllegalStateException("node " + node + " had no distance by round " + round);
    }

    private Found found(String from, String to) {
        Entry end = latest(to);
        if (end == null) {
            return null;
        }
        List<String> nodes = new ArrayList<>();
        List<String> edges = new ArrayList<>();
        String node = to;
        Entry entry = end;
        while (entry.previous() != null) {
            nodes.add(0, node);
            edges.add(0, entry.edge());
            node = entry.previous();
            entry = at(node, entry.round() - 1);
        }
        nodes.add(0, from);
        return new Found(nodes, edges, end.distance(), skipped);
    }
}
