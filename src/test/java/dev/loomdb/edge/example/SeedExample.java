package dev.loomdb.edge.example;

import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loomdb.edge.it.NodeProcess;
import dev.loomdb.edge.it.SseClient;
import java.io.PrintStream;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The seed's showcase on two nodes. Node A is the extractor: it records a document, its extractor agent
 * and the facts it extracts, each fact linked to both. Node B is the evaluator: it defines its criteria,
 * and for each fact that arrives from A (a {@code remote-change} event on B's event stream) writes an
 * evaluation linked to the fact, the criteria and its agent, as one batch. The evaluations sync back to
 * A. Then both nodes query the graph they now share and export it, and the exports are compared.
 *
 * <p>Run it with {@code mvn -B verify -Pexample} (two nodes, embedded PostgreSQL and broker); {@code
 * SeedExampleIT} runs it in the suite and checks the outcome.
 */
public final class SeedExample {

    static final String DOCUMENT = "doc-boiling";
    static final List<String> FACTS = List.of(
            "Water boils at 100 degrees Celsius at sea level.",
            "The boiling point drops as altitude rises.",
            "At 3000 m water boils at about 90 degrees Celsius.",
            "Salt raises the boiling point slightly.",
            "Pressure cookers raise the boiling point to about 120 degrees Celsius.");
    static final List<String> CRITERIA = List.of("has-a-number", "names-a-unit", "concise");

    /** What the example ends with, as each node sees it. */
    public record Outcome(
            Map<String, Integer> typesOnA,
            Map<String, Integer> typesOnB,
            String exportOnA,
            String exportOnB,
            int evaluationsOnA,
            int pathHops) {}

    private final NodeProcess a;
    private final NodeProcess b;
    private final PrintStream out;
    private final ObjectMapper mapper = new ObjectMapper();

    public SeedExample(NodeProcess extractor, NodeProcess evaluator, PrintStream out) {
        this.a = extractor;
        this.b = evaluator;
        this.out = out;
    }

    public Outcome run() throws Exception {
        String na = "A (" + a.nodeId() + ", extractor)";
        String nb = "B (" + b.nodeId() + ", evaluator)";
        Set<String> evaluated = ConcurrentHashMap.newKeySet();
        ExecutorService evaluator = Executors.newSingleThreadExecutor();

        // B: criteria and its agent, then it listens for facts from its peers
        for (String criterion : CRITERIA) {
            put(
                    b,
                    "/api/nodes/criterion-" + criterion,
                    Map.of("type", "CRITERION", "properties", Map.of("name", criterion)));
        }
        put(b, "/api/nodes/agent-evaluator", Map.of("type", "AGENT", "properties", Map.of("role", "evaluator")));
        say(nb, "defined " + CRITERIA.size() + " criteria " + CRITERIA + " and its agent");
        try (SseClient facts = new SseClient(b.httpPort(), "/api/sync/events?kind=remote-change&type=FACT", event -> {
            if ("remote-change".equals(event.name())) {
                evaluator.submit(() -> evaluate(nb, event.data(), evaluated));
            }
        })) {
            facts.awaitSubscribed();

            // A: the document, its agent, and the facts, each one batch with its relationships
            put(
                    a,
                    "/api/nodes/" + DOCUMENT,
                    Map.of(
                            "type",
                            "DOCUMENT",
                            "properties",
                            Map.of("title", "Boiling water", "source", "seed example")));
            put(a, "/api/nodes/agent-extractor", Map.of("type", "AGENT", "properties", Map.of("role", "extractor")));
            say(na, "created document " + DOCUMENT + " and agent-extractor");
            for (int i = 0; i < FACTS.size(); i++) {
                String fact = "fact-" + (i + 1);
                batch(
                        a,
                        List.of(
                                Map.of(
                                        "op",
                                        "putNode",
                                        "id",
                                        fact,
                                        "type",
                                        "FACT",
                                        "properties",
                                        Map.of("text", FACTS.get(i), "position", i + 1)),
                                Map.of(
                                        "op",
                                        "putEdge",
                                        "id",
                                        fact + "-from",
                                        "type",
                                        "EXTRACTED_FROM",
                                        "source",
                                        fact,
                                        "target",
                                        DOCUMENT),
                                Map.of(
                                        "op",
                                        "putEdge",
                                        "id",
                                        fact + "-by",
                                        "type",
                                        "PRODUCED",
                                        "source",
                                        "agent-extractor",
                                        "target",
                                        fact)));
                say(na, "extracted " + fact + ": \"" + FACTS.get(i) + "\"");
            }

            // B evaluates each fact as it arrives; the evaluations travel back to A
            await().atMost(Duration.ofSeconds(60)).until(() -> evaluated.size() == FACTS.size());
            await().atMost(Duration.ofSeconds(60)).until(() -> count(a, "EVALUATION") == FACTS.size());
        } finally {
            evaluator.shutdownNow();
        }
        say(na, "received all " + FACTS.size() + " evaluations from B");
        await().atMost(Duration.ofSeconds(60)).until(() -> digest(a).equals(digest(b)));

        // both: query and export the graph they share
        Map<String, Integer> typesOnA = types(a);
        Map<String, Integer> typesOnB = types(b);
        say(na, "nodes by type " + typesOnA);
        say(nb, "nodes by type " + typesOnB);
        JsonNode reach = json(a, "/api/graph/traverse?from=" + DOCUMENT + "&maxDepth=2&direction=in");
        say(na, "within 2 hops into " + DOCUMENT + ": " + reach.get("nodes").size() + " nodes");
        JsonNode path = json(b, "/api/graph/path?from=agent-extractor&to=agent-evaluator&direction=both");
        StringBuilder route = new StringBuilder();
        path.get("nodes")
                .forEach(n -> route.append(route.isEmpty() ? "" : " - ")
                        .append(n.get("id").asText()));
        say(nb, "shortest path between the agents, " + path.get("hops") + " hops: " + route);
        String exportA = sha256(a.api().get("/api/export/d3").asByteArray());
        String exportB = sha256(b.api().get("/api/export/d3").asByteArray());
        say(na, "D3 export sha256 " + exportA);
        say(nb, "D3 export sha256 " + exportB);
        out.println(
                exportA.equals(exportB)
                        ? "Both nodes hold the same graph: their exports are equal."
                        : "The exports differ!");
        return new Outcome(
                typesOnA,
                typesOnB,
                exportA,
                exportB,
                count(a, "EVALUATION"),
                path.get("hops").asInt());
    }

    /** B's reaction to one fact: an evaluation against each criterion, written as one batch. */
    private void evaluate(String who, String data, Set<String> evaluated) {
        String fact = null;
        try {
            JsonNode change = mapper.readTree(data).get("change");
            if (change.get("tombstone").asBoolean()
                    || !evaluated.add(change.get("id").asText())) {
                return;
            }
            fact = change.get("id").asText();
            String text = change.get("properties").get("text").asText();
            Map<String, Boolean> met = Map.of(
                    "has-a-number",
                    text.matches(".*\\d.*"),
                    "names-a-unit",
                    text.contains("Celsius") || text.contains(" m "),
                    "concise",
                    text.length() <= 50);
            long score = met.values().stream().filter(v -> v).count();
            String evaluation = "eval-" + fact;
            List<Map<String, Object>> operations = new java.util.ArrayList<>();
            operations.add(Map.of(
                    "op",
                    "putNode",
                    "id",
                    evaluation,
                    "type",
                    "EVALUATION",
                    "properties",
                    Map.of("score", score, "of", CRITERIA.size(), "met", new TreeMap<>(met))));
            operations.add(Map.of(
                    "op",
                    "putEdge",
                    "id",
                    evaluation + "-of",
                    "type",
                    "EVALUATES",
                    "source",
                    evaluation,
                    "target",
                    fact));
            operations.add(Map.of(
                    "op",
                    "putEdge",
                    "id",
                    evaluation + "-by",
                    "type",
                    "PRODUCED",
                    "source",
                    "agent-evaluator",
                    "target",
                    evaluation));
            for (String criterion : CRITERIA) {
                operations.add(Map.of(
                        "op",
                        "putEdge",
                        "id",
                        evaluation + "-" + criterion,
                        "type",
                        "APPLIES",
                        "source",
                        evaluation,
                        "target",
                        "criterion-" + criterion,
                        "properties",
                        Map.of("met", met.get(criterion))));
            }
            batch(b, operations);
            say(
                    who,
                    "evaluated " + fact + " from " + change.get("origin").asText() + ": " + score + "/"
                            + CRITERIA.size());
        } catch (Exception e) {
            say(who, "could not evaluate " + fact + ": " + e);
        }
    }

    private void say(String who, String what) {
        synchronized (out) {
            out.printf("%-40s %s%n", who, what);
        }
    }

    private void put(NodeProcess node, String path, Map<String, Object> body) throws Exception {
        int status = node.api().body(mapper.writeValueAsString(body)).put(path).statusCode();
        if (status != 200 && status != 201) {
            throw new IllegalStateException("PUT " + path + " answered " + status);
        }
    }

    private void batch(NodeProcess node, List<? extends Map<String, Object>> operations) throws Exception {
        ObjectNode body = mapper.createObjectNode();
        ArrayNode list = body.putArray("operations");
        for (Map<String, Object> operation : operations) {
            list.add(mapper.valueToTree(operation));
        }
        var response = node.api().body(body.toString()).post("/api/batch");
        if (response.statusCode() != 200) {
            throw new IllegalStateException("batch refused: " + response.asString());
        }
    }

    private JsonNode json(NodeProcess node, String path) throws Exception {
        return mapper.readTree(node.api().get(path).asString());
    }

    private int count(NodeProcess node, String type) throws Exception {
        return json(node, "/api/nodes?type=" + type + "&limit=1000")
                .get("items")
                .size();
    }

    private String digest(NodeProcess node) throws Exception {
        return json(node, "/api/sync/digest").get("sha256").asText();
    }

    /** Live nodes by type, counted from the export (the stats endpoint may be up to 30 s old). */
    private Map<String, Integer> types(NodeProcess node) throws Exception {
        Map<String, Integer> types = new TreeMap<>();
        json(node, "/api/export/d3")
                .get("nodes")
                .forEach(n -> types.merge(n.get("type").asText(), 1, Integer::sum));
        return types;
    }

    private static String sha256(byte[] bytes) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }
}
