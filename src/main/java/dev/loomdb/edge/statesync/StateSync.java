package dev.loomdb.edge.statesync;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loomdb.edge.apply.Inbound;
import dev.loomdb.edge.flow.Delivery;
import dev.loomdb.edge.flow.Scope;
import dev.loomdb.edge.mesh.MeshLink;
import dev.loomdb.edge.mesh.MeshSettings;
import dev.loomdb.edge.telemetry.SyncEvents;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.sqlclient.Pool;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;

/**
 * State sync: what brings a node to its peers' state whatever it missed, on top of the live
 * changes (docs/mqtt-protocol.md, "State sync"). This class schedules and dispatches; the work is
 * done by
 * <ul>
 *   <li>{@link Bootstrap}: a node that never had the mesh's graph takes it from one peer;
 *   <li>{@link AntiEntropy}: every {@code loom.sync.anti-entropy.interval}, and soon after each
 *       (re)connection, a round with one peer chosen by {@link PeerRotation};
 *   <li>{@link StateServer}: answers the peers' requests; {@link PeerRequests}: this node's requests.
 * </ul>
 * Everything here runs on one Vert.x context.
 */
public final class StateSync {

    private static final Logger LOG = Logger.getLogger(StateSync.class);
    /** After a (re)connection, time for the retained presence messages to arrive before deciding. */
    private static final long SETTLE_MILLIS = 1000;

    private static final long FOLLOW_UP_MILLIS = 1000;

    /** Settings, from {@code loom.sync.*}. */
    public record Settings(
            boolean bootstrapEnabled, int pageSize, Duration bootstrapWait, Duration interval, Duration timeout) {}

    private final Vertx vertx;
    private final Context context;
    private final ObjectMapper mapper;
    private final MeshLink link;
    private final StateServer server;
    private final Inbound inbound;
    private final Presence presence;
    private final StateServer.Topics topics;
    private final Settings settings;
    private final PeerRequests requests;
    private final AntiEntropy antiEntropy;
    private final Bootstrap bootstrap;
    private final Rebuild rebuild;
    private final SyncState syncState;
    private MeshSettings mesh;
    private volatile boolean running;
    /** When this node was last connected to the broker (saved every minute): how long it was away. */
    private long connectedAt;

    private long savedConnectedAt;
    private long timer = -1;
    private long connectedSince;
    private long nextRoundAt;
    private boolean busy;
    private final StateDigests digests;

    public StateSync(
            Vertx vertx,
            ObjectMapper mapper,
            MeshLink link,
            StateDigests digests,
            StateServer server,
            Inbound inbound,
            Presence presence,
            SyncEvents events,
            Pool pool,
            StateServer.Topics topics,
            Rebuild rebuild,
            Settings settings) {
        this.vertx = vertx;
        this.context = vertx.getOrCreateContext();
        this.mapper = mapper;
        this.link = link;
        this.server = server;
        this.inbound = inbound;
        this.presence = presence;
        this.topics = topics;
        this.settings = settings;
        this.rebuild = rebuild;
        this.digests = digests;
        this.syncState = new SyncState(pool);
        this.requests = new PeerRequests(vertx, context, mapper, link, inbound, topics, settings.timeout());
        this.antiEntropy = new AntiEntropy(
                mapper,
                requests,
                digests,
                server,
                link,
                topics,
                events,
                rebuild,
                settings.interval(),
                settings.pageSize());
        this.bootstrap = new Bootstrap(
                pool,
                mapper,
                requests,
                antiEntropy,
                presence,
                events,
                topics,
                settings.pageSize(),
                settings.bootstrapWait(),
                presence.mine().follows(),
                this::bootstrapCompleted);
    }

    /** The mesh's topics, whose filters this node keeps up to date in its broker session ({@link #prepare}). */
    public void followFilters(MeshSettings mesh) {
        this.mesh = mesh;
    }

    /** Reads what bootstrap saved, and says so on this node's presence; call before the mesh link starts. */
    public void prepare() {
        try { // a table rewrite when the stored hashes are added to a large graph
            digests.prepare().toCompletionStage().toCompletableFuture().get(30, TimeUnit.MINUTES);
        } catch (Exception e) {
            throw new IllegalStateException("cannot prepare the digests' stored hashes: " + e.getMessage(), e);
        }
        if (mesh != null) {
            forgetFormerFilters();
        }
        bootstrap.prepare(settings.bootstrapEnabled());
        rebuild.prepare(bootstrap.done());
        if (rebuild.connectedBefore()) {
            link.expectSession();
        }
        announce();
    }

