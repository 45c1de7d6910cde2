package dev.loomdb.edge.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** The scripts the schema's fingerprint covers are exactly those Flyway finds: a new one is never skipped. */
class SchemaMigrationsTest {

    @Test
    void theFingerprintCoversEveryMigrationScript() throws Exception {
        Set<String> inTheDirectory;
        try (Stream<Path> files = Files.list(Path.of("src/main/resources", SchemaMigrations.LOCATION))) {
            inTheDirectory = files.map(f -> f.getFileName().toString()).collect(Collectors.toCollection(TreeSet::new));
        }
        assertEquals(
                inTheDirectory,
                new TreeSet<>(SchemaMigrations.SCRIPTS),
                "SchemaMigrations.SCRIPTS must list every script in src/main/resources/db/migration");
    }

    @Test
    void theFingerprintIsAStableSha256() {
        String fingerprint = SchemaMigrations.fingerprint();
        assertEquals(64, fingerprint.length());
        assertTrue(fingerprint.matches("[0-9a-f]+"), fingerprint);
        assertEquals(fingerprint, SchemaMigrations.fingerprint());
    }
}
