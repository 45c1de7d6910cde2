package dev.loomdb.edge.it;

import dev.loomdb.edge.config.Names;
import dev.loomdb.edge.embedded.EmbeddedBroker;
import dev.loomdb.edge.embedded.EmbeddedPostgresServer;
import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

/**
 * The services of a node that runs inside the test JVM ({@code @QuarkusTest}): a real PostgreSQL and a
 * real broker, embedded (the default) or the machine's ({@code -Dloom.it.infra=external}: a database of
 * its own and Mosquitto), with a node id and mesh of its own. Used with {@code @WithTestResource}.
 */
public final class InProcessNode implements QuarkusTestResourceLifecycleManager {

    private EmbeddedPostgresServer postgres;
    private EmbeddedBroker broker;
    private String externalDatabase;
    private String nodeId;

    @Override
    public Map<String, String> start() {
        String suffix = Infra.suffix();
        nodeId = "q-" + suffix;
        Map<String, String> config = new HashMap<>();
        config.put("loom.node-id", nodeId);
        config.put("loom.mesh", "in-process-" + suffix);
        config.put("quarkus.http.test-port", "0");
        // the test run's own system properties (loom.it.infra, loom.it.app) are not the node's settings
        config.put("smallrye.config.mapping.validate-unknown", "false");
        config.put("quarkus.datasource.username", "postgres");
        config.put("quarkus.datasource.password", "");
        config.put("loom.mqtt.reconnect-interval", "300ms");
        config.put("loom.api.auth.enabled", "false"); // ApiAuthIT turns it on
        if (Infra.external()) {
            externalDatabase = "loom_it_q_" + suffix;
            Infra.createExternalDatabase(externalDatabase);
            config.put("quarkus.datasource.reactive.url", "postgresql://127.0.0.1:5432/" + externalDatabase);
            config.put("loom.mqtt.host", Infra.brokerHost());
            config.put("loom.mqtt.port", Integer.toString(Infra.brokerPort()));
        } else {
            postgres = EmbeddedPostgresServer.start(Infra.workDir("in-process").resolve("pg"), Infra.freePort());
            int brokerPort = Infra.freePort();
            broker = EmbeddedBroker.start(
                    "127.0.0.1",
                    brokerPort,
                    Infra.workDir("in-process").resolve("broker"),
                    16 * 1024 * 1024,
                    Duration.ofSeconds(30),
                    Duration.ofDays(7));
            config.put("quarkus.datasource.reactive.url", postgres.reactiveUrl());
            config.put("loom.mqtt.host", "127.0.0.1");
            config.put("loom.mqtt.port", Integer.toString(brokerPort));
        }
        return config;
    }

    @Override
    public void stop() {
        if (broker != null) {
            broker.close();
        }
        if (postgres != null) {
            postgres.close();
        }
        if (externalDatabase != null) {
            Infra.dropExternalDatabase(externalDatabase, Names.applyOriginFor(nodeId));
        }
    }
}
