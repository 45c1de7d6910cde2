package dev.loomdb.edge.it;

import static org.awaitility.Awaitility.await;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.endsWith;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.nullValue;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.restassured.path.json.JsonPath;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/** The REST API of one node: semantics, pagination and every error as application/problem+json. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RestApiIT {

    private static final String PROBLEM = "application/problem+json";
    private NodeProcess node;
    private Path root;

    @BeforeAll
    void start() {
        root = Infra.workDir("rest");
        String suffix = Infra.suffix();
        node = NodeProcess.create(
                root, "r-" + suffix, "rest-" + suffix, Infra.brokerHost(), Infra.brokerPort(), !Infra.external());
        node.start().awaitReady();
    }

    @AfterAll
    void stop() {
        if (node != null) {
            node.close();
        }
    }

    @Test
    void putCreatesThenReplaces() {
        node.api()
                .body("{\"type\":\"AGENT\",\"properties\":{\"a\":1,\"b\":2}}")
                .put("/api/nodes/p-1")
                .then()
                .statusCode(201)
                .header("Location", endsWith("/api/nodes/p-1"))
                .body("version", equalTo(1))
                .body("origin", equalTo(node.nodeId()));
        node.api()
                .body("{\"type\":\"FACT\",\"properties\":{\"a\":3}}")
                .put("/api/nodes/p-1")
                .then()
                .statusCode(200)
                .body("type", equalTo("FACT"))
                .body("properties.a", equalTo(3))
                .body("properties.b", nullValue())
                .body("version", equalTo(2));
    }

    @Test
    void clockOfAWriteIsLaterThanTheClockItReplaced() {
        String first = node.api()
                .body("{\"type\":\"A\"}")
                .put("/api/nodes/clock-1")
                .jsonPath()
                .getString("hlc");
        String second = node.api()
                .body("{\"type\":\"A\"}")
                .put("/api/nodes/clock-1")
                .jsonPath()
                .getString("hlc");
        assertTrue(Long.parseLong(second) > Long.parseLong(first), first + " then " + second);
    }

    @Test
    void deletedNodeIsGoneAndCanBeCreatedAgain() {
        node.api().body("{\"type\":\"AGENT\"}").put("/api/nodes/d-1").then().statusCode(201);
        node.api().delete("/api/nodes/d-1").then().statusCode(204);
        node.api().get("/api/nodes/d-1").then().statusCode(404).contentType(PROBLEM);
        node.api().delete("/api/nodes/d-1").then().statusCode(404).contentType(PROBLEM);
        node.api()
                .body("{\"type\":\"AGENT\"}")
                .put("/api/nodes/d-1")
                .then()
                .statusCode(201)
                .body("version", equalTo(3));
    }

    @Test
    void keysetPaginationWalksEveryNodeOfAType() {
        List<String> expected = new ArrayList<>();
        for (int i = 0; i < 7; i++) {
            String id = "page-" + i;
            expected.add(id);
            node.api()
                    .body("{\"type\":\"PAGED\"}")
                    .put("/api/nodes/" + id)
                    .then()
                    .statusCode(201);
        }
        node.api().body("{\"type\":\"OTHER\"}").put("/api/nodes/page-x").then().statusCode(201);
        List<String> seen = new ArrayList<>();
        String after = null;
        int pages = 0;
        do {
            var request = node.api().queryParam("type", "PAGED").queryParam("limit", 3);
            if (after != null) {
                request.queryParam("after", after);
            }
            JsonPath page =
                    request.get("/api/nodes").then().statusCode(200).extract().jsonPath();
            seen.addAll(page.getList("items.id"));
            after = page.getString("next");
            pages++;
        } while (after != null);
        assertEquals(expected, seen);
        assertEquals(3, pages);
    }

    @Test
    void edgesNeedSourceAndTargetAndFilterByThem() {
        node.api()
                .body("{\"type\":\"LINK\",\"source\":\"s-1\"}")
                .put("/api/edges/bad-edge")
                .then()
                .statusCode(400)
                .contentType(PROBLEM)
                .body("detail", containsString("'target'"));
        node.api()
                .body("{\"type\":\"LINK\",\"source\":\"s-1\",\"target\":\"t-1\"}")
                .put("/api/edges/l-1")
                .then()
                .statusCode(201)
                .body("source", equalTo("s-1"));
        node.api()
                .body("{\"type\":\"LINK\",\"source\":\"s-2\",\"target\":\"t-1\"}")
                .put("/api/edges/l-2")
                .then()
                .statusCode(201);
        node.api()
                .queryParam("target", "t-1")
                .queryParam("source", "s-2")
                .get("/api/edges")
                .then()
                .body("items.id", equalTo(List.of("l-2")));
    }

    @Test
    void malformedJsonIs400WithWhereItBroke() {
        node.api()
                .body("{\"type\": ")
                .put("/api/nodes/m-1")
                .then()
                .statusCode(400)
                .contentType(PROBLEM)
                .body("status", equalTo(400))
                .body("detail", containsString("not valid JSON"))
                .body("detail", containsString("line 1"));
    }

    @Test
    void missingTypeIs400() {
        node.api()
                .body("{\"properties\":{}}")
                .put("/api/nodes/m-2")
                .then()
                .statusCode(400)
                .contentType(PROBLEM)
                .body("detail", containsString("'type' is missing"));
    }

    @Test
    void badIdsAre400() {
        node.api()
                .body("{\"type\":\"A\"}")
                .put("/api/nodes/" + "x".repeat(257))
                .then()
                .statusCode(400)
                .contentType(PROBLEM)
                .body("detail", containsString("257 characters"));
        node.api()
                .urlEncodingEnabled(false)
                .body("{\"type\":\"A\"}")
                .put("/api/nodes/a%01b")
                .then()
                .statusCode(400)
                .body("detail", containsString("control character"));
        node.api()
                .body("{\"id\":\"other\",\"type\":\"A\"}")
                .put("/api/nodes/m-3")
                .then()
                .statusCode(400)
                .body("detail", containsString("differs"));
    }

    @Test
    void unknownFieldsAndWrongShapesAre400() {
        node.api()
                .body("{\"type\":\"A\",\"propertes\":{}}")
                .put("/api/nodes/m-4")
                .then()
                .statusCode(400)
                .body("detail", containsString("Unknown field 'propertes'"));
        node.api()
                .body("{\"type\":\"A\",\"properties\":[1]}")
                .put("/api/nodes/m-4")
                .then()
                .statusCode(400)
                .body("detail", containsString("JSON object"));
        node.api().body("[]").put("/api/nodes/m-4").then().statusCode(400);
        node.api()
                .queryParam("limit", 0)
                .get("/api/nodes")
                .then()
                .statusCode(400)
                .contentType(PROBLEM);
    }

    @Test
    void missingIs404() {
        node.api()
                .get("/api/nodes/nobody")
                .then()
                .statusCode(404)
                .contentType(PROBLEM)
                .body("detail", containsString("no node 'nobody'"));
        node.api()
                .body("{\"properties\":{\"a\":1}}")
                .patch("/api/nodes/nobody")
                .then()
                .statusCode(404);
        node.api().get("/api/edges/nothing").then().statusCode(404).contentType(PROBLEM);
    }

    @Test
    void oversizedBodyIs413() {
        String huge = "{\"type\":\"A\",\"properties\":{\"x\":\"" + "y".repeat(1_100_000) + "\"}}";
        node.api()
                .body(huge)
                .put("/api/nodes/huge")
                .then()
                .statusCode(413)
                .contentType(PROBLEM)
                .body("detail", containsString("loom.api.max-body-size"));
        node.api().get("/api/nodes/huge").then().statusCode(404);
    }

    @Test
    void openApiDocumentDescribesTheGraphApi() {
        node.api()
                .get("/q/openapi")
                .then()
                .statusCode(200)
                .body(containsString("/api/nodes/{id}"))
                .body(containsString("/api/edges"));
    }

    @Test
    void aTakenBrokerPortStopsTheNodeAtStartNamingTheSetting() throws Exception {
        try (ServerSocket taken = new ServerSocket(0)) {
            NodeProcess blocked = NodeProcess.create(
                    root, "blocked-" + Infra.suffix(), "blocked", "127.0.0.1", taken.getLocalPort(), true);
            try {
                blocked.start();
                assertTrue(blocked.process().waitFor(60, TimeUnit.SECONDS), "the node must stop by itself");
                assertNotEquals(0, blocked.process().exitValue());
                assertTrue(blocked.log().contains("loom.embedded.broker.port"), blocked.logTail());
                assertFalse(listening(blocked.httpPort()), "the HTTP server must not be up");
            } finally {
                blocked.close();
            }
        }
    }

    @Test
    void gracefulStopExitsWithinSeconds() throws Exception {
        NodeProcess other = NodeProcess.create(
                root, "g-" + Infra.suffix(), "graceful", Infra.brokerHost(), Infra.brokerPort(), !Infra.external());
        try {
            other.start().awaitReady();
            long started = System.nanoTime();
            other.stop();
            Duration took = Duration.ofNanos(System.nanoTime() - started);
            assertTrue(took.compareTo(Duration.ofSeconds(10)) < 0, "stopping took " + took);
            assertTrue(other.log().contains("stopped"), other.logTail());
            await().atMost(Duration.ofSeconds(5)).until(() -> !listening(other.httpPort()));
        } finally {
            other.close();
        }
    }

    private static boolean listening(int port) {
        try (Socket ignored = new Socket("127.0.0.1", port)) {
            return true;
        } catch (Exception e) {
            return false;
        }
    }
}
