package dev.loomdb.edge.graph;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loomdb.edge.fuzz.Mutations;
import java.nio.charset.StandardCharsets;
import java.util.List;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * Mutation fuzzing of REST bodies up to the point where they would be written: strict UTF-8, JSON, the
 * node and edge rules. Whatever the bytes, the answer is a write ready to run or an {@link ApiProblem}
 * with a 4xx status — never another exception (which would be a 500).
 */
class BodyFuzzTest {

    private final GraphService graph = new GraphService(null, new ObjectMapper(), null);

    private static List<byte[]> bodies() {
        return List.of(
                        "{\"type\":\"FACT\",\"properties\":{\"text\":\"água ferve\",\"n\":1e-30,\"deep\":{\"a\":[1,{\"b\":null}]}}}",
                        "{\"id\":\"n-1\",\"type\":\"AGENT\",\"properties\":{}}",
                        "{\"type\":\"L\",\"source\":\"a\",\"target\":\"b\",\"properties\":{\"w\":2}}",
                        "{\"properties\":{\"gone\":null,\"x\":\"\\u0000\\ud83e\\uddf5\"}}")
                .stream()
                .map(s -> s.getBytes(StandardCharsets.UTF_8))
                .toList();
    }

    @Provide
    Arbitrary<byte[]> mutatedBodies() {
        return Mutations.of(bodies());
    }

    @Property(tries = 1000)
    void aBodyIsAWriteOrA4xxProblem(@ForAll("mutatedBodies") byte[] body) {
        for (String kind : List.of("node", "patch", "edge")) {
            try {
                var json = graph.json(Bodies.utf8(body), "a body");
                GraphService.Write write = switch (kind) {
                    case "node" ->
                        graph.putNode("n-1", GraphService.checkFields(json, GraphService.NODE_FIELDS, "a node"), null);
                    case "patch" ->
                        graph.patchNode(
                                "n-1", GraphService.checkFields(json, GraphService.NODE_FIELDS, "a node"), "\"3\"");
                    default ->
                        graph.putEdge("n-1", GraphService.checkFields(json, GraphService.EDGE_FIELDS, "an edge"), "*");
                };
                if (write == null) {
                    throw new AssertionError("no write and no problem");
                }
            } catch (ApiProblem problem) {
                if (problem.status() < 400 || problem.status() > 499) {
                    throw new AssertionError("status " + problem.status() + ": " + problem.getMessage());
                }
            }
        }
    }
}
