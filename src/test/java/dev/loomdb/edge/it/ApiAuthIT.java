package dev.loomdb.edge.it;

import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.startsWith;

import io.restassured.RestAssured;
import io.restassured.specification.RequestSpecification;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The API behind keys: no key or an unknown one is 401, a key of too low a role 403, each as
 * problem+json; read, write and admin each reach what they should; health and the live view's page stay
 * open. The node logs its keys' names and roles, never their secrets.
 */
class ApiAuthIT {

    private static final String READER = "reader-secret-0123456789";
    private static final String WRITER = "writer-secret-0123456789";
    private static final String ADMIN = "admin-secret-0123456789ab";
    private static final String PROBLEM = "application/problem+json";

    @RegisterExtension
    final Mesh mesh = Mesh.named("auth")
            .nodes("a")
            .with("loom.api.auth.enabled", "true")
            .with("loom.api.auth.keys.dashboard", READER)
            .with("loom.api.auth.keys.app", WRITER)
            .with("loom.api.auth.roles.app", "write")
            .with("loom.api.auth.keys.ops", ADMIN)
            .with("loom.api.auth.roles.ops", "admin");

    private RequestSpecification as(String secret) {
        NodeProcess a = mesh.node("a");
        RequestSpecification request =
                RestAssured.given().baseUri("http://127.0.0.1:" + a.httpPort()).contentType("application/json");
        return secret == null ? request : request.header("Authorization", "Bearer " + secret);
    }

    @Test
    void eachRoleReachesWhatItShouldAndNoMore() {
        as(null).get("/api/nodes")
                .then()
                .statusCode(401)
                .contentType(PROBLEM)
                .header("WWW-Authenticate", startsWith("Bearer"))
                .body("detail", containsString("Authorization: Bearer"));
        as("not-a-key-of-this-node-at-all")
                .get("/api/nodes")
                .then()
                .statusCode(401)
                .contentType(PROBLEM);

        as(READER).get("/api/nodes").then().statusCode(200);
        as(READER).get("/api/sync/status").then().statusCode(200);
        as(READER)
                .body("{\"type\":\"A\"}")
                .put("/api/nodes/auth-1")
                .then()
                .statusCode(403)
                .contentType(PROBLEM)
                .body("detail", containsString("'dashboard' has role read"));
        as(WRITER).body("{\"type\":\"A\"}").put("/api/nodes/auth-1").then().statusCode(201);
        as(WRITER)
                .body("{\"operations\":[{\"op\":\"deleteNode\",\"id\":\"auth-1\"}]}")
                .post("/api/batch")
                .then()
                .statusCode(200);
        as(WRITER).post("/api/sync/stop").then().statusCode(403).body("detail", containsString("needs admin"));
        as(WRITER).get("/api/sync/history").then().statusCode(403);
        as(ADMIN).post("/api/sync/stop").then().statusCode(200);
        as(ADMIN).post("/api/sync/start").then().statusCode(200);
        as(ADMIN).get("/api/conflicts").then().statusCode(200);

        // other ways to send a key: X-API-Key, and (for reads only) the live view's cookie
        as(null).header("X-API-Key", READER).get("/api/nodes").then().statusCode(200);
        as(null).cookie("loom_api_key", READER).get("/api/graph/stats").then().statusCode(200);
        as(null).cookie("loom_api_key", WRITER)
                .body("{\"type\":\"A\"}")
                .put("/api/nodes/auth-2")
                .then()
                .statusCode(401);

        // open: health for probes, the live view's page (its data needs a key)
        as(null).get("/q/health/live").then().statusCode(200);
        as(null).get("/").then().statusCode(200).body(containsString("LoomDB Edge"));
    }

    @Test
    void theLogNamesKeysAndRolesButNoSecret() {
        String log = mesh.node("a").log();
        org.junit.jupiter.api.Assertions.assertTrue(
                log.contains("dashboard=read") && log.contains("app=write") && log.contains("ops=admin"), log);
        org.junit.jupiter.api.Assertions.assertFalse(
                log.contains(READER) || log.contains(ADMIN), "a secret in the log");
    }
}
