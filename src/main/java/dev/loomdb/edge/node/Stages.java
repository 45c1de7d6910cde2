package dev.loomdb.edge.node;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loomdb.edge.apply.AppliedReport;
import dev.loomdb.edge.apply.Applier;
import dev.loomdb.edge.apply.ApplyFailures;
import dev.loomdb.edge.apply.HeldParts;
import dev.loomdb.edge.apply.Inbound;
import dev.loomdb.edge.apply.Parking;
import dev.loomdb.edge.apply.PeerBreakers;
import dev.loomdb.edge.apply.Peers;
import dev.loomdb.edge.apply.Rejects;
import dev.loomdb.edge.apply.TombstonePurge;
import dev.loomdb.edge.capture.ReplicationSettings;
import dev.loomdb.edge.capture.ReplicationStream;
import dev.loomdb.edge.capture.SlotPosition;
import dev.loomdb.edge.config.LoomConfig;
import dev.loomdb.edge.config.Names;
import dev.loomdb.edge.flow.Delivery;
import dev.loomdb.edge.flow.EnvelopeFormat;
import dev.loomdb.edge.flow.Scope;
import dev.loomdb.edge.flow.Scopes;
import dev.loomdb.edge.flow.TypeSet;
import dev.loomdb.edge.history.ChangeHistory;
import dev.loomdb.edge.merge.MergeRule;
import dev.loomdb.edge.mesh.ChangeJson;
import dev.loomdb.edge.mesh.EnvelopeCodec;
import dev.loomdb.edge.mesh.MeshLink;
import dev.loomdb.edge.mesh.MeshSettings;
import dev.loomdb.edge.mesh.PayloadCodec;
import dev.loomdb.edge.mesh.Seal;
import dev.loomdb.edge.mesh.Signatures;
import dev.loomdb.edge.outbound.Debouncer;
import dev.loomdb.edge.outbound.Publisher;
import dev.loomdb.edge.outbound.Replay;
import dev.loomdb.edge.statesync.StateSync;
import dev.loomdb.edge.telemetry.Counters;
import dev.loomdb.edge.telemetry.SyncEvents;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.pgclient.PgConnectOptions;
import jakarta.enterprise.inject.Instance;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.BiFunction;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

/**
 * Makes each stage of the flow a bean from the configuration, so that the stages themselves stay
 * plain classes that a test builds with nothing but their inputs. One method per stage, in the order
 * of the flow: capture, outbound, mesh, apply, and what they share; state sync's are in
 * {@link StateSyncStages}.
 */
@Singleton
public class Stages {

    private static final Logger LOG = Logger.getLogger(Stages.class);
    private static final String SCHEMA = "loom";

    private final LoomConfig config;
    private final NodeIdentity identity;
    private final Vertx vertx;
    private final Pool pool;
    private final Counters counters;
    private final SyncEvents events;

    /**
     * The event loop that the mesh link, the publisher and the inbound queue share: a captured window
     * goes from the publisher to the broker's socket, and a message from the socket into the queue and
     * its apply session, with no wait for another thread to be scheduled (each such wait is a hop that a
     * busy machine makes long).
     */
    private final Context syncLoop;

    public Stages(
            LoomConfig config, NodeIdentity identity, Vertx vertx, Pool pool, Counters counters, SyncEvents events) {
        this.config = config;
        this.identity = identity;
        this.vertx = vertx;
        this.pool = pool;
        this.counters = counters;
        this.events = events;
        this.syncLoop = vertx.getOrCreateContext();
    }

    // capture

    @Produces
    @Singleton
    SlotPosition slotPosition() {
        return new SlotPosition();
    }

    @Produces
    @Singleton
    ReplicationStream replicationStream(
            Publisher publisher,
            SlotPosition position,
            @ConfigProperty(name = "quarkus.datasource.jdbc.url") String jdbcUrl,
            @ConfigProperty(name = "quarkus.datasource.username") String user,
            @ConfigProperty(name = "quarkus.datasource.password") Optional<String> password) {
        LoomConfig.Capture capture = config.capture();
        ReplicationSettings settings = new ReplicationSettings(
                capture.jdbcUrl().orElse(jdbcUrl),
                user,
                password.orElse(null),
                identity.slot(),
                capture.publication(),
                SCHEMA,
                capture.confirmInterval());
        return new ReplicationStream(settings, publisher, position, counters);
    }

