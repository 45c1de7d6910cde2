package dev.loomdb.edge.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.jar.JarFile;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The packaged node (target/quarkus-app, what users run) carries no signed jar: the JDK checks a jar's
 * signature when the jar is first opened, and Bouncy Castle's (an 850 KB signature file over an 880 KB
 * manifest) cost about 0.2 s of every start. application.properties leaves such signatures out with
 * {@code quarkus.class-loading.removed-resources}.
 */
class PackagedJarsIT {

    @Test
    void noJarOfThePackagedNodeIsSigned() throws IOException {
        Path lib = Path.of("target/quarkus-app/lib/main");
        assertTrue(Files.isDirectory(lib), "the packaged node (mvn package) is in " + lib);
        List<String> jars = new ArrayList<>();
        List<String> signed = new ArrayList<>();
        try (Stream<Path> files = Files.list(lib)) {
            for (Path jar : files.filter(f -> f.toString().endsWith(".jar")).toList()) {
                jars.add(jar.getFileName().toString());
                try (JarFile file = new JarFile(jar.toFile(), false)) {
                    file.stream()
                            .map(e -> e.getName())
                            .filter(n -> n.matches("META-INF/[^/]+\\.(SF|RSA|DSA|EC)"))
                            .forEach(n -> signed.add(jar.getFileName() + "!" + n));
                }
            }
        }
        assertTrue(jars.stream().anyMatch(j -> j.contains("bcprov")), "Bouncy Castle is packaged: " + jars);
        assertEquals(
                List.of(),
                signed,
                "signature files in the node's jars: each costs start time; leave them out with"
                        + " quarkus.class-loading.removed-resources.\"group\\:artifact\"=<files> in application.properties");
    }
}
