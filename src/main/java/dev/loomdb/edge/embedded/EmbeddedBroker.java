package dev.loomdb.edge.embedded;

import io.moquette.broker.ISessionsRepository;
import io.moquette.broker.Server;
import io.moquette.broker.config.IConfig;
import io.moquette.broker.config.MemoryConfig;
import io.moquette.persistence.H2Builder;
import java.io.IOException;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.h2.mvstore.MVStore;
import org.jboss.logging.Logger;

/**
 * A real MQTT 3.1.1 broker (Moquette) inside the node, for the one-machine default and for a
 * device that serves as the mesh's broker. Sessions and queued QoS 1 messages persist in its data
 * directory (saved every {@code loom.embedded.broker.autosave-interval} and at stop), so a restart of the broker
 * loses nothing; after a stop that was not clean (kill -9, power cut) it starts from its last save.
 *
 * <p>Two faults of Moquette 0.17 are worked around here. Its H2 queue can, under load, save a
 * message whose buffer was released a moment before (an {@code IllegalReferenceCountException}
 * in the save); the store then closes itself and the broker can no longer queue or deliver
 * anything: a watchdog restarts the broker from its last save, and clients reconnect by
 * themselves. And it refuses to start from a save holding a persistent session that was connected
 * at the time: {@link #repairSessions} fixes such a save before every start.
 */
