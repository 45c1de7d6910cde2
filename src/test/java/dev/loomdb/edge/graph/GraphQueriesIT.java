package dev.loomdb.edge.graph;

import static org.hamcrest.Matchers.containsInAnyOrder;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.not;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.loomdb.edge.it.InProcessNode;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import io.restassured.path.json.JsonPath;
import io.restassured.specification.RequestSpecification;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Graph questions over REST on a node in this JVM (real PostgreSQL and broker): neighbours, traversal,
 * shortest path, counts by type and property filters, with their bounds as problem+json, and
 * deleted nodes and edges never in an answer. The graph (types of their own, so other tests' rows
 * do not count):
 *
 * <pre>
 *   a -QL-> b -QL-> c -QL-> d        b -QL-> f (type QQ)     b -QL-> z (deleted)
 *   a -QM-> e -QM-> d                x (alone)               every other node type QP
 * </pre>
 */
@QuarkusTest
@WithTestResource(InProcessNode.class)
class GraphQueriesIT {

    private static final String PROBLEM = "application/problem+json";

    private static RequestSpecification api() {
        return RestAssured.given().contentType("application/json");
    }

    private static void node(String id, String type, String properties) {
        api().body("{\"type\":\"" + type + "\",\"properties\":" + properties + "}")
                .put("/api/nodes/q-" + id)
                .then()
                .statusCode(201);
    }

    private static void edge(String id, String type, String source, String target) {
        api().body("{\"type\":\"" + type + "\",\"source\":\"q-" + source + "\",\"target\":\"q-" + target + "\"}")
                .put("/api/edges/q-" + id)
                .then()
                .statusCode(201);
    }

    private static boolean built;

    /** Builds the graph once, on the running node (a {@code @BeforeAll} would run before RestAssured knows its port). */
    @BeforeEach
    void graph() {
        if (built) {
            return;
        }
        built = true;
        for (String id : List.of("a", "b", "c", "d", "e", "x", "z")) {
            node(id, "QP", id.equals("c") ? "{\"color\":\"red\",\"size\":3}" : "{\"color\":\"blue\"}");
        }
        node("f", "QQ", "{\"color\":\"red\"}");
        edge("ab", "QL", "a", "b");
        edge("bc", "QL", "b", "c");
        edge("cd", "QL", "c", "d");
        edge("ae", "QM", "a", "e");
        edge("ed", "QM", "e", "d");
        edge("bf", "QL", "b", "f");
        edge("bz", "QL", "b", "z");
        api().delete("/api/nodes/q-z").then().statusCode(204);
    }

    @Test
    void neighboursAreTheEdgesAndTheNodesAtTheirOtherEnd() {
        JsonPath both = api().get("/api/nodes/q-b/neighbors")
                .then()
                .statusCode(200)
                .extract()
                .jsonPath();
        assertEquals("q-b", both.getString("node.id"));
        assertEquals(List.of("out", "out", "in"), both.getList("neighbors.direction"));
        assertEquals(List.of("q-bc", "q-bf", "q-ab"), both.getList("neighbors.edge.id"));
        assertEquals(List.of("q-c", "q-f", "q-a"), both.getList("neighbors.node.id"), "the deleted z is left out");
        assertEquals(false, both.getBoolean("truncated"));

        api().get("/api/nodes/q-b/neighbors?direction=in").then().body("neighbors.node.id", equalTo(List.of("q-a")));
        api().get("/api/nodes/q-a/neighbors?edgeType=QM").then().body("neighbors.node.id", equalTo(List.of("q-e")));
        api().get("/api/nodes/q-b/neighbors?nodeType=QQ").then().body("neighbors.node.id", equalTo(List.of("q-f")));
        api().get("/api/nodes/q-b/neighbors?limit=1")
                .then()
                .body("neighbors.node.id", equalTo(List.of("q-c")))
                .body("truncated", equalTo(true));
        api().get("/api/nodes/q-x/neighbors").then().statusCode(200).body("neighbors", equalTo(List.of()));
    }

    @Test
    void neighboursOfWhatIsNotThereOrAskedWronglyAreProblems() {
        api().get("/api/nodes/q-z/neighbors").then().statusCode(404).contentType(PROBLEM);
        api().get("/api/nodes/q-nothing/neighbors").then().statusCode(404).contentType(PROBLEM);
        api().get("/api/nodes/q-b/neighbors?direction=sideways")
                .then()
                .statusCode(400)
                .contentType(PROBLEM)
                .body("detail", containsString("out, in, both"));
        api().get("/api/nodes/q-b/neighbors?limit=10001")
                .then()
                .statusCode(400)
                .contentType(PROBLEM)
                .body("detail", containsString("loom.query.max-results"));
    }

