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
import dev.loomdb.edge.history.ChangeHistory;
import dev.loomdb.edge.merge.MergeRule;
import dev.loomdb.edge.mesh.EnvelopeCodec;
import dev.loomdb.edge.mesh.Inbound;
import dev.loomdb.edge.mesh.MeshLink;
import dev.loomdb.edge.mesh.MeshSettings;
import dev.loomdb.edge.mesh.Parking;
import dev.loomdb.edge.mesh.PeerBreakers;
import dev.loomdb.edge.mesh.Peers;
import dev.loomdb.edge.outbound.Debouncer;
import dev.loomdb.edge.outbound.Publisher;
import dev.loomdb.edge.telemetry.Counters;
import dev.loomdb.edge.telemetry.SyncEvent;
import dev.loomdb.edge.telemetry.SyncEvents;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.mutiny.Uni;
import io.vertx.core.Vertx;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;
import io.vertx.pgclient.PgConnectOptions;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Event;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.inject.spi.BeanManager;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
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
    private Parking parking;
    private PeerBreakers breakers;
    private final Peers peers = new Peers();
    private final Counters counters;
    private final SyncEvents events;
    private final MeterRegistry registry;
    private final Event<SyncEvent> cdiEvents;
    private final BeanManager beanManager;
    private ChangeHistory history;
    private volatile boolean running;
    private volatile Instant stoppedAt;
    private final AtomicLong lagBytes = new AtomicLong();
    private Map<String, Long> savedCounters = Map.of();
    private long purgeTimer = -1;
    private long heartbeatTimer = -1;
    private long housekeepingTimer = -1;

    public SyncNode(
            LoomConfig config,
            Vertx vertx,
            Pool pool,
            ObjectMapper mapper,
            Counters counters,
            SyncEvents events,
            MeterRegistry registry,
            Event<SyncEvent> cdiEvents,
            BeanManager beanManager,
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
        this.counters = counters;
        this.events = events;
        this.registry = registry;
        this.cdiEvents = cdiEvents;
        this.beanManager = beanManager;
    }

    void start(@Observes @Priority(100) StartupEvent event) {
        nodeId = Names.checkId("loom.node-id", config.nodeId());
        String mesh = Names.checkId("loom.mesh", config.mesh());
        slot = config.capture().slot().orElse(Names.slotFor(nodeId));
        recordNodeId();

        restoreState();
        forwardEventsToCdi();

        EnvelopeCodec codec = new EnvelopeCodec(mapper);
        history = new ChangeHistory(
                pool, config.history().enabled(), config.history().maxEntries(), codec::encodeChange);
        PgConnectOptions applyOptions = PgConnectOptions.fromUri(reactiveUrl.replaceFirst("^vertx-reactive:", ""))
                .setUser(user);
        password.ifPresent(applyOptions::setPassword);
        applier = new Applier(
                vertx,
                applyOptions,
                Names.applyOriginFor(nodeId),
                mergeRule(),
                config.conflict().autoResolve(),
                history);
        rejects = new Rejects(pool, counters);
        breakers = new PeerBreakers(
                config.circuitBreaker().threshold(),
                config.circuitBreaker().reset(),
                Inbound::isPeersFault,
                events,
                this::breakerGauge);
        inbound = new Inbound(
                vertx,
                codec,
                applier,
                rejects,
                parking,
                breakers,
                peers,
                mesh,
                nodeId,
                config.tombstone().retention(),
                counters,
                events,
                latencyTimer(),
                applyTimer());
        TombstonePurge purge = new TombstonePurge(pool, config.tombstone().retention());
        purgeTimer = vertx.setPeriodic(
                config.tombstone().purgeInterval().toMillis(),
                id -> purge.purge().subscribe().with(count -> {}));

        LoomConfig.Mqtt mqtt = config.mqtt();
        MeshSettings meshSettings = new MeshSettings(
                mqtt.host(),
                mqtt.port(),
                mqtt.username(),
                mqtt.password(),
                mqtt.clientId().orElse("loom-" + mesh + "-" + nodeId),
                mesh,
                nodeId,
                mqtt.maxInflight(),
                mqtt.maxMessageSize(),
                mqtt.reconnectInterval());
        link = new MeshLink(vertx, meshSettings, inbound::accept, events);

        position = new SlotPosition();
        LoomConfig.Debounce debounce = config.debounce();
        publisher = new Publisher(
                vertx,
                link,
                codec,
                position,
                mesh,
                nodeId,
                meshSettings.changesTopic(),
                mqtt.maxInflight(),
                new Debouncer(debounce.window(), debounce.maxChanges(), debounce.maxBytes()),
                counters,
                events,
                history,
                debounce.window());
        capture = new ReplicationStream(
                new ReplicationSettings(
                        config.capture().jdbcUrl().orElse(jdbcUrl),
                        user,
                        password.orElse(null),
                        slot,
                        config.capture().publication(),
                        SCHEMA,
                        config.capture().confirmInterval()),
                publisher,
                position,
                counters);
        registerMetrics();

        link.start();
        capture.start();
        running = true;
        long heartbeat = config.capture().heartbeatInterval().toMillis();
        if (heartbeat > 0) {
            heartbeatTimer = vertx.setPeriodic(
                    heartbeat,
                    id -> pool.query("SELECT pg_logical_emit_message(false, 'loom-heartbeat', '')")
                            .execute()
                            .subscribe()
                            .with(rows -> {}, e -> LOG.debugf("Heartbeat failed: %s", e.getMessage())));
        }
        housekeepingTimer =
                vertx.setPeriodic(config.sync().housekeepingInterval().toMillis(), id -> housekeeping());
        LOG.infof(
                "Node %s syncs mesh %s: capturing from slot %s, publishing on %s",
                nodeId, mesh, slot, meshSettings.changesTopic());
    }

    private MergeRule mergeRule() {
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
        return rule;
    }

    /** The database trigger stamps local writes with this node's id, whoever writes them. */
    private void recordNodeId() {
        String previous = pool.query("SELECT node_id FROM loom.node_info")
                .execute()
                .map(rows -> rows.size() == 0 ? null : rows.iterator().next().getString(0))
                .await()
                .atMost(Duration.ofSeconds(30));
        if (previous != null && !previous.equals(nodeId)) {
            LOG.warnf(
                    "This database belonged to node %s and now belongs to node %s: new writes are stamped with %s",
                    previous, nodeId, nodeId);
        }
        pool.preparedQuery("INSERT INTO loom.node_info (node_id) VALUES ($1)"
                        + " ON CONFLICT (singleton) DO UPDATE SET node_id = EXCLUDED.node_id")
                .execute(Tuple.of(nodeId))
                .await()
                .atMost(Duration.ofSeconds(30));
    }

    void stop(@Observes ShutdownEvent event) {
        if (purgeTimer >= 0) {
            vertx.cancelTimer(purgeTimer);
        }
        if (housekeepingTimer >= 0) {
            vertx.cancelTimer(housekeepingTimer);
        }
        if (inbound != null) {
            inbound.pause();
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
        try {
            saveCounters().await().atMost(Duration.ofSeconds(5));
        } catch (RuntimeException e) {
            LOG.warnf("Could not save the status counters at shutdown: %s", e.getMessage());
        }
    }

    /**
     * The seed's stopSync: nothing more is published or applied. The open debounce window is still
     * published; what is written meanwhile waits in the replication slot, and what peers send waits
     * in this node's broker session. Returns false when sync was already stopped.
     */
    public synchronized boolean stopSync() {
        if (!running) {
            return false;
        }
        running = false;
        stoppedAt = Instant.now();
        inbound.pause();
        capture.close();
        try {
            link.stop().toCompletionStage().toCompletableFuture().get(3, TimeUnit.SECONDS);
        } catch (Exception e) {
            LOG.debugf("MQTT disconnect did not finish: %s", e.getMessage());
        }
        LOG.infof("Sync stopped: changes wait in slot %s and in the broker session until POST /api/sync/start", slot);
        events.emit(SyncEvent.of(SyncEvent.Kind.SYNC_STOPPED, null, "sync stopped"));
        return true;
    }

    /** The seed's startSync: resumes from the slot and the broker session. Returns false when already running. */
    public synchronized boolean startSync() {
        if (running) {
            return false;
        }
        inbound.resume();
        link.start();
        capture.start();
        running = true;
        stoppedAt = null;
        LOG.infof("Sync started again: reading slot %s from its confirmed position", slot);
        events.emit(SyncEvent.of(SyncEvent.Kind.SYNC_STARTED, null, "sync started"));
        return true;
    }

    /** Every second (loom.sync.housekeeping-interval): parked messages, counters, lag. */
    private void housekeeping() {
        inbound.retryParked();
        saveCounters().subscribe().with(v -> {}, e -> LOG.debugf("Saving counters failed: %s", e.getMessage()));
        replicationLagBytes()
                .subscribe()
                .with(
                        lag -> lagBytes.set(lag == null ? 0 : lag),
                        e -> LOG.debugf("Reading the replication lag failed: %s", e.getMessage()));
    }

    /** WAL bytes written since the slot's confirmed position (null when the slot is missing). */
    public Uni<Long> replicationLagBytes() {
        return pool.preparedQuery("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint"
                        + " FROM pg_replication_slots WHERE slot_name = $1")
                .execute(Tuple.of(slot))
                .map(rows -> rows.size() == 0 ? null : rows.iterator().next().getLong(0));
    }

    /** Seconds since the oldest commit captured and not yet acknowledged by the broker (0 when none). */
    public double oldestUnconfirmedAgeSeconds() {
        return position.oldestPendingCommit()
                .map(t -> Math.max(0, Duration.between(t, Instant.now()).toNanos() / 1e9))
                .orElse(0.0);
    }

    private Uni<Void> saveCounters() {
        Map<String, Long> now = counters.snapshot();
        if (now.equals(savedCounters)) {
            return Uni.createFrom().voidItem();
        }
        String[] names = now.keySet().toArray(new String[0]);
        Long[] values = now.values().toArray(new Long[0]);
        return pool.preparedQuery("INSERT INTO loom.sync_counters (name, value) SELECT * FROM unnest($1::text[],"
                        + " $2::bigint[]) ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value")
                .execute(Tuple.of(names, values))
                .invoke(() -> savedCounters = now)
                .replaceWithVoid();
    }

    /** Counters, peers and parked messages continue where the last run left them. */
    private void restoreState() {
        Map<String, Long> saved = new HashMap<>();
        pool.query("SELECT name, value FROM loom.sync_counters")
                .execute()
                .await()
                .atMost(Duration.ofSeconds(30))
                .forEach(row -> saved.put(row.getString(0), row.getLong(1)));
        counters.restore(saved);
        savedCounters = counters.snapshot();
        peers.load(pool);
        parking = new Parking(pool);
        parking.load();
    }

    /** CDI observers ({@code @ObservesAsync SyncEvent}) get every event, when there are any. */
    private void forwardEventsToCdi() {
        if (!beanManager
                .resolveObserverMethods(SyncEvent.of(SyncEvent.Kind.SYNC_STARTED, null, null))
                .isEmpty()) {
            events.listener(event -> cdiEvents.fireAsync(event));
        }
    }

    private Timer latencyTimer() {
        return Timer.builder("loom.propagation.latency")
                .description("Source commit on the peer to commit here, per applied envelope (its first transaction)")
                .publishPercentileHistogram()
                .minimumExpectedValue(Duration.ofMillis(1))
                .maximumExpectedValue(Duration.ofMinutes(5))
                .register(registry);
    }

    private Timer applyTimer() {
        return Timer.builder("loom.apply.duration")
                .description("Time to apply one envelope in PostgreSQL")
                .publishPercentileHistogram()
                .minimumExpectedValue(Duration.ofNanos(100_000))
                .maximumExpectedValue(Duration.ofSeconds(30))
                .register(registry);
    }

    private void registerMetrics() {
        counterMetric("loom.messages", Counters.PUBLISHED, "direction", "out", "MQTT messages published");
        counterMetric("loom.messages", Counters.RECEIVED, "direction", "in", "MQTT messages received from peers");
        counterMetric("loom.bytes", Counters.PUBLISHED_BYTES, "direction", "out", "Payload bytes published");
        counterMetric("loom.bytes", Counters.RECEIVED_BYTES, "direction", "in", "Payload bytes received from peers");
        counterMetric("loom.changes", Counters.PUBLISHED_CHANGES, "direction", "out", "Changes published");
        counterMetric(
                "loom.changes", Counters.APPLIED_CHANGES, "direction", "in", "Peer changes that changed a row here");
        counterMetric("loom.coalesced.changes", Counters.COALESCED, null, null, "Changes folded away by debouncing");
        counterMetric("loom.conflicts", Counters.CONFLICTS, null, null, "Conflicts kept aside (auto-resolve off)");
        counterMetric(
                "loom.parked", Counters.PARKED, null, null, "Peer messages parked (breaker open or apply failed)");
        for (Rejects.Reason reason : Rejects.Reason.values()) {
            counterMetric("loom.rejected", reason.counter(), "reason", reason.label(), "Peer messages rejected");
        }
        Gauge.builder("loom.replication.lag.bytes", lagBytes, AtomicLong::get)
                .description("WAL written since the slot's confirmed position (sampled every housekeeping interval)")
                .baseUnit("bytes")
                .register(registry);
        Gauge.builder("loom.replication.lag.seconds", this, SyncNode::oldestUnconfirmedAgeSeconds)
                .description("Age of the oldest captured commit not yet acknowledged by the broker")
                .register(registry);
        Gauge.builder("loom.pending.transactions", position, SlotPosition::pendingCount)
                .description("Transactions captured and not yet acknowledged by the broker")
                .register(registry);
        Gauge.builder("loom.parked.messages", parking, Parking::total)
                .description("Peer messages waiting in loom.parked_messages")
                .register(registry);
        Gauge.builder("loom.sync.running", this, n -> n.running ? 1 : 0).register(registry);
        Gauge.builder("loom.broker.connected", this, n -> n.brokerConnected() ? 1 : 0)
                .register(registry);
    }

    private void counterMetric(String name, String counter, String tagKey, String tagValue, String description) {
        FunctionCounter.Builder<AtomicLong> builder = FunctionCounter.builder(
                        name, counters.counter(counter), AtomicLong::get)
                .description(description);
        if (tagKey != null) {
            builder.tag(tagKey, tagValue);
        }
        builder.register(registry);
    }

    /** 0 closed, 1 half-open, 2 open. */
    private void breakerGauge(String peer) {
        Gauge.builder("loom.circuit.breaker.state", breakers, b -> switch (b.state(peer)) {
                    case CLOSED -> 0;
                    case HALF_OPEN -> 1;
                    case OPEN -> 2;
                })
                .tag("peer", peer)
                .description("A peer's circuit breaker: 0 closed, 1 half-open, 2 open")
                .register(registry);
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

    public boolean running() {
        return running;
    }

    public Instant stoppedAt() {
        return stoppedAt;
    }

    public Counters counters() {
        return counters;
    }

    public Peers peers() {
        return peers;
    }

    public Parking parking() {
        return parking;
    }

    public PeerBreakers breakers() {
        return breakers;
    }

    public MeshLink link() {
        return link;
    }

    public ChangeHistory history() {
        return history;
    }

    public SyncEvents events() {
        return events;
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
