package dev.loomdb.edge.flow;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loomdb.edge.mesh.MeshSettings;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class ScopeTest {

    private final ObjectMapper mapper = new ObjectMapper();

    @Test
    void settingsReadStarDashAndListsAndRefuseMixingThem() {
        assertTrue(TypeSet.parse(List.of("*"), "s").isAll());
        assertTrue(TypeSet.parse(List.of("-"), "s").isEmpty());
        assertEquals(TypeSet.only(List.of("A", "B")), TypeSet.parse(List.of(" B", "A "), "s"));
        IllegalArgumentException mixed = assertThrows(
                IllegalArgumentException.class, () -> TypeSet.parse(List.of("*", "A"), "loom.sync.node-types"));
        assertTrue(mixed.getMessage().startsWith("loom.sync.node-types=*,A"), mixed.getMessage());
    }

    @Test
    void intersectionAndDifferenceStayExactWithSetsThatLeaveTypesOut() {
        TypeSet ab = TypeSet.only(List.of("A", "B"));
        TypeSet bc = TypeSet.only(List.of("B", "C"));
        assertEquals(TypeSet.only(List.of("B")), ab.intersect(bc));
        assertEquals(TypeSet.only(List.of("A")), ab.minus(bc));
        TypeSet allButB = TypeSet.ALL.minus(TypeSet.only(List.of("B")));
        assertTrue(allButB.includes("Z"));
        assertFalse(allButB.includes("B"));
        assertEquals(TypeSet.only(List.of("A")), ab.intersect(allButB));
        assertTrue(ab.minus(TypeSet.ALL).isEmpty());
        assertTrue(TypeSet.ALL.intersect(TypeSet.ALL).isAll());
    }

    @Test
    void theWireFormReadsBackAndTreatsAMissingScopeAsEverything() {
        Scope scope = new Scope(TypeSet.only(List.of("Person")), TypeSet.ALL.minus(TypeSet.only(List.of("X"))));
        assertEquals(scope, Scope.fromJson(scope.toJson(mapper.createObjectNode())));
        assertEquals(Scope.ALL, Scope.fromJson(mapper.createObjectNode().path("scope")));
        assertThrows(
                IllegalArgumentException.class,
                () -> Scope.fromJson(mapper.createObjectNode().put("node", 3)));
        assertTrue(scope.includesSpan("node/Person"));
        assertFalse(scope.includesSpan("node/Place"));
        assertTrue(scope.includesSpan("edge/a/b"), "a type may hold a slash");
        assertFalse(scope.includesSpan("edge/X"));
        assertFalse(scope.includesSpan("nonsense"));
    }

    @Test
    void sharedScopeIsWhatBothFollowAndBothPublish() {
        Scopes device = new Scopes(
                new Scope(TypeSet.only(List.of("Sensor", "Config")), TypeSet.NONE),
                new Scope(TypeSet.ALL.minus(TypeSet.only(List.of("Config"))), TypeSet.ALL));
        Scope shared = device.sharedWith(Scope.ALL, Scope.ALL);
        assertEquals(new Scope(TypeSet.only(List.of("Sensor")), TypeSet.NONE), shared);
    }

    private static MeshSettings mesh(Scope follows) {
        return new MeshSettings(
                "h",
                1,
                Optional.empty(),
                Optional.empty(),
                "c",
                "demo",
                "n1",
                10,
                1000,
                Duration.ofSeconds(1),
                follows,
                MeshSettings.Tls.OFF,
                List.of());
    }

    @Test
    void topicsCarryKindAndEscapedTypeAndFiltersFollowTheScope() {
        MeshSettings all = mesh(Scope.ALL);
        assertEquals("loom/demo/changes/n1/node/Person", all.changesTopic(Change.Kind.NODE, "Person"));
        assertEquals("loom/demo/changes/n1/edge/a%2Fb%2B%23%25ü", all.changesTopic(Change.Kind.EDGE, "a/b+#%ü"));
        assertEquals(List.of("loom/demo/changes/#"), all.changesFilters());

        MeshSettings some = mesh(new Scope(TypeSet.only(List.of("Person", "a/b")), TypeSet.ALL));
        assertEquals(
                List.of(
                        "loom/demo/changes/+/node/Person",
                        "loom/demo/changes/+/node/a%2Fb",
                        "loom/demo/changes/+/edge/+"),
                some.changesFilters());
        assertEquals(
                List.of(
                        "loom/demo/changes/+/node/Place",
                        "loom/demo/changes/+",
                        "loom/demo/changes/#",
                        "loom/demo/changes/+/node/+"),
                some.formerFilters(List.of("loom/demo/changes/+/node/Place", "loom/demo/changes/+/node/Person")));
        assertTrue(mesh(new Scope(TypeSet.NONE, TypeSet.NONE)).changesFilters().isEmpty());
    }
}
