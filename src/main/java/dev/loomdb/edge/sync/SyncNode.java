package dev.loomdb.edge.sync;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loomdb.edge.apply.Applier;
import dev.loomdb.edge.apply.Rejects;
import dev.loomdb.edge.apply.TombstonePurge;
import dev.loomdb.edge.capture.ReplicationSettings;
import dev.loomdb.edge.capture.ReplicationStream;
import dev.loomdb.edge.capture.SlotPosition;
import dev.loomdb.edge.config.LoomConfig;
import dev.loomdb.edge.config.Names;
import dev.loomdb.edge.mesh.EnvelopeCodec;
import dev.loomdb.edge.mesh.Inbound;
import dev.loomdb.edge.mesh.MeshLink;
import dev.loomdb.edge.mesh.MeshSettings;
import dev.loomdb.edge.merge.MergeRule;
import dev.loomdb.edge.outbound.Debouncer;
import dev.loomdb.edge.outbound.Publisher;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.vertx.core.Vertx;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;
import io.vertx.pgclient.PgConnectOptions;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

/**
 * Puts the stages together in the order of the data flow and runs them for the life of the node:
 * capture (slot) → outbound (publisher) → mesh (MQTT link) → inbound → apply (merge in PostgreSQL).
 * At shutdown it stops reading the slot, waits briefly for the broker's last acknowledgements,
 * confirms what they cover, and leaves the rest in the slot for the next start.
 */
@ApplicationScoped
public class SyncNode {

    private static final Logger LOG = Logger.getLogger(SyncNode.class);
    private static final String SCHEMA = "loom";

    private final LoomConfig config;
    private final Vertx vertx;
    private final Pool pool;
    private final ObjectMapper mapper;
    private final String reactiveUrl;
    private final String jdbcUrl;
    private final String user;
    private final Optional<String> password;

    private String nodeId;
    private String slot;
    private SlotPosition position;
    private ReplicationStream capture;
    private Publisher publisher;
    private MeshLink link;
    private Inbound inbound;
    private Applier applier;
    private Rejects rejects;
    private long purgeTimer = -1;
    private long heartbeatTimer = -1;

    public SyncNode(LoomConfig config, Vertx vertx, Pool pool, ObjectMapper mapper,
            @ConfigProperty(name = "quarkus.datasource.reactive.url") String reactiveUrl,
            @ConfigProperty(name = "quarkus.datasource.jdbc.url") String jdbcUrl,
            @ConfigProperty(name = "quarkus.datasource.username") String user,
            @ConfigProperty(name = "quarkus.datasource.password") Optional<String> password) {
        this.config = config;
        this.vertx = vertx;
        this.pool = pool;
        this.mapper = mapper;
        this.reactiveUrl = reactiveUrl;
        this.jdbcUrl = jdbcUrl;
        this.user = user;
        this.password = password;
    }

