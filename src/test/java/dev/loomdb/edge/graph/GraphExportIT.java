package dev.loomdb.edge.graph;

import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.nullValue;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.loomdb.edge.it.InProcessNode;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import io.restassured.path.json.JsonPath;
import io.restassured.specification.RequestSpecification;
import io.vertx.mutiny.sqlclient.Pool;
import jakarta.inject.Inject;
import java.io.ByteArrayInputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

/**
 * Exports for drawing tools: D3 JSON and GraphML, filtered by type, streamed, without deleted rows and
 * without links to nodes not exported. The graph: x1 -XL-> x2 -XL-> x3 (type XO, not exported when
 * filtering XN), x2 -XM-> x1, x4 deleted with its edge, a dangling edge to a node that does not exist.
 */
@QuarkusTest
@WithTestResource(InProcessNode.class)
class GraphExportIT {

    @Inject
    Pool pool;

    private static RequestSpecification api() {
        return RestAssured.given().contentType("application/json");
    }

    private static boolean built;

    @BeforeEach
    void graph() {
        if (built) {
            return;
        }
        api().body("{\"type\":\"XN\",\"properties\":{\"name\":\"<one> & \\\"two\\\"\",\"n\":12345678901234567890.5}}")
                .put("/api/nodes/x1");
        api().body("{\"type\":\"XN\"}").put("/api/nodes/x2");
        api().body("{\"type\":\"XO\"}").put("/api/nodes/x3");
        api().body("{\"type\":\"XN\"}").put("/api/nodes/x4");
        api().body("{\"type\":\"XL\",\"source\":\"x1\",\"target\":\"x2\",\"properties\":{\"w\":2}}")
                .put("/api/edges/xe1");
        api().body("{\"type\":\"XL\",\"source\":\"x2\",\"target\":\"x3\"}").put("/api/edges/xe2");
        api().body("{\"type\":\"XM\",\"source\":\"x2\",\"target\":\"x1\"}").put("/api/edges/xe3");
        api().body("{\"type\":\"XL\",\"source\":\"x4\",\"target\":\"x1\"}").put("/api/edges/xe4");
        api().body("{\"type\":\"XL\",\"source\":\"x1\",\"target\":\"x-nowhere\"}")
                .put("/api/edges/xe5");
        api().delete("/api/nodes/x4").then().statusCode(204);
        built = true;
    }

    @Test
    void d3HasTheFilteredNodesAndOnlyLinksBetweenThem() {
        JsonPath d3 = api().get("/api/export/d3?nodeTypes=XN")
                .then()
                .statusCode(200)
                .contentType(containsString("application/json"))
                .extract()
                .jsonPath();
        assertEquals(List.of("x1", "x2"), d3.getList("nodes.id"));
        assertEquals(List.of("xe1", "xe3"), d3.getList("links.id"));
        assertEquals("x1", d3.getString("links[0].source"));
        assertEquals("x2", d3.getString("links[0].target"));
        assertEquals(2, d3.getInt("links[0].properties.w"));
        assertEquals("<one> & \"two\"", d3.getString("nodes[0].properties.name"));

        JsonPath all = api().get("/api/export/d3?nodeTypes=XN,XO&edgeTypes=XL").jsonPath();
        assertEquals(List.of("x1", "x2", "x3"), all.getList("nodes.id"));
        assertEquals(List.of("xe1", "xe2"), all.getList("links.id"));
        assertEquals(
                "12345678901234567890.5",
                api().get("/api/export/d3?nodeTypes=XN").asString().replaceAll(".*\"n\": ?([0-9.]+).*", "$1"));
        api().queryParam("nodeTypes", "x".repeat(300))
                .get("/api/export/d3")
                .then()
                .statusCode(400)
                .contentType("application/problem+json");
    }

    @Test
    void graphmlIsWellFormedAndCarriesTypesAndProperties() throws Exception {
        byte[] body = api().get("/api/export/graphml?nodeTypes=XN,XO")
                .then()
                .statusCode(200)
                .contentType(containsString("application/graphml+xml"))
                .extract()
                .asByteArray();
        DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
        factory.setNamespaceAware(true);
        Document xml = factory.newDocumentBuilder().parse(new ByteArrayInputStream(body));
        assertEquals("graphml", xml.getDocumentElement().getLocalName());
        assertEquals(
                "http://graphml.graphdrawing.org/xmlns",
                xml.getDocumentElement().getNamespaceURI());
        NodeList nodes = xml.getElementsByTagName("node");
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < nodes.getLength(); i++) {
            ids.add(((Element) nodes.item(i)).getAttribute("id"));
        }
        assertEquals(List.of("x1", "x2", "x3"), ids);
        NodeList edges = xml.getElementsByTagName("edge");
        assertEquals(3, edges.getLength());
        Element first = (Element) edges.item(0);
        assertEquals(
                Map.of("id", "xe1", "source", "x1", "target", "x2"),
                Map.of(
                        "id", first.getAttribute("id"),
                        "source", first.getAttribute("source"),
                        "target", first.getAttribute("target")));
        Element data =
                (Element) ((Element) nodes.item(0)).getElementsByTagName("data").item(1);
        assertEquals("properties", data.getAttribute("key"));
        assertEquals(
                "<one> & \"two\"",
                new com.fasterxml.jackson.databind.ObjectMapper()
                        .readTree(data.getTextContent())
                        .get("name")
                        .asText());
    }

    @Test
    void aLargeExportComesWholeAndInOrder() {
        pool.query("INSERT INTO loom.nodes (id, type, properties) SELECT 'xbig-' || lpad(i::text, 6, '0'), 'XBIG',"
                        + " jsonb_build_object('i', i) FROM generate_series(1, 25000) i ON CONFLICT DO NOTHING")
                .execute()
                .await()
                .atMost(Duration.ofSeconds(30));
        pool.query("INSERT INTO loom.edges (id, type, source_id, target_id) SELECT 'xbig-e' || lpad(i::text, 6, '0'),"
                        + " 'XBIG', 'xbig-' || lpad(i::text, 6, '0'), 'xbig-' || lpad((i % 25000 + 1)::text, 6, '0')"
                        + " FROM generate_series(1, 25000) i ON CONFLICT DO NOTHING")
                .execute()
                .await()
                .atMost(Duration.ofSeconds(30));
        JsonPath d3 = api().get("/api/export/d3?nodeTypes=XBIG")
                .then()
                .statusCode(200)
                .header("Content-Length", nullValue()) // streamed in chunks, not built and measured first
                .header("Transfer-Encoding", "chunked")
                .extract()
                .jsonPath();
        List<String> ids = d3.getList("nodes.id");
        assertEquals(25000, ids.size());
        assertEquals(ids.stream().sorted().toList(), ids);
        assertEquals(25000, d3.getList("links").size());
        api().get("/api/export/graphml?nodeTypes=XBIG")
                .then()
                .statusCode(200)
                .body(containsString("<node id=\"xbig-025000\">"));
    }
}
