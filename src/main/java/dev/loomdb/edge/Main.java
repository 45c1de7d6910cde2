package dev.loomdb.edge;

import dev.loomdb.edge.config.LoomConfig;
import dev.loomdb.edge.config.Names;
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
        AutoCloseable services;
        try {
            services = startEmbedded(bootConfig());
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
                            close(services);
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
        close(services);
        System.exit(exitCode.get());
    }

    /**
     * The embedded services the configuration asks for. On the JVM they are started through their class's
     * name: a native image's analysis then never reaches Moquette or the embedded PostgreSQL, which are
     * JVM-only. The native binary starts the node's own broker (Vert.x and Netty only) directly, and
     * refuses the others, saying what to set instead.
     */
    private static AutoCloseable startEmbedded(SmallRyeConfig config) {
        LoomConfig loom = config.getConfigMapping(LoomConfig.class);
        Names.checkId("loom.node-id", loom.nodeId());
        Names.checkId("loom.mesh", loom.mesh());
        LoomConfig.Embedded embedded = loom.embedded();
        if (io.quarkus.runtime.ImageMode.current() == io.quarkus.runtime.ImageMode.NATIVE_RUN) {
            if (embedded.postgres().enabled()) {
                throw new IllegalArgumentException("the native binary has no embedded PostgreSQL (it is JVM-only):"
                        + " set LOOM_EMBEDDED_POSTGRES=false and point QUARKUS_DATASOURCE_REACTIVE_URL at the"
                        + " device's own");
            }
            if (!embedded.broker().enabled()) {
                return () -> {};
            }
            String engine = embedded.broker().engine();
            if (engine.equals("moquette")) {
                throw new IllegalArgumentException("the native binary's embedded broker is the node's own"
                        + " (Moquette is JVM-only): set LOOM_EMBEDDED_BROKER_ENGINE=loom, or LOOM_EMBEDDED_BROKER=false"
                        + " and LOOM_MQTT_HOST");
            }
            if (!engine.equals("loom")) {
                throw new IllegalArgumentException(dev.loomdb.edge.embedded.OwnBroker.engineError(engine));
            }
            return dev.loomdb.edge.embedded.OwnBroker.start(loom);
        }
        // a name the image builder cannot fold into a constant (it would make the class reachable)
        String launcher = System.getProperty("loom.embedded.launcher", "dev.loomdb.edge.embedded.EmbeddedServices");
        try {
            return (AutoCloseable) Class.forName(launcher)
                    .getMethod("start", SmallRyeConfig.class)
                    .invoke(null, config);
        } catch (java.lang.reflect.InvocationTargetException e) {
            if (e.getCause() instanceof RuntimeException failure) {
                throw failure;
            }
            throw new IllegalStateException(e.getCause());
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("the embedded services are missing from this build: " + e, e);
        }
    }

    private static void close(AutoCloseable services) {
        try {
            services.close();
        } catch (Exception e) {
            LOG.warnf("Stopping the embedded services: %s", e.getMessage());
        }
    }

    private static String rootMessage(Throwable failure) {
        Throwable root = failure;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root.getMessage();
    }

    /** The configuration as Quarkus will see it, read before Quarkus starts. */
    static SmallRyeConfig bootConfig() {
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
}