    @Test
    void traversalReachesEachNodeOnceWithItsDepth() {
        JsonPath out = api().get("/api/graph/traverse?from=q-a&maxDepth=2")
                .then()
                .statusCode(200)
                .extract()
                .jsonPath();
        assertEquals(List.of("q-a", "q-b", "q-e", "q-c", "q-d", "q-f"), out.getList("nodes.node.id"));
        assertEquals(List.of(0, 1, 1, 2, 2, 2), out.getList("nodes.depth"));
        assertEquals(false, out.getBoolean("truncated"));

        api().get("/api/graph/traverse?from=q-a&maxDepth=2&nodeTypes=QP")
                .then()
                .body("nodes.node.id", equalTo(List.of("q-a", "q-b", "q-e", "q-c", "q-d")));
        api().get("/api/graph/traverse?from=q-a&maxDepth=6&edgeTypes=QM")
                .then()
                .body("nodes.node.id", equalTo(List.of("q-a", "q-e", "q-d")));
        api().get("/api/graph/traverse?from=q-d&maxDepth=6&direction=in")
                .then()
                .body("nodes.node.id", equalTo(List.of("q-d", "q-c", "q-e", "q-a", "q-b")))
                .body("nodes.depth", equalTo(List.of(0, 1, 1, 2, 2)));
        api().get("/api/graph/traverse?from=q-a&maxDepth=6&limit=3")
                .then()
                .body("nodes.node.id", equalTo(List.of("q-a", "q-b", "q-e")))
                .body("truncated", equalTo(true))
                .body("truncatedBy", containsString("loom.query.max-results"));
        api().get("/api/graph/traverse?from=q-b&maxDepth=6&direction=both")
                .then()
                .body("nodes.node.id", not(hasItem("q-z")))
                .body("nodes.node.id", containsInAnyOrder("q-b", "q-a", "q-c", "q-f", "q-e", "q-d"));
    }

    @Test
    void traversalBoundsAreProblems() {
        api().get("/api/graph/traverse?from=q-a&maxDepth=7")
                .then()
                .statusCode(400)
                .contentType(PROBLEM)
                .body("detail", containsString("loom.query.max-depth"));
        api().get("/api/graph/traverse?maxDepth=2").then().statusCode(400).contentType(PROBLEM);
        api().get("/api/graph/traverse?from=q-a&maxDepth=two")
                .then()
                .statusCode(400)
                .contentType(PROBLEM);
        api().get("/api/graph/traverse?from=q-z").then().statusCode(404).contentType(PROBLEM);
    }

    @Test
    void shortestPathByHops() {
        JsonPath path = api().get("/api/graph/path?from=q-a&to=q-d")
                .then()
                .statusCode(200)
                .extract()
                .jsonPath();
        assertEquals(true, path.getBoolean("found"));
        assertEquals(2, path.getInt("hops"));
        assertEquals(List.of("q-a", "q-e", "q-d"), path.getList("nodes.id"));
        assertEquals(List.of("q-ae", "q-ed"), path.getList("edges.id"));

        api().get("/api/graph/path?from=q-d&to=q-a")
                .then()
                .statusCode(200)
                .body("found", equalTo(false))
                .body("detail", containsString("maxDepth"));
        api().get("/api/graph/path?from=q-d&to=q-a&direction=both")
                .then()
                .body("found", equalTo(true))
                .body("hops", equalTo(2));
        api().get("/api/graph/path?from=q-a&to=q-d&maxDepth=1").then().body("found", equalTo(false));
        api().get("/api/graph/path?from=q-c&to=q-c").then().body("hops", equalTo(0));
        api().get("/api/graph/path?from=q-a&to=q-z").then().statusCode(404).contentType(PROBLEM);
        api().get("/api/graph/path?from=q-a&to=q-d&maxDepth=9")
                .then()
                .statusCode(400)
                .contentType(PROBLEM)
                .body("detail", containsString("loom.query.max-depth"));
    }

    private static void weighted(String id, String source, String target, String cost) {
        api().body("{\"type\":\"QW\",\"source\":\"q-" + source + "\",\"target\":\"q-" + target
                        + "\",\"properties\":{\"cost\":" + cost + "}}")
                .put("/api/edges/q-" + id)
                .then()
                .statusCode(201);
    }

