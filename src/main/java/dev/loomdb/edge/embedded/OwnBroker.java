package dev.loomdb.edge.embedded;

import dev.loomdb.edge.config.LoomConfig;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Starts the node's own embedded broker ({@code loom.embedded.broker.engine=loom}) as configured and points the
 * node's MQTT client at it. Unlike the rest of {@link EmbeddedServices}, it uses nothing JVM-only (Vert.x and
 * Netty, as the node's HTTP server and MQTT client do), so the native binary calls it directly.
 */
public final class OwnBroker {
    /** The broker this process started, for the node's status; null when it runs none. */
    private static volatile LoomBroker running;

    private OwnBroker() {}

    /** What this process's own embedded broker holds, if it runs one. */
    public static Optional<BrokerStats> stats() {
        LoomBroker broker = running;
        return broker == null ? Optional.empty() : Optional.ofNullable(broker.stats());
    }

    public static LoomBroker start(LoomConfig loom) {
        LoomConfig.Embedded.Broker settings = loom.embedded().broker();
        LoomBroker broker = LoomBroker.start(
                settings.host(),
                settings.port(),
                Path.of(settings.dataDir()),
                loom.mqtt().maxMessageSize(),
                settings.autosaveInterval(),
                settings.sessionExpiry(),
                new QueueLimit(settings.maxQueued(), settings.maxQueuedBytes()),
                security(settings));
        pointClientAt(settings);
        running = broker;
        return broker;
    }

    /** What a node is told when loom.embedded.broker.engine names no broker it has. */
    public static String engineError(String engine) {
        return "loom.embedded.broker.engine is '" + engine + "'; it is loom (the default) or moquette";
    }

    static BrokerSecurity security(LoomConfig.Embedded.Broker settings) {
        return new BrokerSecurity(
                settings.tlsKeyStore().map(Path::of),
                settings.tlsKeyStorePassword().orElse(""),
                settings.users());
    }

    /** The node's MQTT client connects to the embedded broker, whatever loom.mqtt.host/port say. */
    static void pointClientAt(LoomConfig.Embedded.Broker settings) {
        String host = settings.host();
        System.setProperty("loom.mqtt.host", host.equals("0.0.0.0") ? "127.0.0.1" : host);
        System.setProperty("loom.mqtt.port", Integer.toString(settings.port()));
    }
}