    // outbound

    @Produces
    @Singleton
    Publisher publisher(
            MeshLink link,
            EnvelopeFormat format,
            SlotPosition position,
            ChangeHistory history,
            MeshSettings mesh,
            Scopes scopes) {
        LoomConfig.Debounce debounce = config.debounce();
        return new Publisher(
                vertx,
                syncLoop,
                link,
                format,
                position,
                identity.mesh(),
                identity.nodeId(),
                mesh::changesTopic,
                scopes.publishes(),
                config.mqtt().maxInflight(),
                messageBudget(),
                config.capture().handoffCapacity(),
                new Debouncer(debounce.window(), debounce.maxChanges(), debounce.maxBytes()),
                counters,
                events,
                history,
                debounce.window());
    }

    @Produces
    @Singleton
    Replay replay(MeshLink link, EnvelopeFormat format, MeshSettings mesh, Scopes scopes) {
        return new Replay(
                vertx,
                link,
                format,
                identity.mesh(),
                identity.nodeId(),
                mesh::changesTopic,
                scopes.publishes(),
                messageBudget());
    }

    @Produces
    @Singleton
    EnvelopeFormat envelopeFormat(ObjectMapper mapper) {
        return new EnvelopeCodec(mapper);
    }

    @Produces
    @Singleton
    ChangeJson changeJson(ObjectMapper mapper) {
        return new ChangeJson(mapper);
    }

    // mesh

    @Produces
    @Singleton
    Scopes scopes() {
        LoomConfig.Sync sync = config.sync();
        return new Scopes(
                new Scope(
                        TypeSet.parse(sync.nodeTypes(), "loom.sync.node-types"),
                        TypeSet.parse(sync.edgeTypes(), "loom.sync.edge-types")),
                new Scope(
                        TypeSet.parse(sync.publish().nodeTypes(), "loom.sync.publish.node-types"),
                        TypeSet.parse(sync.publish().edgeTypes(), "loom.sync.publish.edge-types")));
    }

    @Produces
    @Singleton
    MeshSettings meshSettings(Scopes scopes) {
        LoomConfig.Mqtt mqtt = config.mqtt();
        return new MeshSettings(
                mqtt.host(),
                mqtt.port(),
                mqtt.username(),
                mqtt.password(),
                mqtt.clientId().orElse("loom-" + identity.mesh() + "-" + identity.nodeId()),
                identity.mesh(),
                identity.nodeId(),
                mqtt.maxInflight(),
                mqtt.maxMessageSize(),
                mqtt.reconnectInterval(),
                scopes.follows(),
                new MeshSettings.Tls(
                        mqtt.tls().enabled(),
                        mqtt.tls().trustStore(),
                        mqtt.tls().trustStorePassword(),
                        mqtt.tls().keyStore(),
                        mqtt.tls().keyStorePassword(),
                        mqtt.tls().verifyHost()),
                mqtt.servers().orElse(List.of()).stream()
                        .map(entry ->
                                MeshSettings.Server.parse(entry, mqtt.tls().enabled()))
                        .toList());
    }

    /** Signed messages ({@code loom.security.signing}), or null when they are off. */
    private Signatures signatures() {
        LoomConfig.Security.Signing signing = config.security().signing();
        if (!signing.enabled()) {
            return null;
        }
        if (signing.mode().equals("hmac")) {
            String key = signing.hmacKey()
                    .orElseThrow(() -> new IllegalStateException("loom.security.signing.mode is hmac but"
                            + " loom.security.signing.hmac-key is not set: make one with openssl rand -base64 32"
                            + " and give the same to every node"));
            LOG.info("Messages are signed with the mesh-wide key (HMAC-SHA256) and accepted only when signed with"
                    + " it: any holder of the key can sign as any node");
            return Signatures.hmac(identity.nodeId(), key, signing.replayWindow());
        }
        if (!signing.mode().equals("ed25519")) {
            throw new IllegalStateException(
                    "loom.security.signing.mode is '" + signing.mode() + "': it is ed25519 or hmac");
        }
        String file = signing.privateKeyFile()
                .orElseThrow(() -> new IllegalStateException("loom.security.signing.enabled is true but"
                        + " loom.security.signing.private-key-file is not set: make a key with openssl genpkey"
                        + " -algorithm ed25519 -out node.pem and name the file."));
        Signatures signatures =
                Signatures.load(identity.nodeId(), Path.of(file), signing.trust(), signing.replayWindow());
        LOG.infof(
                "Messages are signed with this node's key and accepted only when signed by one of %d trusted"
                        + " nodes (%s)",
                signing.trust().size(), String.join(", ", signing.trust().keySet()));
        return signatures;
    }

