package dev.loomdb.edge.it;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Comparator;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * A PostgreSQL data directory exactly as a node's embedded PostgreSQL makes it on its first start (the
 * same binaries' {@code initdb}, through the same library), made once per build and copied into each
 * test node's work directory before that node's first start. A node then starts on an existing,
 * empty cluster, as after a restart, instead of running {@code initdb} itself: about 1.5 s and a
 * second of CPU per node on a loaded two-core machine, where the suite starts about 200 nodes.
 * The node still creates its schema, publication and slot. {@code NodeStartIT} starts a node that
 * runs {@code initdb} itself ({@link NodeProcess#initdbOnFirstStart()}).
 */
final class PostgresTemplate {

    private static final Path TEMPLATE =
            Path.of("target", "it", "postgres-template").toAbsolutePath();

    private PostgresTemplate() {}

    /** Copies the template to {@code dataDir}, which must not exist yet; makes the template first if needed. */
    static void copyTo(Path dataDir) {
        Path template = template();
        try {
            Files.createDirectories(dataDir.getParent());
            Files.walkFileTree(template, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
                    // COPY_ATTRIBUTES keeps the 0700 that PostgreSQL requires of its data directory
                    Files.copy(dir, dataDir.resolve(template.relativize(dir)), StandardCopyOption.COPY_ATTRIBUTES);
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                    Files.copy(file, dataDir.resolve(template.relativize(file)), StandardCopyOption.COPY_ATTRIBUTES);
                    return FileVisitResult.CONTINUE;
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException("cannot copy the PostgreSQL template to " + dataDir, e);
        }
    }

    /**
     * The template, made by the first test JVM that needs it: in a directory of its own, then renamed
     * into place, so that two test JVMs making it at once never copy a half-made one.
     */
    private static synchronized Path template() {
        if (Files.exists(TEMPLATE.resolve("PG_VERSION"))) {
            return TEMPLATE;
        }
        Path making = TEMPLATE.resolveSibling("postgres-template-" + UUID.randomUUID());
        try {
            // start and stop once: initdb, then a clean shutdown, as a node's first start and stop leave it
            EmbeddedPostgres.builder()
                    .setDataDirectory(making)
                    .setCleanDataDirectory(false)
                    .setRegisterShutdownHook(false)
                    .start()
                    .close();
            Files.deleteIfExists(making.resolve("epg-lock"));
            Files.deleteIfExists(making.resolve("postmaster.opts"));
            Files.move(making, TEMPLATE, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            if (!Files.exists(TEMPLATE.resolve("PG_VERSION"))) { // not another JVM's template in place first
                throw new UncheckedIOException("cannot make the PostgreSQL template in " + making, e);
            }
            delete(making);
        }
        return TEMPLATE;
    }

    private static void delete(Path dir) {
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder())
                    .forEach(path -> path.toFile().delete());
        } catch (IOException ignored) {
            // a leftover under target/ is removed by the next clean
        }
    }
}
