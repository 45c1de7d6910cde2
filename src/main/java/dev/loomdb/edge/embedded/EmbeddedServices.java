package dev.loomdb.edge.embedded;

import dev.loomdb.edge.config.LoomConfig;
import io.smallrye.config.SmallRyeConfig;
import java.nio.file.Path;

/**
 * The embedded PostgreSQL and MQTT broker of the one-machine default, started before Quarkus and
 * stopped once, in reverse order, after it. JVM only: {@code Main} reaches this class by name, so that
 * a native image's analysis never reaches Moquette or the embedded PostgreSQL.
 */
public final class EmbeddedServices implements AutoCloseable {
    private EmbeddedPostgresServer postgres;
    private EmbeddedBroker broker;
    private boolean closed;

    /** Starts what {@code loom.embedded.*} asks for; called by {@code Main} (which checked the ids) on the JVM only. */
    public static EmbeddedServices start(SmallRyeConfig config) {
        LoomConfig loom = config.getConfigMapping(LoomConfig.class);
        LoomConfig.Embedded embedded = loom.embedded();
        EmbeddedServices services = new EmbeddedServices();
        try {
            if (embedded.postgres().enabled()) {
                services.postgres = EmbeddedPostgresServer.start(
                        Path.of(embedded.postgres().dataDir()),
                        embedded.postgres().port());
                System.setProperty("quarkus.datasource.reactive.url", services.postgres.reactiveUrl());
                System.setProperty("quarkus.datasource.username", "postgres");
                System.setProperty("quarkus.datasource.password", "");
            }
            if (embedded.broker().enabled()) {
                services.broker = EmbeddedBroker.start(
                        embedded.broker().host(),
                        embedded.broker().port(),
                        Path.of(embedded.broker().dataDir()),
                        loom.mqtt().maxMessageSize(),
                        embedded.broker().autosaveInterval(),
                        embedded.broker().sessionExpiry(),
                        new EmbeddedBroker.Security(
                                embedded.broker().tlsKeyStore().map(Path::of),
                                embedded.broker().tlsKeyStorePassword().orElse(""),
                                embedded.broker().users()));
                services.broker
                        .lostAfter()
                        .ifPresent(at -> System.setProperty(
                                dev.loomdb.edge.node.SlotRecovery.BROKER_LOST_AFTER, Long.toString(at.toEpochMilli())));
                String host = embedded.broker().host();
                System.setProperty("loom.mqtt.host", host.equals("0.0.0.0") ? "127.0.0.1" : host);
                System.setProperty(
                        "loom.mqtt.port", Integer.toString(embedded.broker().port()));
            }
        } catch (RuntimeException e) {
            services.close();
            throw e;
        }
        return services;
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (broker != null) {
            broker.close();
        }
        if (postgres != null) {
            postgres.close();
        }
    }
}
