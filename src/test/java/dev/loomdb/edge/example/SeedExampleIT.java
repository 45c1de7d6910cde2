package dev.loomdb.edge.example;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.loomdb.edge.it.Browser;
import dev.loomdb.edge.it.Mesh;
import dev.loomdb.edge.it.NodeProcess;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.openqa.selenium.By;

/**
 * The seed's example ({@link SeedExample}) on two nodes: both end with the same graph (digest) and the
 * same export, every fact evaluated on B is known on A, and each side counts what both did.
 * {@code mvn -B verify -Pexample} runs only this, printing what each node did.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class SeedExampleIT {

    private static final Duration LIVE = Duration.ofSeconds(10);

    @RegisterExtension
    static final Mesh mesh = Mesh.named("seed-example").nodes("extractor", "evaluator");

    @Test
    @Order(1)
    void theExtractorAndTheEvaluatorEndWithTheSameGraph() throws Exception {
        NodeProcess a = mesh.node("extractor");
        NodeProcess b = mesh.node("evaluator");
        SeedExample.Outcome outcome = new SeedExample(a, b, System.out).run();

        int facts = SeedExample.FACTS.size();
        Map<String, Integer> expected = Map.of(
                "AGENT",
                2,
                "CRITERION",
                SeedExample.CRITERIA.size(),
                "DOCUMENT",
                1,
                "EVALUATION",
                facts,
                "FACT",
                facts);
        assertEquals(expected, outcome.typesOnA());
        assertEquals(expected, outcome.typesOnB());
        assertEquals(outcome.exportOnA(), outcome.exportOnB(), "the two nodes' D3 exports");
        assertEquals(facts, outcome.evaluationsOnA());
        assertEquals(3, outcome.pathHops(), "agent-extractor -> fact <- evaluation <- agent-evaluator");
        assertEquals(
                a.api().get("/api/export/graphml").asString(),
                b.api().get("/api/export/graphml").asString());
        assertEquals(
                a.api().get("/api/sync/digest").jsonPath().getString("sha256"),
                b.api().get("/api/sync/digest").jsonPath().getString("sha256"));
    }

    /**
     * The live view in headless Chromium ({@link Browser}) on the example's graph: node B's page draws it,
     * and shows without a reload, within seconds, what node A writes and deletes; A is among B's peers.
     * Leaves the README's picture in {@code target/seed-example.png}.
     */
    @Test
    @Order(2)
    void theLiveViewShowsWhatAnotherNodeWritesWithinSeconds() throws Exception {
        Browser.assumeInstalled();
        NodeProcess a = mesh.node("extractor");
        NodeProcess b = mesh.node("evaluator");
        try (Browser browser = Browser.openLiveView(b)) {
            await().atMost(LIVE).until(() -> count(browser) == 16);
            browser.screenshot(Path.of("target", "seed-example.png"));
            assertEquals(
                    b.nodeId(), browser.driver().findElement(By.id("node-id")).getText());
            assertEquals(
                    "connected", browser.driver().findElement(By.id("broker")).getText());
            await().atMost(LIVE)
                    .until(() -> !browser.driver()
                            .findElements(By.cssSelector("#peers li[data-peer='" + a.nodeId() + "']"))
                            .isEmpty());

            a.api()
                    .body("{\"operations\":["
                            + "{\"op\":\"putNode\",\"id\":\"lv-fact\",\"type\":\"FACT\",\"properties\":{}},"
                            + "{\"op\":\"putEdge\",\"id\":\"lv-e\",\"type\":\"EXTRACTED_FROM\","
                            + "\"source\":\"lv-fact\",\"target\":\"doc-boiling\"}]}")
                    .post("/api/batch")
                    .then()
                    .statusCode(200);
            await().atMost(LIVE).until(() -> shown(browser, "has('lv-fact')"));
            await().atMost(LIVE).until(() -> shown(browser, "hasEdge('lv-e')"));
            a.api().delete("/api/nodes/lv-fact").then().statusCode(204);
            await().atMost(LIVE).until(() -> !shown(browser, "has('lv-fact')"));
            assertEquals(16, count(browser));
        }
    }

    private static int count(Browser browser) {
        return ((Number) browser.script("return window.loomView.counts().nodes")).intValue();
    }

    private static boolean shown(Browser browser, String call) {
        return Boolean.TRUE.equals(browser.script("return window.loomView." + call));
    }
}
