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
    void everyRefusalOfTheRequestItselfIsAProblem() {
        RestAssured.given()
                .get("/api/nodes?after=" + "a".repeat(10_000))
                .then()
                .statusCode(414)
                .contentType(PROBLEM)
                .body("detail", containsString("8192"));
        RestAssured.given()
                .header("X-Padding", "p".repeat(20_000))
                .get("/api/nodes")
                .then()
                .statusCode(431)
                .contentType(PROBLEM);
        RestAssured.given()
                .contentType("text/plain")
                .body("{\"type\":\"A\"}")
                .put("/api/nodes/ct-1")
                .then()
                .statusCode(415)
                .contentType(PROBLEM)
                .body("detail", containsString("application/json"));
        RestAssured.given()
                .body("{\"type\":\"A\"}".getBytes(java.nio.charset.StandardCharsets.UTF_8))
                .put("/api/nodes/ct-2")
                .then()
                .statusCode(415)
                .contentType(PROBLEM)
                .body("detail", containsString("send it as JSON"));
        byte[] badUtf8 = "{\"type\":\"A\",\"properties\":{\"x\":\"\u00ff\u00ff\"}}"
                .getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
        RestAssured.given()
                .contentType("application/json")
                .body(badUtf8)
                .put("/api/nodes/utf-1")
                .then()
                .statusCode(400)
                .contentType(PROBLEM)
                .body("detail", containsString("UTF-8"));
        api().get("/api/nodes/utf-1").then().statusCode(404);
        api().get("/api/nodes/ct-1").then().statusCode(404);
        api().get("/api/sync/history?since=abc")
                .then()
                .statusCode(400)
                .contentType(PROBLEM)
                .body("detail", containsString("'since'"));
        // unusual text is stored and returned exactly
        String odd = "Robert'); DROP TABLE loom.nodes;-- \u202e\ud83e\uddf5 e\u0301";
        api().body("{\"type\":\"ODD\",\"properties\":{\"s\":\"" + odd + "\"}}")
                .put("/api/nodes/odd-1")
                .then()
                .statusCode(201);
        assertEquals(odd, api().get("/api/nodes/odd-1").jsonPath().getString("properties.s"));
    }

    @jakarta.inject.Inject
    io.vertx.mutiny.sqlclient.Pool pool;

    @Test
    void plainSqlWritesKeepTheGraphsRulesToo() {
        for (String insert : List.of(
                "INSERT INTO loom.nodes (id, type) VALUES (E'sql\\u0001bad', 'T')",
                "INSERT INTO loom.nodes (id, type) VALUES ('sql-ok-id', E'T\\n')",
                "INSERT INTO loom.edges (id, type, source_id, target_id) VALUES ('sql-e', 'L', 'a', E'b\\t')",
                "INSERT INTO loom.nodes (id, type, properties) VALUES ('sql-big', 'T',"
                        + " jsonb_build_object('x', repeat('y', 1100000)))",
                "INSERT INTO loom.nodes (id, type, properties) VALUES ('sql-deep', 'T', '" + nested(33) + "')",
                "INSERT INTO loom.edges (id, type, source_id, target_id, properties) VALUES ('sql-deep-e', 'L', 'a',"
                        + " 'b', '{\"l\": " + nested(32).replace("{}", "[]") + "}')")) {
            io.vertx.pgclient.PgException refused = org.junit.jupiter.api.Assertions.assertThrows(
                    io.vertx.pgclient.PgException.class,
                    () -> pool.query(insert).execute().await().atMost(java.time.Duration.ofSeconds(10)),
                    insert);
            assertEquals("23514", refused.getSqlState(), insert);
        }
        pool.query("INSERT INTO loom.nodes (id, type, properties) VALUES ('sql-deep-ok', 'T', '" + nested(32) + "')")
                .execute()
                .await()
                .atMost(java.time.Duration.ofSeconds(10));
        pool.query("INSERT INTO loom.nodes (id, type, properties) VALUES ('sql-fine', 'T', '{\"a\": \"tab\\tok\"}')")
                .execute()
                .await()
                .atMost(java.time.Duration.ofSeconds(10));
        api().get("/api/nodes/sql-fine").then().statusCode(200);
    }

    /** Objects nested {@code levels} deep: {} is one level. */
    private static String nested(int levels) {
        return "{\"a\": ".repeat(levels - 1) + "{}" + "}".repeat(levels - 1);
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

    @Test
    void aBatchAppliesEveryOperationInOrderAndAnswersEachResult() {
        api().body("{\"type\":\"DOC\",\"properties\":{\"title\":\"old\"}}").put("/api/nodes/bt-doc");
        api().body("{\"type\":\"TMP\"}").put("/api/nodes/bt-tmp");
        api().body("""
                        {"operations": [
                          {"op": "putNode", "id": "bt-fact", "type": "FACT", "properties": {"text": "water boils"}},
                          {"op": "putEdge", "id": "bt-e", "type": "FROM", "source": "bt-fact", "target": "bt-doc"},
                          {"op": "patchNode", "id": "bt-doc", "properties": {"title": "new"}, "ifMatch": "\\"1\\""},
                          {"op": "patchEdge", "id": "bt-e", "properties": {"w": 2}},
                          {"op": "deleteNode", "id": "bt-tmp", "ifMatch": 1}
                        ]}""")
                .post("/api/batch")
                .then()
                .statusCode(200)
                .body("applied", equalTo(5))
                .body("results.status", equalTo(List.of(201, 201, 200, 200, 204)))
                .body("results[0].item.properties.text", equalTo("water boils"))
                .body("results[3].item.version", equalTo(2))
                .body("results[4].item", nullValue());
        api().get("/api/nodes/bt-doc").then().body("properties.title", equalTo("new"));
        api().get("/api/edges/bt-e").then().body("properties.w", equalTo(2));
        api().get("/api/nodes/bt-tmp").then().statusCode(404);
    }

    @Test
    void aBatchIsAllOrNothingAndNamesTheOperationThatFailed() {
        api().body("{\"type\":\"DOC\",\"properties\":{\"n\":1}}").put("/api/nodes/bx-doc");
        // checked before anything runs: a bad third operation
        api().body("""
                        {"operations": [
                          {"op": "putNode", "id": "bx-1", "type": "FACT"},
                          {"op": "patchNode", "id": "bx-doc", "properties": {"n": 2}},
                          {"op": "putEdge", "id": "bx-e", "type": "FROM", "source": "bx-1"}
                        ]}""")
                .post("/api/batch")
                .then()
                .statusCode(400)
                .contentType(PROBLEM)
                .body("operation", equalTo(2))
                .body("detail", containsString("Operation 2 (putEdge)"))
                .body("detail", containsString("'target'"));
        // fails while running: an If-Match that does not hold, after two writes that ran
        api().body("""
                        {"operations": [
                          {"op": "putNode", "id": "bx-1", "type": "FACT"},
                          {"op": "patchNode", "id": "bx-doc", "properties": {"n": 2}},
                          {"op": "deleteNode", "id": "bx-doc", "ifMatch": "\\"1\\""}
                        ]}""")
                .post("/api/batch")
                .then()
                .statusCode(412)
                .body("operation", equalTo(2))
                .body("detail", containsString("at version 2, not"));
        // a delete of nothing
        api().body("{\"operations\": [{\"op\": \"putNode\", \"id\": \"bx-1\", \"type\": \"FACT\"},"
                        + " {\"op\": \"deleteEdge\", \"id\": \"bx-none\"}]}")
                .post("/api/batch")
                .then()
                .statusCode(404)
                .body("operation", equalTo(1));
        api().get("/api/nodes/bx-1").then().statusCode(404);
        api().get("/api/nodes/bx-doc").then().body("properties.n", equalTo(1)).body("version", equalTo(1));

        api().body("{\"operations\": [{\"op\": \"upsert\", \"id\": \"x\"}]}")
                .post("/api/batch")
                .then()
                .statusCode(400)
                .body("detail", containsString("putNode, patchNode"));
        api().body("{\"operations\": []}").post("/api/batch").then().statusCode(400);
        StringBuilder many = new StringBuilder("{\"operations\": [");
        for (int i = 0; i <= 1000; i++) {
            many.append(i == 0 ? "" : ",")
                    .append("{\"op\":\"deleteNode\",\"id\":\"m")
                    .append(i)
                    .append("\"}");
        }
        api().body(many.append("]}").toString())
                .post("/api/batch")
                .then()
                .statusCode(413)
                .contentType(PROBLEM)
                .body("detail", containsString("loom.api.max-batch-operations"));
    }
}
