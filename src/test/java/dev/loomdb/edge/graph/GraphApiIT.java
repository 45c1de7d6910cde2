package dev.loomdb.edge.graph;

import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.endsWith;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.nullValue;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loomdb.edge.it.InProcessNode;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import io.restassured.path.json.JsonPath;
import io.restassured.specification.RequestSpecification;
import java.util.ArrayList;
import java.util.List;
import org.eclipse.microprofile.config.ConfigProvider;
import org.junit.jupiter.api.Test;

/**
 * The REST API's contract, on a node running in this JVM against a real PostgreSQL and broker:
 * semantics, pagination and every error as application/problem+json.
 */
@QuarkusTest
@WithTestResource(InProcessNode.class)
class GraphApiIT {

    private static final String PROBLEM = "application/problem+json";

    private static RequestSpecification api() {
        return RestAssured.given().contentType("application/json");
    }

    private static String nodeId() {
        return ConfigProvider.getConfig().getValue("loom.node-id", String.class);
    }

    @Test
    void putCreatesThenReplaces() {
        api().body("{\"type\":\"AGENT\",\"properties\":{\"a\":1,\"b\":2}}")
                .put("/api/nodes/p-1")
                .then()
                .statusCode(201)
                .header("Location", endsWith("/api/nodes/p-1"))
                .body("version", equalTo(1))
                .body("origin", equalTo(nodeId()));
        api().body("{\"type\":\"FACT\",\"properties\":{\"a\":3}}")
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
        String first = api().body("{\"type\":\"A\"}")
                .put("/api/nodes/clock-1")
                .jsonPath()
                .getString("hlc");
        String second = api().body("{\"type\":\"A\"}")
                .put("/api/nodes/clock-1")
                .jsonPath()
                .getString("hlc");
        assertTrue(Long.parseLong(second) > Long.parseLong(first), first + " then " + second);
    }

    @Test
    void deletedNodeIsGoneAndCanBeCreatedAgain() {
        api().body("{\"type\":\"AGENT\"}").put("/api/nodes/d-1").then().statusCode(201);
        api().delete("/api/nodes/d-1").then().statusCode(204);
        api().get("/api/nodes/d-1").then().statusCode(404).contentType(PROBLEM);
        api().delete("/api/nodes/d-1").then().statusCode(404).contentType(PROBLEM);
        api().body("{\"type\":\"AGENT\"}")
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
            api().body("{\"type\":\"PAGED\"}").put("/api/nodes/" + id).then().statusCode(201);
        }
        api().body("{\"type\":\"OTHER\"}").put("/api/nodes/page-x").then().statusCode(201);
        List<String> seen = new ArrayList<>();
        String after = null;
        int pages = 0;
        do {
            var request = api().queryParam("type", "PAGED").queryParam("limit", 3);
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
        api().body("{\"type\":\"LINK\",\"source\":\"s-1\"}")
                .put("/api/edges/bad-edge")
                .then()
                .statusCode(400)
                .contentType(PROBLEM)
                .body("detail", containsString("'target'"));
        api().body("{\"type\":\"LINK\",\"source\":\"s-1\",\"target\":\"t-1\"}")
                .put("/api/edges/l-1")
                .then()
                .statusCode(201)
                .body("source", equalTo("s-1"));
        api().body("{\"type\":\"LINK\",\"source\":\"s-2\",\"target\":\"t-1\"}")
                .put("/api/edges/l-2")
                .then()
                .statusCode(201);
        api().queryParam("target", "t-1")
                .queryParam("source", "s-2")
                .get("/api/edges")
                .then()
                .body("items.id", equalTo(List.of("l-2")));
    }

    @Test
    void malformedJsonIs400WithWhereItBroke() {
        api().body("{\"type\": ")
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
        api().body("{\"properties\":{}}")
                .put("/api/nodes/m-2")
                .then()
                .statusCode(400)
                .contentType(PROBLEM)
                .body("detail", containsString("'type' is missing"));
    }

    @Test
    void badIdsAre400() {
        api().body("{\"type\":\"A\"}")
                .put("/api/nodes/" + "x".repeat(257))
                .then()
                .statusCode(400)
                .contentType(PROBLEM)
                .body("detail", containsString("257 characters"));
        api().urlEncodingEnabled(false)
                .body("{\"type\":\"A\"}")
                .put("/api/nodes/a%01b")
                .then()
                .statusCode(400)
                .body("detail", containsString("control character"));
        api().body("{\"id\":\"other\",\"type\":\"A\"}")
                .put("/api/nodes/m-3")
                .then()
                .statusCode(400)
                .body("detail", containsString("differs"));
    }

