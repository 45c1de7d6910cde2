package dev.loomdb.edge.bench;

import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loomdb.edge.it.Infra;
import dev.loomdb.edge.it.NodeProcess;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Graph queries through the REST API on a large graph with a skewed degree distribution: 1,000,000
 * nodes and 5,000,000 edges (quick mode: a tenth), sources drawn as {@code N × r^1.6} (a few nodes
 * with hundreds of edges, most with a handful), targets uniform. The graph is loaded by SQL in an
 * apply session, so that capture leaves it out (it is this node's graph, not a change to sync), with
 * the secondary indexes built after the load; its load time is not part of any figure. Latencies of
 * neighbours, 3-hop traversals and shortest paths (pairs without a path included) against the
 * goals; neighbours also against the same statement over JDBC (what the REST layer adds).
 */
class QueryBench {

    private static final boolean QUICK = BenchResults.QUICK;
    private static final int NODES = QUICK ? 100_000 : 1_000_000;
    private static final int EDGES = 5 * NODES;
    private static final int SAMPLES = QUICK ? 100 : 200;
    private static final int WARM_UP = QUICK ? 300 : 1500;

    private final Path root = Infra.workDir("bench-query");
    private final String suffix = Infra.suffix();

    @Test
    void neighboursTraversalsAndPathsOnALargeGraph() throws Exception {
        System.out.printf(
                Locale.ROOT,
                "%nGraph queries (%s mode, %s): %,d nodes + %,d edges%n",
                QUICK ? "quick" : "full",
                Infra.external() ? "machine PostgreSQL 15 + Mosquitto" : "embedded PostgreSQL + broker",
                NODES,
                EDGES);
        try (NodeProcess a = NodeProcess.create(
                        root,
                        "q-" + suffix,
                        "bench-q-" + suffix,
                        Infra.brokerHost(),
                        Infra.brokerPort(),
                        !Infra.external())
                .with("loom.query.timeout", "60s")
                .start()
                .awaitReady()) {
            long loading = System.nanoTime();
            load(a);
            System.out.printf(Locale.ROOT, "  loaded in %.0f s%n", (System.nanoTime() - loading) / 1e9);
            Random random = new Random(42);
            String[] ids = new String[SAMPLES];
            for (int i = 0; i < SAMPLES; i++) {
                ids[i] = "n" + (1 + random.nextInt(NODES));
            }
            String[] others = new String[WARM_UP];
            for (int i = 0; i < WARM_UP; i++) {
                others[i] = "n" + (1 + random.nextInt(NODES));
            }
            warm(a, others);
            // the measured neighbourhoods' pages read once, untimed, so that REST and JDBC below find the
            // same cache (a first run measured REST on cold pages and JDBC after it on warm ones)
            jdbcNeighbours(a, ids);

            double[] one = time(SAMPLES, i -> get(a, "/api/nodes/" + ids[i]));
            double[] neighbours = time(SAMPLES, i -> get(a, "/api/nodes/" + ids[i] + "/neighbors?limit=1000"));
            double[] jdbc = jdbcNeighbours(a, ids);
            double[] traverseBoth = time(
                    SAMPLES,
                    i -> get(a, "/api/graph/traverse?from=" + ids[i] + "&maxDepth=3&direction=both&limit=10000"));
            double[] traverseOut =
                    time(SAMPLES, i -> get(a, "/api/graph/traverse?from=" + ids[i] + "&maxDepth=3&limit=10000"));
            int[] found = new int[1];
            double[] paths = time(SAMPLES, i -> {
                JsonNode r = get(a, "/api/graph/path?from=" + ids[i] + "&to=" + ids[(i + 1) % SAMPLES] + "&maxDepth=6");
                if (r.path("found").asBoolean()) {
                    found[0]++;
                }
                return r;
            });
            System.out.printf(Locale.ROOT, "  paths found: %d of %d pairs%n", found[0], SAMPLES);

            // weighted: to a node 3 hops out (the last one a traversal reaches), by the edges' 'weight' (0-12)
            String[] far = new String[SAMPLES];
            for (int i = 0; i < SAMPLES; i++) {
                JsonNode reached = get(a, "/api/graph/traverse?from=" + ids[i] + "&maxDepth=3&limit=10000")
                        .get("nodes");
                far[i] = reached.get(reached.size() - 1).get("node").get("id").asText();
            }
            int[] bound = new int[1];
            double[] weighted = time(SAMPLES, i -> {
                int status =
                        status(a, "/api/graph/path?from=" + ids[i] + "&to=" + far[i] + "&maxDepth=3&weight=weight");
                if (status == 422) {
                    bound[0]++;
                }
                return null;
            });
            System.out.printf(
                    Locale.ROOT, "  weighted paths: %d of %d stopped at loom.query.max-results%n", bound[0], SAMPLES);

            // the whole graph exported, streamed: time, size, and the node's peak memory before and after
            long peakBefore = peakRssKb(a);
            long started = System.nanoTime();
            long bytes = HTTP.send(
                            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + a.httpPort() + "/api/export/d3"))
                                    .build(),
                            HttpResponse.BodyHandlers.ofInputStream())
                    .body()
                    .transferTo(java.io.OutputStream.nullOutputStream());
            double exportSeconds = (System.nanoTime() - started) / 1e9;
            long peakAfter = peakRssKb(a);
            System.out.printf(
                    Locale.ROOT,
                    "  D3 export of the whole graph: %,d bytes in %.1f s (%,.0f rows/s); node's peak RSS %,d KB before,"
                            + " %,d KB after%n",
                    bytes,
                    exportSeconds,
                    (NODES + EDGES) / exportSeconds,
                    peakBefore,
                    peakAfter);
            BenchResults.add(
                    "D3 export, node's peak RSS after / before, KB",
                    new double[] {peakAfter},
                    new double[] {peakBefore},
                    "peak RSS before the export",
                    "KB",
                    "streamed: the export should not grow the node by the graph's size (" + bytes / 1024 + " KB)");

            BenchResults.add(
                    "neighbours (limit 1000) over REST, median ms",
                    new double[] {percentile(neighbours, 50)},
                    new double[] {percentile(jdbc, 50)},
                    "the same statement over JDBC",
                    "ms",
                    "goal: median <= 2 ms");
            BenchResults.add(
                    "neighbours (limit 1000) over REST, median ms ",
                    new double[] {percentile(neighbours, 50)},
                    new double[] {percentile(one, 50)},
                    "GET /api/nodes/{id} (one row) over REST",
                    "ms",
                    "what the HTTP layer costs");
            goal("neighbours, median ms", neighbours, 50, 2);
            goal("neighbours, p95 ms", neighbours, 95, 10);
            goal("traversal 3 hops both ways (cap 10,000), median ms", traverseBoth, 50, 50);
            goal("traversal 3 hops both ways (cap 10,000), p95 ms", traverseBoth, 95, 250);
            goal("traversal 3 hops out, median ms", traverseOut, 50, 10);
            goal("traversal 3 hops out, p95 ms", traverseOut, 95, 50);
            goal("shortest path <= 6 hops, median ms", paths, 50, 100);
            goal("shortest path <= 6 hops, p95 ms", paths, 95, 500);
            BenchResults.add(
                    "weighted path <= 3 hops, median ms",
                    new double[] {percentile(weighted, 50)},
                    new double[] {percentile(paths, 50)},
                    "shortest path by hops <= 6, median",
                    "ms",
                    "no goal set; p95 " + String.format(Locale.ROOT, "%.1f", percentile(weighted, 95)) + " ms");
        }
    }

    private static void goal(String name, double[] millis, int p, double goal) {
        BenchResults.add(name, new double[] {percentile(millis, p)}, new double[] {goal}, "goal", "ms", "goal: <= 1.0");
    }

    /** The graph, written as an apply session writes peers' rows: capture leaves it out. */
    private static void load(NodeProcess a) throws Exception {
        try (Connection sql = a.sql();
                Statement s = sql.createStatement()) {
            List<String> definitions = new ArrayList<>();
            try (ResultSet rs = s.executeQuery("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'loom'"
                    + " AND tablename IN ('nodes', 'edges') AND indexname NOT IN ('nodes_pkey', 'edges_pkey')")) {
                while (rs.next()) {
                    definitions.add(rs.getString(2));
                    try (Statement drop = sql.createStatement()) {
                        drop.execute("DROP INDEX loom." + rs.getString(1));
                    }
                }
            }
            s.execute("SELECT pg_replication_origin_create('loom_bench_load') WHERE NOT EXISTS"
                    + " (SELECT 1 FROM pg_replication_origin WHERE roname = 'loom_bench_load')");
            s.execute("SELECT pg_replication_origin_session_setup('loom_bench_load')");
            s.execute("SET loom.apply = 'on'");
            s.execute("INSERT INTO loom.nodes (id, type, properties, hlc, version, origin, applied) SELECT 'n' || g,"
                    + " 'T' || (g % 10), jsonb_build_object('name', 'node ' || g, 'w', g % 97), 1, 1, 'bench', true"
                    + " FROM generate_series(1, " + NODES + ") g");
            s.execute("INSERT INTO loom.edges (id, type, source_id, target_id, properties, hlc, version, origin,"
                    + " applied) SELECT 'e' || g, 'L' || (g % 5), 'n' || (1 + floor(" + NODES
                    + " * power(random(), 1.6)))::int, 'n' || (1 + floor(" + NODES + " * random()))::int,"
                    + " jsonb_build_object('weight', g % 13), 1, 1, 'bench', true FROM generate_series(1, " + EDGES
                    + ") g");
            s.execute("SELECT pg_replication_origin_session_reset()");
            s.execute("RESET loom.apply");
            s.execute("SET maintenance_work_mem = '256MB'");
            for (String definition : definitions) {
                s.execute(definition);
            }
            s.execute("ANALYZE loom.nodes");
            s.execute("ANALYZE loom.edges");
            try (ResultSet rs = s.executeQuery("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")) {
                rs.next();
                long written = rs.getLong(1);
                await("the node's capture has read past the load (it leaves it out), so it does not compete")
                        .atMost(Duration.ofMinutes(15))
                        .pollInterval(Duration.ofSeconds(1))
                        .until(() -> a.confirmedFlushLsn(sql) >= written);
            }
            try (ResultSet rs = s.executeQuery("SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY d), max(d) FROM"
                    + " (SELECT count(*) d FROM (SELECT source_id n FROM loom.edges UNION ALL SELECT target_id FROM"
                    + " loom.edges) x GROUP BY n) y")) {
                rs.next();
                System.out.printf(
                        Locale.ROOT, "  total degree: median %.0f, largest %d%n", rs.getDouble(1), rs.getLong(2));
            }
        }
    }

    /**
     * Warms the node's JIT on other nodes than those measured (a first run warmed 50 requests of each kind
     * and measured the REST path still compiling): every kind of request, the light ones most.
     */
    private static void warm(NodeProcess a, String[] ids) {
        for (int i = 0; i < ids.length; i++) {
            get(a, "/api/nodes/" + ids[i]);
            get(a, "/api/nodes/" + ids[i] + "/neighbors?limit=1000");
            if (i % 5 == 0) {
                get(a, "/api/graph/traverse?from=" + ids[i] + "&maxDepth=2&direction=both&limit=1000");
                get(a, "/api/graph/path?from=" + ids[i] + "&to=" + ids[(i + 7) % ids.length] + "&maxDepth=4");
            }
        }
    }

    private static int status(NodeProcess a, String path) {
        try {
            return HTTP.send(
                            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + a.httpPort() + path))
                                    .build(),
                            HttpResponse.BodyHandlers.discarding())
                    .statusCode();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** The node process's peak resident memory (VmHWM), in KB. */
    private static long peakRssKb(NodeProcess a) throws IOException {
        for (String line :
                java.nio.file.Files.readAllLines(Path.of("/proc", a.process().pid() + "", "status"))) {
            if (line.startsWith("VmHWM:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        throw new IllegalStateException("no VmHWM for the node's process");
    }

    /** A plain HTTP client on a kept-alive connection: RestAssured's own cost per request would hide the node's. */
    private static final HttpClient HTTP =
            HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    private static final ObjectMapper JSON = new ObjectMapper();

    private static JsonNode get(NodeProcess a, String path) {
        try {
            HttpResponse<String> response = HTTP.send(
                    HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + a.httpPort() + path))
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            if (response.statusCode() != 200) {
                throw new AssertionError(path + " answered " + response.statusCode() + ": " + response.body());
            }
            return JSON.readTree(response.body());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private interface Call {
        JsonNode run(int i) throws Exception;
    }

    private static double[] time(int samples, Call call) throws Exception {
        double[] millis = new double[samples];
        for (int i = 0; i < samples; i++) {
            long started = System.nanoTime();
            call.run(i);
            millis[i] = (System.nanoTime() - started) / 1e6;
        }
        return millis;
    }

    /** The neighbours statement of the REST API, with its node rows, over JDBC. */
    private static double[] jdbcNeighbours(NodeProcess a, String[] ids) throws Exception {
        double[] millis = new double[ids.length];
        try (Connection sql = a.sql();
                PreparedStatement edges = sql.prepareStatement("SELECT * FROM (SELECT 'out' AS direction, target_id"
                        + " AS other, id, type, source_id, target_id, properties::text, version, hlc, origin FROM"
                        + " loom.edges e WHERE source_id = ? AND NOT tombstone AND EXISTS (SELECT 1 FROM loom.nodes n"
                        + " WHERE n.id = e.target_id AND NOT n.tombstone) UNION ALL SELECT 'in', source_id, id, type,"
                        + " source_id, target_id, properties::text, version, hlc, origin FROM loom.edges e WHERE"
                        + " target_id = ? AND NOT tombstone AND EXISTS (SELECT 1 FROM loom.nodes n WHERE n.id ="
                        + " e.source_id AND NOT n.tombstone)) x ORDER BY direction DESC, id LIMIT 1001");
                PreparedStatement nodes = sql.prepareStatement("SELECT id, type, properties::text, version, hlc,"
                        + " origin FROM loom.nodes WHERE id = ANY(?) AND NOT tombstone")) {
            for (int i = 0; i < ids.length; i++) {
                long started = System.nanoTime();
                List<String> others = new ArrayList<>(List.of(ids[i]));
                edges.setString(1, ids[i]);
                edges.setString(2, ids[i]);
                try (ResultSet rs = edges.executeQuery()) {
                    while (rs.next()) {
                        others.add(rs.getString(2));
                    }
                }
                nodes.setArray(1, sql.createArrayOf("text", others.toArray()));
                try (ResultSet rs = nodes.executeQuery()) {
                    while (rs.next()) {
                        rs.getString(3);
                    }
                }
                millis[i] = (System.nanoTime() - started) / 1e6;
            }
        }
        return millis;
    }

    private static double percentile(double[] values, int p) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        int index = (int) Math.ceil(p / 100.0 * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, index))];
    }
}
