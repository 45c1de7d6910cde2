package dev.loomdb.edge.embedded;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;

/**
 * A real PostgreSQL (17, from the io.zonky.test binaries) run by the node for the one-machine
 * default: wal_level=logical, durable (fsync and synchronous_commit on, which the library turns off
 * by default), listening on 127.0.0.1 only, its data directory kept across restarts. Its own log
 * (errors, slow or failed statements, autovacuum, checkpoints as configured) goes to
 * {@code <data-dir>/log/postgresql-<weekday>.log}: one file per weekday, each emptied when its day
 * comes round again, so a week is kept and the directory does not grow.
 */
public final class EmbeddedPostgresServer implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(EmbeddedPostgresServer.class);

    private final EmbeddedPostgres postgres;

    private EmbeddedPostgresServer(EmbeddedPostgres postgres) {
        this.postgres = postgres;
    }

    public static EmbeddedPostgresServer start(Path dataDir, int port) {
        try {
            Files.createDirectories(dataDir);
            stopLeftoverServer(dataDir);
            PortCheck.requireFree("127.0.0.1", port, "PostgreSQL", "loom.embedded.postgres.port");
            EmbeddedPostgres postgres = EmbeddedPostgres.builder()
                    .setDataDirectory(dataDir)
                    .setCleanDataDirectory(false)
                    .setRegisterShutdownHook(false)
                    .setPort(port)
                    .setPGStartupWait(Duration.ofSeconds(60))
                    .setServerConfig("listen_addresses", "127.0.0.1")
                    .setServerConfig("unix_socket_directories", "")
                    .setServerConfig("wal_level", "logical")
                    .setServerConfig("max_replication_slots", "16")
                    .setServerConfig("max_wal_senders", "16")
                    .setServerConfig("fsync", "on")
                    .setServerConfig("synchronous_commit", "on")
                    .setServerConfig("max_connections", "100")
                    .setServerConfig("logging_collector", "on")
                    .setServerConfig("log_directory", "log")
                    .setServerConfig("log_filename", "postgresql-%a.log")
                    .setServerConfig("log_truncate_on_rotation", "on")
                    .setServerConfig("log_rotation_age", "1d")
                    .setServerConfig("log_rotation_size", "0")
                    .start();
            LOG.infof(
                    "Embedded PostgreSQL is running on 127.0.0.1:%d with data in %s, its log in %s",
                    port, dataDir.toAbsolutePath(), dataDir.resolve("log").toAbsolutePath());
            return new EmbeddedPostgresServer(postgres);
        } catch (IOException e) {
            throw new EmbeddedStartException(
                    "the embedded PostgreSQL did not start in " + dataDir.toAbsolutePath()
                            + ": " + e.getMessage()
                            + ". Check that the directory is writable (loom.embedded.postgres.data-dir)"
                            + " or use an external PostgreSQL (loom.embedded.postgres=false and quarkus.datasource.reactive.url)",
                    e);
        }
    }

    /**
     * A node killed without a shutdown leaves its PostgreSQL running. Starting another one on the
     * same data directory would fail, or silently reuse the orphan with its old settings: stop it.
     */
    private static void stopLeftoverServer(Path dataDir) throws IOException {
        Path pidFile = dataDir.resolve("postmaster.pid");
        if (!Files.exists(pidFile)) {
            return;
        }
        List<String> lines = Files.readAllLines(pidFile);
        if (lines.isEmpty() || lines.get(0).isBlank()) {
            return;
        }
        long pid;
        try {
            pid = Long.parseLong(lines.get(0).trim());
        } catch (NumberFormatException e) {
            return;
        }
        Optional<ProcessHandle> leftover = ProcessHandle.of(pid)
                .filter(p -> p.info().command().map(c -> c.contains("postgres")).orElse(false));
        if (leftover.isEmpty()) {
            return;
        }
        LOG.warnf(
                "A PostgreSQL left running by an earlier run (pid %d) still holds %s; stopping it before starting.",
                pid, dataDir.toAbsolutePath());
        ProcessHandle process = leftover.get();
        process.destroy(); // SIGTERM: smart shutdown, nobody is connected any more
        try {
            process.onExit().get(30, TimeUnit.SECONDS);
        } catch (Exception e) {
            process.destroyForcibly();
            try {
                process.onExit().get(10, TimeUnit.SECONDS);
            } catch (Exception ignored) {
                throw new EmbeddedStartException("a PostgreSQL left by an earlier run (pid " + pid
                        + ") does not stop; stop it by hand and start again");
            }
        }
    }

    public int port() {
        return postgres.getPort();
    }

    /** The datasource URL in the form quarkus.datasource.reactive.url takes. */
    public String reactiveUrl() {
        return "postgresql://127.0.0.1:" + port() + "/postgres";
    }

    @Override
    public void close() {
        try {
            postgres.close();
            LOG.info("Embedded PostgreSQL stopped");
        } catch (IOException e) {
            LOG.warnf("Embedded PostgreSQL did not stop cleanly: %s", e.getMessage());
        }
    }
}