    @Test
    void unknownFieldsAndWrongShapesAre400() {
        api().body("{\"type\":\"A\",\"propertes\":{}}")
                .put("/api/nodes/m-4")
                .then()
                .statusCode(400)
                .body("detail", containsString("Unknown field 'propertes'"));
        api().body("{\"type\":\"A\",\"properties\":[1]}")
                .put("/api/nodes/m-4")
                .then()
                .statusCode(400)
                .body("detail", containsString("JSON object"));
        api().body("[]").put("/api/nodes/m-4").then().statusCode(400);
        api().queryParam("limit", 0).get("/api/nodes").then().statusCode(400).contentType(PROBLEM);
    }

    @Test
    void missingIs404() {
        api().get("/api/nodes/nobody")
                .then()
                .statusCode(404)
                .contentType(PROBLEM)
                .body("detail", containsString("no node 'nobody'"));
        api().body("{\"properties\":{\"a\":1}}")
                .patch("/api/nodes/nobody")
                .then()
                .statusCode(404);
        api().get("/api/edges/nothing").then().statusCode(404).contentType(PROBLEM);
    }

    @Test
    void oversizedBodyIs413() {
        String huge = "{\"type\":\"A\",\"properties\":{\"x\":\"" + "y".repeat(1_100_000) + "\"}}";
        api().body(huge)
                .put("/api/nodes/huge")
                .then()
                .statusCode(413)
                .contentType(PROBLEM)
                .body("detail", containsString("loom.api.max-body-size"));
        api().get("/api/nodes/huge").then().statusCode(404);
    }

    @Test
    void openApiDocumentDescribesTheGraphApi() {
        api().get("/q/openapi")
                .then()
                .statusCode(200)
                .body(containsString("/api/nodes/{id}"))
                .body(containsString("/api/edges"));
    }

    @Test
    void ifMatchMakesWritesConditionalOnTheVersion() {
        String node = "/api/nodes/cw-1";
        api().body("{\"type\":\"A\"}").put(node).then().statusCode(201).header("ETag", "\"1\"");
        api().get(node).then().header("ETag", "\"1\"");
        api().header("If-Match", "\"1\"")
                .body("{\"type\":\"A\",\"properties\":{\"x\":1}}")
                .put(node)
                .then()
                .statusCode(200)
                .header("ETag", "\"2\"");
        api().header("If-Match", "\"1\"")
                .body("{\"type\":\"A\",\"properties\":{\"x\":2}}")
                .put(node)
                .then()
                .statusCode(412)
                .contentType(PROBLEM)
                .body("detail", containsString("version 2"));
        api().get(node).then().body("properties.x", equalTo(1)).body("version", equalTo(2)); // nothing written
        api().header("If-Match", "\"1\"")
                .body("{\"properties\":{\"y\":1}}")
                .patch(node)
                .then()
                .statusCode(412);
        api().header("If-Match", "2")
                .body("{\"properties\":{\"y\":1}}")
                .patch(node)
                .then()
                .statusCode(200)
                .header("ETag", "\"3\"");
        api().header("If-Match", "\"2\"").delete(node).then().statusCode(412).contentType(PROBLEM);
        api().get(node).then().statusCode(200);
        api().header("If-Match", "*").delete(node).then().statusCode(204);
        api().header("If-Match", "*").delete(node).then().statusCode(412); // gone: the precondition fails

        api().header("If-Match", "*")
                .body("{\"type\":\"A\"}")
                .put("/api/nodes/cw-none")
                .then()
                .statusCode(412);
        api().get("/api/nodes/cw-none").then().statusCode(404); // If-Match never creates
        api().header("If-Match", "soon")
                .body("{\"type\":\"A\"}")
                .put("/api/nodes/cw-none")
                .then()
                .statusCode(400)
                .contentType(PROBLEM)
                .body("detail", containsString("If-Match"));

        String edge = "/api/edges/cw-e";
        api().body("{\"type\":\"L\",\"source\":\"a\",\"target\":\"b\"}")
                .put(edge)
                .then()
                .header("ETag", "\"1\"");
        api().header("If-Match", "\"1\"")
                .body("{\"properties\":{\"w\":1}}")
                .patch(edge)
                .then()
                .statusCode(200)
                .header("ETag", "\"2\"");
        api().header("If-Match", "\"1\"")
                .body("{\"type\":\"L\",\"source\":\"a\",\"target\":\"c\"}")
                .put(edge)
                .then()
                .statusCode(412);
        api().get(edge).then().body("target", equalTo("b"));
        api().header("If-Match", "\"2\"").delete(edge).then().statusCode(204);
    }
}