    /**
     * w1 -1-> w2 -1-> w3 -1-> w4 -1-> w5, w2 -5-> w5, w1 -10-> w5, w1 -2-> w6 -"free"-> w5 (not a number),
     * w6 -(-3)-> w5 (negative): the lightest path depends on how many hops are allowed.
     */
    @Test
    void weightedPathIsTheLightestWithinTheHops() {
        for (String n : List.of("w1", "w2", "w3", "w4", "w5", "w6")) {
            node(n, "QP", "{}");
        }
        weighted("w12", "w1", "w2", "1");
        weighted("w23", "w2", "w3", "1");
        weighted("w34", "w3", "w4", "1");
        weighted("w45", "w4", "w5", "1");
        weighted("w25", "w2", "w5", "5");
        weighted("w15", "w1", "w5", "10");
        weighted("w16", "w1", "w6", "2");
        weighted("w65", "w6", "w5", "\"free\"");
        weighted("w65n", "w6", "w5", "-3");

        JsonPath lightest = api().get("/api/graph/path?from=q-w1&to=q-w5&weight=cost")
                .then()
                .statusCode(200)
                .extract()
                .jsonPath();
        assertEquals(true, lightest.getBoolean("found"));
        assertEquals(4.0, lightest.getDouble("totalWeight"));
        assertEquals(4, lightest.getInt("hops"));
        assertEquals(List.of("q-w1", "q-w2", "q-w3", "q-w4", "q-w5"), lightest.getList("nodes.id"));
        assertEquals(2, lightest.getInt("edgesWithoutWeight"));

        JsonPath within3 = api().get("/api/graph/path?from=q-w1&to=q-w5&weight=cost&maxDepth=3")
                .jsonPath();
        assertEquals(List.of("q-w12", "q-w25"), within3.getList("edges.id"));
        assertEquals(6.0, within3.getDouble("totalWeight"));
        JsonPath oneHop = api().get("/api/graph/path?from=q-w1&to=q-w5&weight=cost&maxDepth=1")
                .jsonPath();
        assertEquals(List.of("q-w15"), oneHop.getList("edges.id"));
        assertEquals(10.0, oneHop.getDouble("totalWeight"));

        api().get("/api/graph/path?from=q-w1&to=q-w5&weight=length")
                .then()
                .statusCode(200)
                .body("found", equalTo(false))
                .body("detail", containsString("numeric 'length'"));
        api().get("/api/graph/path?from=q-w5&to=q-w1&weight=cost&direction=both")
                .then()
                .body("totalWeight", equalTo(4.0f));
    }

    @Test
    void aPathNeverGoesThroughADeletedEdge() {
        node("p1", "QP", "{}");
        node("p2", "QP", "{}");
        node("p3", "QP", "{}");
        edge("p12", "QL", "p1", "p2");
        edge("p23", "QL", "p2", "p3");
        edge("p13", "QL", "p1", "p3");
        api().get("/api/graph/path?from=q-p1&to=q-p3").then().body("hops", equalTo(1));
        api().delete("/api/edges/q-p13").then().statusCode(204);
        api().get("/api/graph/path?from=q-p1&to=q-p3")
                .then()
                .body("hops", equalTo(2))
                .body("edges.id", equalTo(List.of("q-p12", "q-p23")));
    }

    @Test
    void statsCountLiveRowsByTypeAndListsFilterByProperties() {
        JsonPath stats =
                api().get("/api/graph/stats").then().statusCode(200).extract().jsonPath();
        assertEquals(1, stats.getInt("nodes.byType.QQ"));
        assertEquals(2, stats.getInt("edges.byType.QM"));
        assertEquals(30, stats.getInt("maxAgeSeconds"));

        api().queryParam("type", "QP")
                .queryParam("where", "{\"color\":\"red\"}")
                .get("/api/nodes")
                .then()
                .statusCode(200)
                .body("items.id", equalTo(List.of("q-c")));
        api().queryParam("where", "{\"color\":\"red\"}")
                .queryParam("limit", 1000)
                .get("/api/nodes")
                .then()
                .body("items.id", hasItem("q-f"))
                .body("items.id", not(hasItem("q-a")));
        api().queryParam("where", "{\"none\":1}").get("/api/edges").then().body("items", equalTo(List.of()));
        api().queryParam("where", "[1]")
                .get("/api/nodes")
                .then()
                .statusCode(400)
                .contentType(PROBLEM)
                .body("detail", containsString("JSON object"));
        api().queryParam("where", "{oops")
                .get("/api/nodes")
                .then()
                .statusCode(400)
                .contentType(PROBLEM)
                .body("detail", containsString("not JSON"));
    }
}
