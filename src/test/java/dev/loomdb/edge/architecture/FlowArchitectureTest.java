package dev.loomdb.edge.architecture;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchRule;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The tree reads as the flow (DESIGN.md, "The path of one change"): capture → outbound → mesh →
 * apply → history. A stage may use the stages downstream of it and the shared packages (the
 * hand-off types in {@code flow}, {@code config}, {@code telemetry}, the merge rule), never one
 * upstream; the shared packages use no stage; the pure cores import nothing of Quarkus, Vert.x or
 * JDBC; REST resources never reach into capture. A wrong-way import fails the build here.
 */
class FlowArchitectureTest {

    private static final String ROOT = "dev.loomdb.edge";
    /** The stages in the order a change travels through them. */
    private static final List<String> FLOW =
            List.of("capture", "outbound", "statesync", "mesh", "apply", "history", "feed");

    private static final List<String> SHARED = List.of("flow", "config", "telemetry", "merge");

    private static JavaClasses classes;

    @BeforeAll
    static void importMainClasses() {
        classes = new ClassFileImporter()
                .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages(ROOT);
    }

    @Test
    void packagesHaveNoCycles() {
        slices().matching(ROOT + ".(*)..").should().beFreeOfCycles().check(classes);
    }

    @Test
    void stagesDependOnlyDownstream() {
        for (int i = 1; i < FLOW.size(); i++) {
            for (String upstream : FLOW.subList(0, i)) {
                ArchRule rule = noClasses()
                        .that()
                        .resideInAPackage(pkg(FLOW.get(i)))
                        .should()
                        .dependOnClassesThat()
                        .resideInAPackage(pkg(upstream))
                        .because(upstream + " comes before " + FLOW.get(i)
                                + " in the flow: dependencies run downstream");
                rule.check(classes);
            }
        }
    }

    @Test
    void sharedPackagesUseNoStage() {
        for (String shared : SHARED) {
            noClasses()
                    .that()
                    .resideInAPackage(pkg(shared))
                    .should()
                    .dependOnClassesThat()
                    .resideInAnyPackage(stagesAndTop())
                    .because(shared + " is shared by every stage")
                    .check(classes);
        }
    }

    @Test
    void stagesDoNotReachIntoTheNodeOrTheRestLayer() {
        noClasses()
                .that()
                .resideInAnyPackage(FLOW.stream().map(FlowArchitectureTest::pkg).toArray(String[]::new))
                .should()
                .dependOnClassesThat()
                .resideInAnyPackage(pkg("node"), pkg("graph"))
                .because("the node wires the stages and serves them over REST, not the other way round")
                .check(classes);
    }

    @Test
    void pureCoresImportNoFrameworkOrDriver() {
        noClasses()
                .that()
                .resideInAnyPackage(pkg("capture.pgoutput"), pkg("merge"), pkg("flow"))
                .or()
                .haveFullyQualifiedName(ROOT + ".capture.SlotPosition")
                .or()
                .haveFullyQualifiedName(ROOT + ".capture.DecodeFailures")
                .or()
                .haveFullyQualifiedName(ROOT + ".outbound.Debouncer")
                .or()
                .haveFullyQualifiedName(ROOT + ".outbound.Window")
                .should()
                .dependOnClassesThat()
                .resideInAnyPackage(
                        "io.quarkus..", "io.vertx..", "io.smallrye..", "jakarta..", "java.sql..", "org.postgresql..")
                .because("the pure cores are tested in milliseconds and read on their own")
                .check(classes);
    }

    @Test
    void restResourcesNeverReachIntoCapture() {
        noClasses()
                .that()
                .areAnnotatedWith(jakarta.ws.rs.Path.class)
                .should()
                .dependOnClassesThat()
                .resideInAPackage(pkg("capture"))
                .because("the REST layer talks to services, never to the replication stream")
                .check(classes);
    }

    private static String pkg(String name) {
        return ROOT + "." + name + "..";
    }

    private static String[] stagesAndTop() {
        return java.util.stream.Stream.concat(FLOW.stream(), java.util.stream.Stream.of("node", "graph", "embedded"))
                .map(FlowArchitectureTest::pkg)
                .toArray(String[]::new);
    }
}