    /**
     * Deliveries go by topic: the mesh's changes to apply, state sync and presence to state sync. Each is
     * first verified (with signing on; this node's own messages, which it ignores, are only stripped of their
     * signature) and unwrapped (decrypted, inflated); one refused on the way is kept aside as rejected.
     */
    @Produces
    @Singleton
    MeshLink meshLink(MeshSettings settings, Inbound inbound, Instance<StateSync> stateSync, Rejects rejects) {
        String syncPrefix = "loom/" + identity.mesh() + "/sync/";
        String presencePrefix = "loom/" + identity.mesh() + "/nodes/";
        Seal seal = new Seal(identity.mesh(), identity.nodeId(), signatures(), payloadCodec());
        return new MeshLink(
                vertx,
                syncLoop,
                settings,
                received -> {
                    Seal.Opened opened = seal.open(received.topic(), received.payload());
                    if (opened.problem() != null) {
                        Rejects.Reason reason = switch (opened.problem()) {
                            case UNSIGNED -> Rejects.Reason.UNSIGNED;
                            case FORGED -> Rejects.Reason.FORGED;
                            case REPLAYED -> Rejects.Reason.REPLAYED;
                            case UNREADABLE -> Rejects.Reason.UNREADABLE;
                        };
                        io.vertx.core.Context link = Vertx.currentContext();
                        rejects.keepAside(received.topic(), received.payload(), reason, opened.detail())
                                .subscribe()
                                .with(v -> link.runOnContext(x -> received.acknowledge()), e -> {});
                        return;
                    }
                    Delivery delivery = opened.payload() == received.payload()
                            ? received
                            : new Delivery(received.topic(), opened.payload(), received.ack());
                    String topic = delivery.topic();
                    if (topic.startsWith(syncPrefix)) {
                        stateSync.get().received(delivery);
                    } else if (topic.startsWith(presencePrefix)) {
                        stateSync.get().presenceReceived(delivery);
                    } else {
                        inbound.accept(delivery);
                    }
                },
                events,
                seal::close);
    }

    /** Compression and encryption of messages ({@code loom.mqtt.compress-above}, {@code loom.security.encryption}). */
    private PayloadCodec payloadCodec() {
        LoomConfig.Security.Encryption encryption = config.security().encryption();
        PayloadCodec codec = new PayloadCodec(
                config.mqtt().compressAbove(),
                encryption.activeKey().orElse(null),
                encryption.keys(),
                64 * 1024 * 1024);
        encryption
                .activeKey()
                .ifPresent(key -> LOG.infof(
                        "Messages are encrypted with the mesh key '%s' (AES-256-GCM); keys known: %s",
                        key, String.join(", ", encryption.keys().keySet())));
        return codec;
    }

    /** What a message may carry: the broker's limit, less what signing, encryption and compression add. */
    private int messageBudget() {
        return messageBudget(config);
    }

    static int messageBudget(LoomConfig config) {
        boolean wrapped = config.mqtt().compressAbove() > 0
                || config.security().encryption().activeKey().isPresent();
        return config.mqtt().maxMessageSize()
                - (config.security().signing().enabled() ? Signatures.OVERHEAD : 0)
                - (wrapped ? PayloadCodec.OVERHEAD : 0);
    }

    // apply