    void start(@Observes @Priority(100) StartupEvent event) {
        nodeId = Names.checkId("loom.node-id", config.nodeId());
        String mesh = Names.checkId("loom.mesh", config.mesh());
        slot = config.capture().slot().orElse(Names.slotFor(nodeId));
        recordNodeId();

        EnvelopeCodec codec = new EnvelopeCodec(mapper);
        PgConnectOptions applyOptions = PgConnectOptions.fromUri(reactiveUrl.replaceFirst("^vertx-reactive:", ""))
                .setUser(user);
        password.ifPresent(applyOptions::setPassword);
        applier = new Applier(vertx, applyOptions, Names.applyOriginFor(nodeId), mergeRule(),
                config.conflict().autoResolve());
        rejects = new Rejects(pool);
        inbound = new Inbound(vertx, codec, applier, rejects, mesh, nodeId, config.tombstone().retention());
        TombstonePurge purge = new TombstonePurge(pool, config.tombstone().retention());
        purgeTimer = vertx.setPeriodic(config.tombstone().purgeInterval().toMillis(),
                id -> purge.purge().subscribe().with(count -> { }));

        LoomConfig.Mqtt mqtt = config.mqtt();
        MeshSettings meshSettings = new MeshSettings(mqtt.host(), mqtt.port(), mqtt.username(), mqtt.password(),
                mqtt.clientId().orElse("loom-" + mesh + "-" + nodeId), mesh, nodeId, mqtt.maxInflight(),
                mqtt.maxMessageSize(), mqtt.reconnectInterval());
        link = new MeshLink(vertx, meshSettings, inbound::accept);

        position = new SlotPosition();
        LoomConfig.Debounce debounce = config.debounce();
        publisher = new Publisher(vertx, link, codec, position, mesh, nodeId, meshSettings.changesTopic(),
                mqtt.maxInflight(), new Debouncer(debounce.window(), debounce.maxChanges(), debounce.maxBytes()));
        capture = new ReplicationStream(new ReplicationSettings(config.capture().jdbcUrl().orElse(jdbcUrl), user,
                password.orElse(null), slot, config.capture().publication(), SCHEMA,
                config.capture().confirmInterval()), publisher, position);

        link.start();
        capture.start();
        long heartbeat = config.capture().heartbeatInterval().toMillis();
        if (heartbeat > 0) {
            heartbeatTimer = vertx.setPeriodic(heartbeat, id -> pool
                    .query("SELECT pg_logical_emit_message(false, 'loom-heartbeat', '')").execute()
                    .subscribe().with(rows -> { }, e -> LOG.debugf("Heartbeat failed: %s", e.getMessage())));
        }
        LOG.infof("Node %s syncs mesh %s: capturing from slot %s, publishing on %s", nodeId, mesh, slot,
                meshSettings.changesTopic());
    }

    private MergeRule mergeRule() {
        Map<String, MergeRule.Strategy> byType = new HashMap<>();
        config.conflict().types().forEach((type, strategy) ->
                byType.put(type, MergeRule.Strategy.parse("loom.conflict.types." + type, strategy)));
        MergeRule rule = new MergeRule(MergeRule.Strategy.parse("loom.conflict.strategy", config.conflict().strategy()),
                byType);
        LOG.infof("Conflicts are decided by %s", rule);
        return rule;
    }

    /** The database trigger stamps local writes with this node's id, whoever writes them. */
    private void recordNodeId() {
        String previous = pool.query("SELECT node_id FROM loom.node_info").execute()
                .map(rows -> rows.size() == 0 ? null : rows.iterator().next().getString(0))
                .await().atMost(Duration.ofSeconds(30));
        if (previous != null && !previous.equals(nodeId)) {
            LOG.warnf("This database belonged to node %s and now belongs to node %s: new writes are stamped with %s",
                    previous, nodeId, nodeId);
        }
        pool.preparedQuery("INSERT INTO loom.node_info (node_id) VALUES ($1)"
                + " ON CONFLICT (singleton) DO UPDATE SET node_id = EXCLUDED.node_id")
                .execute(Tuple.of(nodeId)).await().atMost(Duration.ofSeconds(30));
    }

    void stop(@Observes ShutdownEvent event) {
        if (purgeTimer >= 0) {
            vertx.cancelTimer(purgeTimer);
        }
        if (heartbeatTimer >= 0) {
            vertx.cancelTimer(heartbeatTimer);
        }
        if (capture != null) {
            capture.close();
        }
        if (link != null) {
            try {
                link.stop().toCompletionStage().toCompletableFuture().get(3, TimeUnit.SECONDS);
            } catch (Exception e) {
                LOG.debugf("MQTT disconnect did not finish: %s", e.getMessage());
            }
        }
        if (applier != null) {
            applier.close();
        }
    }

    public String nodeId() {
        return nodeId;
    }

    public String mesh() {
        return config.mesh();
    }

    public String slot() {
        return slot;
    }

    public boolean capturing() {
        return capture != null && capture.isStreaming();
    }

    public boolean brokerConnected() {
        return link != null && link.isConnected();
    }

    public SlotPosition position() {
        return position;
    }

    public ReplicationStream capture() {
        return capture;
    }

    public Publisher publisher() {
        return publisher;
    }

    public Applier applier() {
        return applier;
    }

    public Inbound inbound() {
        return inbound;
    }

    public Rejects rejects() {
        return rejects;
    }
}
