package dev.loomdb.edge.embedded;

import io.moquette.broker.Server;
import io.moquette.broker.config.IConfig;
import io.moquette.broker.config.MemoryConfig;
import java.io.IOException;
import java.lang.reflect.Field;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.h2.mvstore.MVStore;
import org.jboss.logging.Logger;

/**
 * A real MQTT 3.1.1 broker (Moquette) inside the node, for the one-machine default and for a
 * device that serves as the mesh's broker. Sessions and queued QoS 1 messages persist in its data
 * directory (saved every {@value #AUTOSAVE_SECONDS} s and at stop), so a restart of the broker
 * loses nothing.
 *
 * <p>A watchdog restarts the broker if its session store fails: Moquette 0.17's H2 queue can,
 * under load, save a message whose buffer was released a moment before (an
 * {@code IllegalReferenceCountException} in the save), after which the store is closed and the
 * broker can no longer queue or deliver anything. Restarted, it continues from its last save;
 * clients reconnect by themselves.
 */
public final class EmbeddedBroker implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(EmbeddedBroker.class);
    static final int AUTOSAVE_SECONDS = 30;
    private static final long WATCH_INTERVAL_MILLIS = 500;

    private final MemoryConfig config;
    private final String host;
    private final int port;
    private final ScheduledExecutorService watchdog;
    private Server server;
    private long restarts;
    private boolean closed;

    private EmbeddedBroker(MemoryConfig config, Server server, String host, int port) {
        this.config = config;
        this.server = server;
        this.host = host;
        this.port = port;
        this.watchdog = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread thread = new Thread(r, "loom-broker-watchdog");
            thread.setDaemon(true);
            return thread;
        });
        watchdog.scheduleWithFixedDelay(this::restartIfStoreFailed, WATCH_INTERVAL_MILLIS, WATCH_INTERVAL_MILLIS,
                TimeUnit.MILLISECONDS);
    }

    public static EmbeddedBroker start(String host, int port, Path dataDir, int maxMessageSize) {
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
        props.setProperty(IConfig.DATA_PATH_PROPERTY_NAME, dataDir.toAbsolutePath().toString());
        props.setProperty(IConfig.NETTY_MAX_BYTES_PROPERTY_NAME, Integer.toString(maxMessageSize));
        props.setProperty("autosave_interval", Integer.toString(AUTOSAVE_SECONDS));
        // The H2 session queue: with Moquette 0.17's default segmented queue, a restarted broker lost QoS 1
        // messages for persistent sessions (CrashSafetyIT.brokerRestartedMidStreamLosesNothing).
        props.setProperty(IConfig.PERSISTENT_QUEUE_TYPE_PROPERTY_NAME, "h2");
        MemoryConfig config = new MemoryConfig(props);
        Server server;
        try {
            Files.createDirectories(dataDir);
            server = launch(config);
        } catch (IOException | RuntimeException e) {
            throw new EmbeddedStartException("the embedded MQTT broker did not start on " + host + ":" + port + ": "
                    + e.getMessage() + " (settings loom.embedded.broker.port and loom.embedded.broker.data-dir)", e);
        }
        LOG.infof("Embedded MQTT broker is listening on %s:%d with data in %s", host, port, dataDir.toAbsolutePath());
        return new EmbeddedBroker(config, server, host, port);
    }

    private static Server launch(MemoryConfig config) throws IOException {
        Server server = new Server();
        server.startServer(config);
        return server;
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
        LOG.errorf("The embedded MQTT broker's session store failed (a known fault of Moquette's H2 queue under load);"
                + " restarting the broker on %s:%d from its last save (at most %d s old). Clients reconnect by themselves."
                + " For a busy mesh, prefer an external broker (loom.embedded.broker.enabled=false, loom.mqtt.host).",
                host, port, AUTOSAVE_SECONDS);
        try {
            server.stopServer();
        } catch (RuntimeException e) {
            LOG.debugf(e, "Stopping the broker with a failed store");
        }
        try {
            server = launch(config);
            restarts++;
            LOG.infof("Embedded MQTT broker restarted on %s:%d", host, port);
        } catch (IOException | RuntimeException e) {
            LOG.errorf("The embedded MQTT broker did not restart on %s:%d (%s); trying again in %d ms", host, port,
                    e.getMessage(), WATCH_INTERVAL_MILLIS);
        }
    }

    /** Whether Moquette's H2 store has closed itself after a failed save (it does not say so otherwise). */
    static boolean storeFailed(Server server) {
        try {
            Field builderField = Server.class.getDeclaredField("h2Builder");
            builderField.setAccessible(true);
            Object builder = builderField.get(server);
            if (builder == null) {
                return false;
            }
            Field storeField = builder.getClass().getDeclaredField("mvStore");
            storeField.setAccessible(true);
            MVStore store = (MVStore) storeField.get(builder);
            return store != null && store.isClosed();
        } catch (ReflectiveOperationException | RuntimeException e) {
            return false;
        }
    }

    @Override
    public synchronized void close() {
        closed = true;
        watchdog.shutdownNow();
        server.stopServer();
        LOG.info("Embedded MQTT broker stopped");
    }
}