    @Produces
    @Singleton
    Inbound inbound(
            EnvelopeFormat format,
            Applier applier,
            Rejects rejects,
            Parking parking,
            PeerBreakers breakers,
            Peers peers,
            SyncMetrics metrics,
            Scopes scopes,
            HeldParts held,
            ChangeHistory history,
            @ConfigProperty(name = "quarkus.datasource.reactive.url") String reactiveUrl,
            @ConfigProperty(name = "quarkus.datasource.username") String user,
            @ConfigProperty(name = "quarkus.datasource.password") Optional<String> password) {
        AppliedReport report = new AppliedReport(counters, peers, events, metrics.latencyTimer(), metrics.applyTimer());
        BiFunction<Applier, Context, Inbound> queue = (through, context) -> new Inbound(
                vertx,
                context,
                format,
                through,
                rejects,
                parking,
                breakers,
                identity.mesh(),
                identity.nodeId(),
                config.tombstone().retention(),
                counters,
                events,
                report,
                scopes.follows(),
                held,
                config.apply().flushInterval());
        Inbound inbound = queue.apply(applier, syncLoop);
        // a bootstrap applies its edge pages there, on an event loop of its own, while its node pages come
        // through the queue above
        inbound.openSideLane(queue.apply(
                newApplier(Names.sideApplyOriginFor(identity.nodeId()), history, reactiveUrl, user, password),
                vertx.getOrCreateContext()));
        return inbound;
    }

    @Produces
    @Singleton
    HeldParts heldParts() {
        return new HeldParts(pool);
    }

    @Produces
    @Singleton
    Applier applier(
            ChangeHistory history,
            @ConfigProperty(name = "quarkus.datasource.reactive.url") String reactiveUrl,
            @ConfigProperty(name = "quarkus.datasource.username") String user,
            @ConfigProperty(name = "quarkus.datasource.password") Optional<String> password) {
        return newApplier(Names.applyOriginFor(identity.nodeId()), history, reactiveUrl, user, password);
    }

    /** An apply session under the replication origin {@code origin}, on a connection of its own. */
    private Applier newApplier(
            String origin, ChangeHistory history, String reactiveUrl, String user, Optional<String> password) {
        PgConnectOptions options = PgConnectOptions.fromUri(reactiveUrl.replaceFirst("^vertx-reactive:", ""))
                .setUser(user);
        password.ifPresent(options::setPassword);
        return new Applier(
                vertx,
                options,
                origin,
                mergeRule(),
                config.conflict().autoResolve(),
                history,
                !config.apply().flushInterval().isZero());
    }

    /** The merge rule of the configuration, read (and logged) once for both apply sessions. */
    private MergeRule mergeRule;

    private synchronized MergeRule mergeRule() {
        if (mergeRule != null) {
            return mergeRule;
        }
        Map<String, MergeRule.Strategy> byType = new HashMap<>();
        config.conflict()
                .types()
                .forEach((type, strategy) ->
                        byType.put(type, MergeRule.Strategy.parse("loom.conflict.types." + type, strategy)));
        MergeRule rule = new MergeRule(
                MergeRule.Strategy.parse(
                        "loom.conflict.strategy", config.conflict().strategy()),
                byType);
        LOG.infof("Conflicts are decided by %s", rule);
        mergeRule = rule;
        return rule;
    }

    @Produces
    @Singleton
    Rejects rejects() {
        return new Rejects(pool, counters, config.sync().rejectedMax());
    }

    @Produces
    @Singleton
    Parking parking() {
        return new Parking(pool);
    }

    @Produces
    @Singleton
    Peers peers() {
        return new Peers();
    }

    @Produces
    @Singleton
    PeerBreakers peerBreakers(SyncMetrics metrics) {
        return new PeerBreakers(
                config.circuitBreaker().threshold(),
                config.circuitBreaker().reset(),
                ApplyFailures::isPeersFault,
                events,
                metrics::breakerGauge);
    }

    @Produces
    @Singleton
    TombstonePurge tombstonePurge() {
        return new TombstonePurge(pool, config.tombstone().retention(), counters);
    }

    // shared

    @Produces
    @Singleton
    ChangeHistory changeHistory(ChangeJson json) {
        // the change feed reads the history: it is kept whenever the feed is on
        return new ChangeHistory(
                pool,
                config.history().enabled() || config.feed().enabled(),
                config.history().maxEntries(),
                config.feed().maxBacklog(),
                json::encode);
    }
}
