package dev.loomdb.edge.embedded;

import io.moquette.broker.Server;
import io.moquette.broker.config.IConfig;
import io.moquette.broker.config.MemoryConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;
import org.jboss.logging.Logger;

/**
 * A real MQTT 3.1.1 broker (Moquette) inside the node, for the one-machine default and for a
 * device that serves as the mesh's broker. Sessions and queued QoS 1 messages persist in its data
 * directory, so a restart of the broker loses nothing.
 */
public final class EmbeddedBroker implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(EmbeddedBroker.class);

    private final Server server;
    private final String host;
    private final int port;

    private EmbeddedBroker(Server server, String host, int port) {
        this.server = server;
        this.host = host;
        this.port = port;
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
        // The H2 session queue: with Moquette 0.17's default segmented queue, a restarted broker lost QoS 1
        // messages for persistent sessions (CrashSafetyIT.brokerRestartedMidStreamLosesNothing).
        props.setProperty(IConfig.PERSISTENT_QUEUE_TYPE_PROPERTY_NAME, "h2");
        Server server = new Server();
        try {
            Files.createDirectories(dataDir);
            server.startServer(new MemoryConfig(props));
        } catch (IOException | RuntimeException e) {
            throw new EmbeddedStartException("the embedded MQTT broker did not start on " + host + ":" + port + ": "
                    + e.getMessage() + " (settings loom.embedded.broker.port and loom.embedded.broker.data-dir)", e);
        }
        LOG.infof("Embedded MQTT broker is listening on %s:%d with data in %s", host, port, dataDir.toAbsolutePath());
        return new EmbeddedBroker(server, host, port);
    }

    public String host() {
        return host;
    }

    public int port() {
        return port;
    }

    @Override
    public void close() {
        server.stopServer();
        LOG.info("Embedded MQTT broker stopped");
    }
}
