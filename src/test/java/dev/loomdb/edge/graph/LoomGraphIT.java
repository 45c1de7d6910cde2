package dev.loomdb.edge.graph;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loomdb.edge.it.InProcessNode;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import io.smallrye.mutiny.Uni;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The graph's Java API, injected as code packaged with the node would: the seed's calls, REST's rules. */
@QuarkusTest
@WithTestResource(InProcessNode.class)
class LoomGraphIT {

    @Inject
    LoomGraph graph;

    private static <T> T await(Uni<T> call) {
        return call.await().atMost(Duration.ofSeconds(10));
    }

    private static ApiProblem refused(Uni<?> call) {
        return assertThrows(ApiProblem.class, () -> await(call));
    }

    @Test
    void theSeedsCallsWriteReadAndQueryTheGraph() {
        ObjectNode doc = await(graph.putNode("j-doc", "JDOC", Map.of("title", "boiling")));
        assertEquals(1, doc.get("version").asInt());
        await(graph.putNode("j-fact", "JFACT", Map.of("text", "water boils", "confidence", 0.9)));
        await(graph.putEdge("j-e", "JFROM", "j-fact", "j-doc", Map.of()));
        Map<String, Object> patch = new HashMap<>();
        patch.put("confidence", null);
        patch.put("checked", true);
        ObjectNode fact = await(graph.patchNode("j-fact", patch));
        assertTrue(fact.get("properties").has("checked"));
        assertTrue(!fact.get("properties").has("confidence"));

        // what the Java API wrote, REST reads
        assertEquals(
                "water boils", RestAssured.get("/api/nodes/j-fact").jsonPath().getString("properties.text"));
        assertEquals("JFACT", await(graph.getNode("j-fact")).get("type").asText());
        assertEquals("j-doc", await(graph.getEdge("j-e")).get("target").asText());

        JsonNode page = await(graph.queryNodes("JFACT", Map.of("checked", true), null, 10));
        assertEquals(1, page.get("items").size());
        assertEquals(
                0,
                await(graph.queryNodes("JFACT", Map.of("checked", false), null, 10))
                        .get("items")
                        .size());

        JsonNode neighbours = await(graph.neighbors("j-doc", "in", null, null, 10));
        assertEquals(
                "j-fact",
                neighbours.get("neighbors").get(0).get("node").get("id").asText());
        JsonNode reached = await(graph.traverse("j-fact", 2, "out", null, null, 100));
        assertEquals(2, reached.get("nodes").size());
        JsonNode path = await(graph.path("j-fact", "j-doc", 3, "out"));
        assertTrue(path.get("found").asBoolean());
        assertEquals(1, path.get("hops").asInt());

        await(graph.deleteEdge("j-e"));
        await(graph.deleteNode("j-doc"));
        assertEquals(404, refused(graph.getNode("j-doc")).status());
    }

    @Test
    void refusedCallsFailWithTheRestStatusAndDetail() {
        ApiProblem badId = refused(graph.putNode("", "T", Map.of()));
        assertEquals(400, badId.status());
        assertTrue(badId.getMessage().contains("empty"), badId.getMessage());
        assertEquals(400, refused(graph.putNode("j-x", null, Map.of())).status());
        assertEquals(404, refused(graph.deleteEdge("j-never")).status());
        await(graph.putNode("j-v", "JV", Map.of("n", 1)));
        assertEquals(
                412,
                refused(graph.putNode("j-v", "JV", Map.of("n", 2), "\"7\"")).status());
        ApiProblem tooDeep = refused(graph.traverse("j-v", 99, "out", null, null, 10));
        assertEquals(400, tooDeep.status());
        assertTrue(tooDeep.getMessage().contains("loom.query.max-depth"), tooDeep.getMessage());
    }

    @Test
    void aBatchIsOneTransaction() {
        JsonNode done = await(graph.batch(List.of(
                Map.of("op", "putNode", "id", "j-b1", "type", "JB", "properties", Map.of("k", 1)),
                Map.of("op", "putEdge", "id", "j-be", "type", "JL", "source", "j-b1", "target", "j-b1"))));
        assertEquals(2, done.get("applied").asInt());
        ApiProblem failed = refused(graph.batch(List.of(
                Map.of("op", "patchNode", "id", "j-b1", "properties", Map.of("k", 2)),
                Map.of("op", "deleteNode", "id", "j-b1", "ifMatch", 1))));
        assertEquals(412, failed.status());
        assertEquals(1, failed.operation());
        assertEquals(1, await(graph.getNode("j-b1")).get("properties").get("k").asInt());
    }
}