    private static final String FILTERS = "mesh.filters";

    /**
     * The broker keeps a persistent session's subscriptions: filters of types this node followed on an
     * earlier run (kept in {@code loom.sync_state}) are unsubscribed before subscribing, so the broker
     * stops sending them.
     */
    private void forgetFormerFilters() {
        List<String> earlier = new ArrayList<>();
        String saved = syncState.readAtStart(FILTERS).get(FILTERS);
        if (saved != null) {
            readArray(saved).forEach(filter -> earlier.add(filter.asText()));
        }
        List<String> former = mesh.formerFilters(earlier);
        String now = mapper.valueToTree(mesh.changesFilters()).toString();
        link.replaceFilters(former, () -> {
            if (!earlier.equals(mesh.changesFilters())) {
                syncState
                        .save(FILTERS, now)
                        .onFailure(e -> LOG.warnf("Could not record this node's subscriptions: %s", e.getMessage()));
            }
        });
    }

    private JsonNode readArray(String json) {
        try {
            JsonNode array = mapper.readTree(json);
            return array.isArray() ? array : mapper.createArrayNode();
        } catch (java.io.IOException e) {
            return mapper.createArrayNode();
        }
    }

    /** Not quite ready while rebuilding after an absence longer than the retention (status and readiness say so). */
    public boolean rebuilding() {
        return rebuild.active();
    }

    private void announce() {
        boolean has = bootstrap.done();
        link.presence(presence.payload(true, has), presence.payload(false, has));
    }

    private void bootstrapCompleted() {
        announce();
        nextRoundAt = System.currentTimeMillis() + settings.interval().toMillis();
    }

    public void start() {
        running = true;
        context.runOnContext(v -> {
            bootstrap.waitFrom(System.currentTimeMillis());
            connectedSince = 0;
            if (timer < 0) {
                timer = vertx.setPeriodic(250, id -> tick());
            }
        });
    }

    public void stop() {
        if (running && link.isConnected()) {
            rebuild.connected(System.currentTimeMillis(), true); // the absence counts from here
        }
        running = false;
        context.runOnContext(v -> {
            if (timer >= 0) {
                vertx.cancelTimer(timer);
                timer = -1;
            }
            requests.failAll("sync stopped");
        });
    }

    /** Not ready while the node has not yet taken the mesh's graph. */
    public boolean bootstrapping() {
        return bootstrap.bootstrapping();
    }

    /** The bootstrap's state as the status and readiness name it ({@code pending}, {@code completed}, ...). */
    public String bootstrapState() {
        return bootstrap.state().wireName();
    }

    public Presence presence() {
        return presence;
    }

    // ---------------------------------------------------------------- messages

    /** A message on a presence topic. */
    public void presenceReceived(Delivery delivery) {
        String topic = delivery.topic();
        presence.received(topic.substring(topic.lastIndexOf('/') + 1), delivery.payload());
        delivery.acknowledge();
    }

    /** A message on this node's state-sync topic ({@code loom/<mesh>/sync/<this node>/<from>}). */
    public void received(Delivery delivery) {
        context.runOnContext(v -> {
            String topic = delivery.topic();
            String from = topic.substring(topic.lastIndexOf('/') + 1);
            SyncMessage message;
            try {
                message = SyncMessage.decode(mapper, delivery.payload());
            } catch (IllegalArgumentException e) {
                LOG.warnf("Ignored a state-sync message from %s: %s", from, e.getMessage());
                delivery.acknowledge();
                return;
            }
            if (!running) {
                return; // unacknowledged: the broker delivers it again
            }
            String type = message.type();
            if (StateServer.isRequest(type)) {
                server.handle(from, message).onComplete(ar -> {
                    if (ar.failed()) {
                        LOG.debugf(
                                "Could not answer %s of %s: %s",
                                type, from, ar.cause().getMessage());
                    }
                    delivery.acknowledge();
                });
            } else if (type.equals("rows-push")) {
                if (!message.hasRows()) {
                    delivery.acknowledge();
                    return;
                }
                inbound.acceptRepair(from, new Delivery(topic, message.body(), delivery.ack()), outcome -> {
                    if (!outcome.applied()) {
                        LOG.warnf("Rows that %s sent by state sync were not applied: %s", from, outcome.failure());
                    }
                });
            } else {
                requests.answered(from, message, delivery);
            }
        });
    }

