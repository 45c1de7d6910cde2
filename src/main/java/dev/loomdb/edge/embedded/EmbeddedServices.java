package dev.loomdb.edge.embedded;

import dev.loomdb.edge.config.LoomConfig;
import io.smallrye.config.SmallRyeConfig;
import java.nio.file.Path;

/**
 * The embedded PostgreSQL and MQTT broker of the one-machine default, started before Quarkus and
 * stopped once, in reverse order, after it. JVM only: {@code Main} reaches this class by name, so that
 * a native image's analysis never reaches Moquette or the embedded PostgreSQL; the native binary
 * starts the node's own broker through {@link OwnBroker}.
 */
public final class EmbeddedServices implements AutoCloseable {
    private EmbeddedPostgresServer postgres;
    private AutoCloseable broker;
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
                LoomConfig.Embedded.Broker settings = embedded.broker();
                switch (settings.engine()) {
                    case "loom" -> services.broker = OwnBroker.start(loom);
                    case "moquette" -> {
                        EmbeddedBroker moquette = EmbeddedBroker.start(
                                settings.host(),
                                settings.port(),
                                Path.of(settings.dataDir()),
                                loom.mqtt().maxMessageSize(),
                                settings.autosaveInterval(),
                                settings.sessionExpiry(),
                                OwnBroker.security(settings));
                        services.broker = moquette;
                        moquette.lostAfter()
                                .ifPresent(at -> System.setProperty(
                                        dev.loomdb.edge.node.SlotRecovery.BROKER_LOST_AFTER,
                                        Long.toString(at.toEpochMilli())));
                        OwnBroker.pointClientAt(settings);
                    }
                    default -> throw new EmbeddedStartException(OwnBroker.engineError(settings.engine()));
                }
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
            try {
                broker.close();
            } catch (Exception e) {
                org.jboss.logging.Logger.getLogger(EmbeddedServices.class)
                        .warnf("Stopping the embedded MQTT broker: %s", e.getMessage());
            }
        }
        if (postgres != null) {
            postgres.close();
        }
    }
}
