package dev.loomdb.edge;

import dev.loomdb.edge.config.LoomConfig;
import dev.loomdb.edge.config.Names;
import dev.loomdb.edge.embedded.EmbeddedBroker;
import dev.loomdb.edge.embedded.EmbeddedPostgresServer;
import dev.loomdb.edge.embedded.EmbeddedStartException;
import io.quarkus.runtime.Quarkus;
import io.quarkus.runtime.QuarkusApplication;
import io.quarkus.runtime.annotations.QuarkusMain;
import io.quarkus.runtime.configuration.DurationConverter;
import io.smallrye.config.PropertiesConfigSource;
import io.smallrye.config.SmallRyeConfig;
import io.smallrye.config.SmallRyeConfigBuilder;
import java.io.IOException;
import java.net.URL;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.jboss.logging.Logger;

/**
 * Starts the embedded PostgreSQL and MQTT broker when they are configured (the default), then the
 * node itself, and stops the embedded services only after the node has stopped.
 */
@QuarkusMain
public class Main {

    private static final Logger LOG = Logger.getLogger(Main.class);

    public static void main(String... args) {
        // Until Quarkus configures logging, keep what the embedded services say at INFO.
        java.util.logging.Logger.getLogger("").setLevel(java.util.logging.Level.INFO);
        EmbeddedServices services;
        try {
            services = EmbeddedServices.start(bootConfig());
        } catch (EmbeddedStartException | IllegalArgumentException e) {
            // Logging is not set up before Quarkus starts, and never will be now: write to stderr.
            System.err.println("LoomDB Edge cannot start: " + e.getMessage());
            System.exit(1);
            return;
        }
        CountDownLatch nodeStopped = new CountDownLatch(1);
        Runtime.getRuntime()
                .addShutdownHook(new Thread(
                        () -> {
                            try {
                                nodeStopped.await(20, TimeUnit.SECONDS);
                            } catch (InterruptedException e) {
                                Thread.currentThread().interrupt();
                            }
                            services.close();
                        },
                        "loom-embedded-stop"));

        AtomicInteger exitCode = new AtomicInteger();
        Quarkus.run(
                Node.class,
                (code, failure) -> {
                    exitCode.set(code);
                    if (failure != null && code != 0) {
                        LOG.error("LoomDB Edge stopped: " + rootMessage(failure), failure);
                    }
                },
                args);
        nodeStopped.countDown();
        services.close();
        System.exit(exitCode.get());
    }

    private static String rootMessage(Throwable failure) {
        Throwable root = failure;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root.getMessage();
    }

    /** The configuration as Quarkus will see it, read before Quarkus starts. */
    private static SmallRyeConfig bootConfig() {
        SmallRyeConfigBuilder builder = new SmallRyeConfigBuilder()
                .addDefaultSources()
                .addDefaultInterceptors()
                .withValidateUnknown(false)
                .withConverter(Duration.class, 200, new DurationConverter())
                .withMapping(LoomConfig.class)
                .withProfile(
                        System.getProperty("quarkus.profile", System.getenv().getOrDefault("QUARKUS_PROFILE", "prod")));
        URL properties = Main.class.getClassLoader().getResource("application.properties");
        if (properties != null) {
            try {
                builder.withSources(new PropertiesConfigSource(properties, 250));
            } catch (IOException e) {
                throw new IllegalStateException("cannot read application.properties", e);
            }
        }
        String locations = System.getProperty("quarkus.config.locations", System.getenv("QUARKUS_CONFIG_LOCATIONS"));
        if (locations != null && !locations.isBlank()) {
            for (String location : locations.split(",")) {
                Path file = Path.of(location.trim());
                try {
                    builder.withSources(new PropertiesConfigSource(file.toUri().toURL(), 260));
                } catch (IOException e) {
                    throw new IllegalArgumentException("cannot read the configuration file " + file.toAbsolutePath()
                            + " named in quarkus.config.locations: " + e.getMessage());
                }
            }
        }
        return builder.build();
    }

    /** Keeps the node running until it is asked to stop. */
    public static class Node implements QuarkusApplication {
        @Override
        public int run(String... args) {
            Quarkus.waitForExit();
            return 0;
        }
    }

    /** The embedded services that were started, stopped once, in reverse order. */
    private static final class EmbeddedServices {
        private EmbeddedPostgresServer postgres;
        private EmbeddedBroker broker;
        private boolean closed;

        static EmbeddedServices start(SmallRyeConfig config) {
            LoomConfig loom = config.getConfigMapping(LoomConfig.class);
            LoomConfig.Embedded embedded = loom.embedded();
            Names.checkId("loom.node-id", loom.nodeId());
            Names.checkId("loom.mesh", loom.mesh());
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
                            embedded.broker().sessionExpiry());
                    services.broker
                            .lostAfter()
                            .ifPresent(at -> System.setProperty(
                                    dev.loomdb.edge.node.SlotRecovery.BROKER_LOST_AFTER,
                                    Long.toString(at.toEpochMilli())));
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

        synchronized void close() {
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
}