    // ---------------------------------------------------------------- scheduling

    private void tick() {
        if (!running) {
            return;
        }
        long now = System.currentTimeMillis();
        if (!link.isConnected()) {
            connectedSince = 0;
            return;
        }
        if (connectedSince == 0) {
            connectedSince = now;
            nextRoundAt = now + SETTLE_MILLIS; // a round soon after each (re)connection
        }
        rebuild.connected(now, false);
        if (busy || now - connectedSince < SETTLE_MILLIS) {
            return;
        }
        if (!bootstrap.done()) {
            Future<Void> attempt = bootstrap.step(now);
            if (attempt != null) {
                busy = true;
                attempt.onComplete(ar -> busy = false);
            }
            return;
        }
        long interval = settings.interval().toMillis();
        boolean rebuilding = rebuild.active();
        if ((interval > 0 || rebuilding) && now >= nextRoundAt) {
            long every = interval > 0 ? interval : settings.timeout().toMillis();
            nextRoundAt = now + every;
            // a rebuild compares with a peer that holds the graph; other rounds go round the online peers
            Optional<String> peer = rebuilding
                    ? presence.sources().stream().findFirst()
                    : PeerRotation.choose(topics.nodeId(), presence.online(), now / every);
            Scope shared = peer.map(presence::sharedWith).orElse(Scope.ALL);
            if (peer.isPresent() && shared.isEmpty()) {
                LOG.debugf("Anti-entropy skips %s: the two nodes keep no type in common", peer.get());
            } else if (peer.isPresent()) {
                busy = true;
                antiEntropy.round(peer.get(), shared).onComplete(ar -> {
                    busy = false;
                    Round round = ar.result();
                    if (round.mended()) {
                        // something was mended: look again soon, until a round mends nothing (writes in flight
                        // during a round, or more than a round's worth of rows)
                        nextRoundAt = System.currentTimeMillis() + FOLLOW_UP_MILLIS;
                    } else if (round.failure == null && rebuilding) {
                        rebuild.finish(round.peer);
                    }
                });
            }
        }
    }

    /**
     * Runs one round of anti-entropy with {@code peer} (the REST trigger) as soon as no other round or
     * bootstrap step runs, so that two rounds never compare and send at once; completes with what it did.
     */
    public Future<Round> roundNow(String peer) {
        Promise<Round> done = Promise.promise();
        context.runOnContext(v -> whenIdle(() -> {
            busy = true;
            antiEntropy.round(peer, presence.sharedWith(peer)).onComplete(ar -> {
                busy = false;
                done.handle(ar);
            });
        }));
        return done.future();
    }

    /** Runs {@code action} on the state-sync context once nothing else of state sync runs. */
    private void whenIdle(Runnable action) {
        if (!busy) {
            action.run();
        } else {
            vertx.setTimer(50, id -> context.runOnContext(v -> whenIdle(action)));
        }
    }

    // ---------------------------------------------------------------- status

    /** The {@code stateSync} section of the status. */
    public void status(ObjectNode json) {
        bootstrap.status(json.putObject("bootstrap"));
        antiEntropy.status(json.putObject("antiEntropy"));
        rebuild.status(json.putObject("rebuild"));
        presence.mine().follows().toJson(json.putObject("follows"));
        presence.mine().publishes().toJson(json.putObject("publishes"));
        ObjectNode nodes = json.putObject("nodes");
        presence.all().forEach((id, seen) -> {
            ObjectNode node = nodes.putObject(id)
                    .put("online", seen.online())
                    .put("bootstrapped", seen.bootstrapped())
                    .put("seenAt", seen.at().toString());
            if (!seen.scopes().follows().isAll()) {
                seen.scopes().follows().toJson(node.putObject("follows"));
            }
            if (!seen.scopes().publishes().isAll()) {
                seen.scopes().publishes().toJson(node.putObject("publishes"));
            }
        });
    }
}