public final class EmbeddedBroker implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(EmbeddedBroker.class);
    private static final String STORE_FILE = "moquette_store.h2";
    /** Present while the broker runs: found at start, it says the last run did not stop cleanly. */
    private static final String RUNNING_FILE = "broker.running";

    private static final long WATCH_INTERVAL_MILLIS = 500;
    /** Moquette keeps its H2 store to itself: Server.h2Builder.mvStore, resolved once (null if not found). */
    private static final Field H2_BUILDER = accessible(Server.class, "h2Builder");

    private static final Field MV_STORE = accessible(H2Builder.class, "mvStore");

    private final MemoryConfig config;
    private final Path dataDir;
    private final int autosaveSeconds;
    private final String host;
    private final int port;
    private final ScheduledExecutorService watchdog;
    private Server server;
    private Instant lostAfter;
    private long restarts;
    private boolean closed;

    private EmbeddedBroker(
            MemoryConfig config, Path dataDir, int autosaveSeconds, Server server, String host, int port) {
        this.config = config;
        this.dataDir = dataDir;
        this.autosaveSeconds = autosaveSeconds;
        this.server = server;
        this.host = host;
        this.port = port;
        this.watchdog = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread thread = new Thread(r, "loom-broker-watchdog");
            thread.setDaemon(true);
            return thread;
        });
        watchdog.scheduleWithFixedDelay(
                this::restartIfStoreFailed, WATCH_INTERVAL_MILLIS, WATCH_INTERVAL_MILLIS, TimeUnit.MILLISECONDS);
    }

    /** The broker's password file ({@code user:sha256-hex} lines), written into its data directory. */
    private static Path passwordFile(Path dataDir, Map<String, String> users) {
        try {
            Files.createDirectories(dataDir);
            Path file = dataDir.resolve("passwords");
            StringBuilder lines = new StringBuilder();
            java.security.MessageDigest sha256 = java.security.MessageDigest.getInstance("SHA-256");
            for (Map.Entry<String, String> user : users.entrySet()) {
                lines.append(user.getKey())
                        .append(':')
                        .append(java.util.HexFormat.of()
                                .formatHex(sha256.digest(
                                        user.getValue().getBytes(java.nio.charset.StandardCharsets.UTF_8))))
                        .append('\n');
            }
            Files.writeString(file, lines.toString());
            Files.setPosixFilePermissions(file, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
            return file.toAbsolutePath();
        } catch (IOException | java.security.NoSuchAlgorithmException e) {
            throw new EmbeddedStartException("the embedded MQTT broker's password file could not be written in "
                    + dataDir + ": " + e.getMessage());
        }
    }

    /** The longest session expiry the broker counts right (it keeps it as milliseconds in an int). */
    static final Duration MAX_SESSION_EXPIRY = Duration.ofDays(24);

    public static EmbeddedBroker start(
            String host,
            int port,
            Path dataDir,
            int maxMessageSize,
            Duration autosaveInterval,
            Duration sessionExpiry) {
        return start(host, port, dataDir, maxMessageSize, autosaveInterval, sessionExpiry, BrokerSecurity.OPEN);
    }

    public static EmbeddedBroker start(
            String host,
            int port,
            Path dataDir,
            int maxMessageSize,
            Duration autosaveInterval,
            Duration sessionExpiry,
            BrokerSecurity security) {
        int autosaveSeconds = (int) Math.max(1, autosaveInterval.toSeconds());
        if (sessionExpiry.toSeconds() < 1 || sessionExpiry.compareTo(MAX_SESSION_EXPIRY) > 0) {
            throw new EmbeddedStartException("loom.embedded.broker.session-expiry is " + sessionExpiry.toSeconds()
                    + " s; the embedded broker keeps a session from 1s to " + MAX_SESSION_EXPIRY.toDays()
                    + "d (it counts the expiry in milliseconds of an int)");
        }
        PortCheck.requireFree(host, port, "MQTT broker", "loom.embedded.broker.port");
        Properties props = new Properties();
        props.setProperty(IConfig.HOST_PROPERTY_NAME, host);
        props.setProperty(IConfig.PORT_PROPERTY_NAME, Integer.toString(port));
        props.setProperty(IConfig.WEB_SOCKET_PORT_PROPERTY_NAME, "disabled");
        props.setProperty(IConfig.ENABLE_TELEMETRY_NAME, "false");
        props.setProperty(IConfig.ALLOW_ANONYMOUS_PROPERTY_NAME, "true");
        // MQTT 3.1.1 lets a clean-session client send no id (mosquitto_sub does): accept it.
        props.setProperty("allow_zero_byte_client_id", "true");
        props.setProperty(IConfig.PERSISTENCE_ENABLED_PROPERTY_NAME, "true");
        props.setProperty(
                IConfig.DATA_PATH_PROPERTY_NAME, dataDir.toAbsolutePath().toString());
        props.setProperty(IConfig.NETTY_MAX_BYTES_PROPERTY_NAME, Integer.toString(maxMessageSize));
        props.setProperty("autosave_interval", Integer.toString(autosaveSeconds));
        // a client away longer than this loses its session and queue: the broker's disk does not grow for ever
        props.setProperty(IConfig.PERSISTENT_CLIENT_EXPIRATION_PROPERTY_NAME, sessionExpiry.toSeconds() + "s");
        // The H2 session queue: with Moquette 0.17's default segmented queue, a restarted broker lost QoS 1
        // messages for persistent sessions (CrashSafetyIT.brokerRestartedMidStreamLosesNothing).
        props.setProperty(IConfig.PERSISTENT_QUEUE_TYPE_PROPERTY_NAME, "h2");
        if (security.keyStore().isPresent()) {
            Path store = security.keyStore().get();
            if (!Files.isReadable(store)) {
                throw new EmbeddedStartException("loom.embedded.broker.tls.key-store: cannot read " + store);
            }
            props.setProperty(IConfig.PORT_PROPERTY_NAME, "disabled");
            props.setProperty(IConfig.SSL_PORT_PROPERTY_NAME, Integer.toString(port));
            props.setProperty(IConfig.SSL_PROVIDER, "JDK");
            props.setProperty(
                    IConfig.JKS_PATH_PROPERTY_NAME, store.toAbsolutePath().toString());
            props.setProperty(IConfig.KEY_STORE_TYPE, store.toString().endsWith(".jks") ? "jks" : "pkcs12");
            props.setProperty(IConfig.KEY_STORE_PASSWORD_PROPERTY_NAME, security.keyStorePassword());
            props.setProperty(IConfig.KEY_MANAGER_PASSWORD_PROPERTY_NAME, security.keyStorePassword());
        }
        if (!security.users().isEmpty()) {
            props.setProperty(IConfig.ALLOW_ANONYMOUS_PROPERTY_NAME, "false");
            props.setProperty(
                    IConfig.PASSWORD_FILE_PROPERTY_NAME,
                    passwordFile(dataDir, security.users()).toString());
        }
        MemoryConfig config = new MemoryConfig(props);
        Server server;
        Instant lostAfter;
        try {
            Files.createDirectories(dataDir);
            lostAfter = lastSaveIfUnclean(dataDir);
            server = launch(config, dataDir);
            Files.writeString(
                    dataDir.resolve(RUNNING_FILE), ProcessHandle.current().pid() + "\n");
        } catch (IOException | RuntimeException e) {
            throw new EmbeddedStartException(
                    "the embedded MQTT broker did not start on " + host + ":" + port + ": " + e.getMessage()
                            + " (settings loom.embedded.broker.port and loom.embedded.broker.data-dir)",
                    e);
        }
        LOG.infof(
                "Embedded MQTT broker is listening on %s:%d with data in %s; it keeps the session of a client away"
                        + " for %s (loom.embedded.broker.session-expiry)",
                host,
                port,
                dataDir.toAbsolutePath(),
                sessionExpiry.toSeconds() % 86_400 == 0
                        ? sessionExpiry.toDays() + "d"
                        : sessionExpiry.toSeconds() + "s");
        EmbeddedBroker broker = new EmbeddedBroker(config, dataDir, autosaveSeconds, server, host, port);
        broker.lostAfter = lostAfter;
        return broker;
    }

    /**
     * When the last run did not stop cleanly (kill -9, power cut), what the broker acknowledged after
     * its last save is gone: the time of that save (the store file's), else null.
     */
    private static Instant lastSaveIfUnclean(Path dataDir) throws IOException {
        Path running = dataDir.resolve(RUNNING_FILE);
        if (!Files.exists(running)) {
            return null;
        }
        Path store = dataDir.resolve(STORE_FILE);
        Instant saved =
                Files.getLastModifiedTime(Files.exists(store) ? store : running).toInstant();
        LOG.warnf(
                "The embedded MQTT broker did not stop cleanly last time: what it acknowledged after its last save"
                        + " (%s) is lost; this node publishes its own changes since then again, and anti-entropy"
                        + " mends the rest",
                saved);
        return saved;
    }

    /**
     * When the broker's last run did not stop cleanly, the time after which what it acknowledged may be
     * lost (its last save); empty after a clean stop.
     */
    public Optional<Instant> lostAfter() {
        return Optional.ofNullable(lostAfter);
    }

    private static Server launch(MemoryConfig config, Path dataDir) throws IOException {
        repairSessions(dataDir);
        Server server = new Server();
        try {
            server.startServer(config);
        } catch (IOException | RuntimeException e) {
            MVStore store = store(server); // a half-started broker keeps its store, and its file lock, open
            if (store != null) {
                store.closeImmediately();
            }
            throw e;
        }
        return server;
    }

    /**
     * Makes the sessions saved by a broker that did not stop cleanly loadable again. Moquette 0.17
     * gives a persistent session its expiry only when it closes cleanly, and refuses to start from
     * a store holding one without ("Can't track for expiration a session without expiry instant"),
     * which is what a kill -9, a power cut or a failed store leaves. Each such session gets the
     * expiry a clean stop would have given it, so its subscriptions and queued messages load.
     */
    static void repairSessions(Path dataDir) {
        Path file = dataDir.resolve(STORE_FILE);
        if (!Files.exists(file)) {
            return;
        }
        MVStore store = new MVStore.Builder()
                .fileName(file.toAbsolutePath().toString())
                .autoCommitDisabled()
                .open();
        try {
            Class<?> type = Class.forName("io.moquette.persistence.H2SessionsRepository");
            Constructor<?> constructor = type.getConstructor(MVStore.class, Clock.class);
            constructor.setAccessible(true); // a public constructor of a package-private class
            ISessionsRepository sessions =
                    (ISessionsRepository) constructor.newInstance(store, Clock.systemDefaultZone());
            int repaired = 0;
            for (ISessionsRepository.SessionData session : sessions.list()) {
                if (session.expireAt().isEmpty()) {
                    sessions.saveSession(session.withExpirationComputed());
                    repaired++;
                }
            }
            store.commit();
            if (repaired > 0) {
                LOG.infof(
                        "The embedded MQTT broker did not stop cleanly last time: %d saved sessions were made"
                                + " loadable again, with their subscriptions and queued messages",
                        repaired);
            }
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot read the broker's saved sessions in " + file, e);
        } finally {
            store.close();
        }
    }

    public String host() {
        return host;
    }

    public int port() {
        return port;
    }

    /** How often the watchdog has restarted the broker since the node started. */
    public synchronized long restarts() {
        return restarts;
    }

    private synchronized void restartIfStoreFailed() {
        if (closed || !storeFailed(server)) {
            return;
        }
        LOG.errorf(
                "The embedded MQTT broker's session store failed (a known fault of Moquette's H2 queue under load);"
                        + " restarting the broker on %s:%d from its last save (at most %d s old). Clients reconnect by themselves."
                        + " For a busy mesh, prefer an external broker (loom.embedded.broker=false, loom.mqtt.host).",
                host, port, autosaveSeconds);
        try {
            server.stopServer();
        } catch (RuntimeException e) {
            LOG.debugf(e, "Stopping the broker with a failed store");
        }
        try {
            server = launch(config, dataDir);
            restarts++;
            LOG.infof("Embedded MQTT broker restarted on %s:%d", host, port);
        } catch (IOException | RuntimeException e) {
            LOG.errorf(
                    "The embedded MQTT broker did not restart on %s:%d (%s); trying again in %d ms",
                    host, port, e.getMessage(), WATCH_INTERVAL_MILLIS);
        }
    }

    /** Whether Moquette's H2 store has closed itself after a failed save (it does not say so otherwise). */
    private static boolean storeFailed(Server server) {
        MVStore store = store(server);
        return store != null && store.isClosed();
    }

    /** The running broker (a new one after each restart). */
    synchronized Server server() {
        return server;
    }

    /** Moquette's H2 store of a broker, which it does not expose; null if there is none or it cannot be reached. */
    static MVStore store(Server server) {
        if (H2_BUILDER == null || MV_STORE == null) {
            return null;
        }
        try {
            Object builder = H2_BUILDER.get(server);
            return builder == null ? null : (MVStore) MV_STORE.get(builder);
        } catch (IllegalAccessException e) {
            return null;
        }
    }

    private static Field accessible(Class<?> type, String name) {
        try {
            Field field = type.getDeclaredField(name);
            field.setAccessible(true);
            return field;
        } catch (ReflectiveOperationException | RuntimeException e) {
            LOG.warnf(
                    "This Moquette has no %s.%s: a failed session store will not be noticed",
                    type.getSimpleName(), name);
            return null;
        }
    }

    @Override
    public synchronized void close() {
        closed = true;
        watchdog.shutdownNow();
        server.stopServer();
        try {
            Files.deleteIfExists(dataDir.resolve(RUNNING_FILE));
        } catch (IOException e) {
            LOG.warnf("Could not remove %s: the next start will publish recent changes again", RUNNING_FILE);
        }
        LOG.info("Embedded MQTT broker stopped");
    }
}
