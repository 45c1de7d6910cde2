package dev.loomdb.edge.statesync;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loomdb.edge.apply.Inbound;
import dev.loomdb.edge.flow.Change;
import dev.loomdb.edge.flow.Delivery;
import dev.loomdb.edge.mesh.MeshLink;
import dev.loomdb.edge.telemetry.SyncEvent;
import dev.loomdb.edge.telemetry.SyncEvents;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;

/**
 * State sync: what brings a node to its peers' state whatever it missed, on top of the live
 * changes (docs/mqtt-protocol.md, "State sync").
 * <ul>
 *   <li><b>Bootstrap.</b> A node that never had the mesh's graph (a new database) takes it from one
 *       peer that has it, in pages in id order, nodes then edges, each applied by the normal merge
 *       rule while live changes keep arriving (it subscribed before asking). The position is saved
 *       after each page, so a node killed mid-way goes on from there; then a round of anti-entropy
 *       with the same peer closes what the pages could not see. Until it is done the node is not ready.
 *   <li><b>Anti-entropy.</b> Every {@code loom.sync.anti-entropy.interval}, and soon after each
 *       (re)connection, the node compares digests ({@link StateDigests}) with one peer, chosen by
 *       {@link PeerRotation}: a summary first, then only the groups, leaves and rows that differ.
 *       Each side then sends the rows the other lacks or holds differently, and each merges what it
 *       gets by the normal rule, so a delete (a tombstone) wins as it would live.
 * </ul>
 * Everything here runs on one Vert.x context.
 */
public final class StateSync {

    private static final Logger LOG = Logger.getLogger(StateSync.class);
    /** After a (re)connection, time for the retained presence messages to arrive before deciding. */
    private static final long SETTLE_MILLIS = 1000;

    private static final long RETRY_MILLIS = 2000;
    private static final long PROGRESS_MILLIS = 2000;
    private static final int COMPARE_ROWS = 2000;
    private static final long FOLLOW_UP_MILLIS = 1000;

    public enum Bootstrap {
        /** Not done yet; the node is not ready. */
        PENDING,
        /** Taking the graph from a peer; the node is not ready. */
        RUNNING,
        /** Peers that hold the graph are known but none came online within the wait; the node is ready. */
        WAITING_FOR_PEER,
        COMPLETED;

        public String wireName() {
            return name().toLowerCase().replace('_', '-');
        }
    }

    /** Settings, from {@code loom.sync.*}. */
    public record Settings(
            boolean bootstrapEnabled, int pageSize, Duration bootstrapWait, Duration interval, Duration timeout) {}

    /** A reply and the acknowledgement of the MQTT message that carried it. */
    private record Reply(SyncMessage message, Delivery delivery, int size) {
        void ack() {
            StateSync.ack(delivery);
        }
    }

    /** What one round of anti-entropy found and did. */
    public static final class Round {
        final String peer;
        final Instant started = Instant.now();
        long millis;
        int leaves;
        long received;
        long repaired;
        long sent;
        long bytes;
        String failure;

        Round(String peer) {
            this.peer = peer;
        }
    }

    private final Vertx vertx;
    private final Context context;
    private final ObjectMapper mapper;
    private final MeshLink link;
    private final StateDigests digests;
    private final StateServer server;
    private final Inbound inbound;
    private final Presence presence;
    private final SyncEvents events;
    private final Pool pool;
    private final StateServer.Topics topics;
    private final Settings settings;
    private final Map<String, Promise<Reply>> pending = new HashMap<>();
    private long requests;
    private volatile boolean running;
    private long timer = -1;
    private long connectedSince;
    private long nextRoundAt;
    private long retryAt;
    private boolean busy;
    private String lastFailedPeer;

    private volatile Bootstrap bootstrap = Bootstrap.PENDING;
    private final Map<String, String> cursor = new HashMap<>();
    private volatile String bootstrapPeer;
    private volatile Instant bootstrapStarted;
    private volatile Instant bootstrapCompleted;
    private volatile long bootstrapRows;
    private volatile long bootstrapExpected;
    private long waitingSince;
    private long lastProgress;
    private boolean startedEmitted;

    private volatile Round lastRound;
    private volatile long rounds;
    private volatile long roundsRepaired;
    private volatile long roundsFailed;

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
            Settings settings) {
        this.vertx = vertx;
        this.context = vertx.getOrCreateContext();
        this.mapper = mapper;
        this.link = link;
        this.digests = digests;
        this.server = server;
        this.inbound = inbound;
        this.presence = presence;
        this.events = events;
        this.pool = pool;
        this.topics = topics;
        this.settings = settings;
    }

    /** Reads what bootstrap saved, and says so on this node's presence; call before the mesh link starts. */
    public void prepare() {
        try {
            pool.query("SELECT name, value FROM loom.sync_state WHERE name LIKE 'bootstrap%'")
                    .execute()
                    .map(rows -> {
                        for (Row row : rows) {
                            String name = row.getString(0);
                            if (name.equals("bootstrap")) {
                                bootstrap =
                                        "completed".equals(row.getString(1)) ? Bootstrap.COMPLETED : Bootstrap.PENDING;
                            } else {
                                cursor.put(name, row.getString(1));
                            }
                        }
                        return null;
                    })
                    .toCompletionStage()
                    .toCompletableFuture()
                    .get(30, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException("cannot read loom.sync_state: " + e.getMessage(), e);
        }
        if (!settings.bootstrapEnabled() && bootstrap != Bootstrap.COMPLETED) {
            bootstrap = Bootstrap.COMPLETED;
            LOG.info("Bootstrap is off (loom.sync.bootstrap.enabled=false): this node starts from its own graph");
        }
        announce();
    }

    private void announce() {
        boolean has = bootstrap == Bootstrap.COMPLETED;
        link.presence(presence.payload(true, has), presence.payload(false, has));
    }

    public void start() {
        running = true;
        context.runOnContext(v -> {
            waitingSince = System.currentTimeMillis();
            connectedSince = 0;
            if (timer < 0) {
                timer = vertx.setPeriodic(250, id -> tick());
            }
        });
    }

    public void stop() {
        running = false;
        context.runOnContext(v -> {
            if (timer >= 0) {
                vertx.cancelTimer(timer);
                timer = -1;
            }
            for (Promise<Reply> promise : List.copyOf(pending.values())) {
                promise.tryFail("sync stopped");
            }
            pending.clear();
        });
    }

    /** Not ready while the node has not yet taken the mesh's graph. */
    public boolean bootstrapping() {
        return bootstrap == Bootstrap.PENDING || bootstrap == Bootstrap.RUNNING;
    }

    public Bootstrap bootstrapState() {
        return bootstrap;
    }

    public Presence presence() {
        return presence;
    }

    // ---------------------------------------------------------------- messages

    /** A message on a presence topic. */
    public void presenceReceived(Delivery delivery) {
        String topic = delivery.topic();
        presence.received(topic.substring(topic.lastIndexOf('/') + 1), delivery.payload());
        ack(delivery);
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
                ack(delivery);
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
                    ack(delivery);
                });
            } else if (type.equals("rows-push")) {
                if (!message.hasRows()) {
                    ack(delivery);
                    return;
                }
                inbound.acceptRepair(from, new Delivery(topic, message.body(), delivery.ack()), outcome -> {
                    if (!outcome.applied()) {
                        LOG.warnf("Rows that %s sent by state sync were not applied: %s", from, outcome.failure());
                    }
                });
            } else {
                Promise<Reply> promise = pending.remove(message.request());
                if (promise == null) {
                    ack(delivery); // an answer that came after its request timed out
                    return;
                }
                Reply reply = new Reply(
                        message, new Delivery(topic, message.body(), delivery.ack()), delivery.payload().length);
                if (type.equals("error")) {
                    reply.ack();
                    promise.tryFail(from + " could not answer: "
                            + message.header().path("message").asText());
                } else {
                    promise.tryComplete(reply);
                }
            }
        });
    }

    private static void ack(Delivery delivery) {
        try {
            delivery.ack().run();
        } catch (RuntimeException e) {
            // the connection it came on is gone; the broker delivers it again
        }
    }

    private Future<Reply> request(String peer, ObjectNode header, Round round) {
        String id = topics.nodeId() + "-" + Long.toString(System.currentTimeMillis(), 36) + "-" + (++requests);
        header.put("v", SyncMessage.VERSION).put("req", id).put("sent", System.currentTimeMillis());
        byte[] bytes = new SyncMessage(header, new byte[0]).encode(mapper);
        Promise<Reply> promise = Promise.promise();
        pending.put(id, promise);
        long timeout = vertx.setTimer(settings.timeout().toMillis(), t -> {
            if (pending.remove(id) != null) {
                promise.tryFail("no answer from " + peer + " within " + settings.timeout()
                        + " (loom.sync.anti-entropy.timeout)");
            }
        });
        link.publish(topics.to(peer), bytes).onFailure(e -> {
            pending.remove(id);
            promise.tryFail(e);
        });
        return promise.future().onComplete(ar -> vertx.cancelTimer(timeout)).map(reply -> {
            if (round != null) {
                round.bytes += bytes.length + reply.size();
            }
            return reply;
        });
    }

    private ObjectNode header(String type) {
        return mapper.createObjectNode().put("type", type);
    }

    /** Applies the rows a reply carries, through the inbound queue; completes with the outcome. */
    private Future<Inbound.RepairOutcome> applyRows(String peer, Reply reply) {
        if (!reply.message().hasRows()) {
            reply.ack();
            return Future.succeededFuture(new Inbound.RepairOutcome(0, 0, null));
        }
        Promise<Inbound.RepairOutcome> done = Promise.promise();
        inbound.acceptRepair(peer, reply.delivery(), outcome -> context.runOnContext(v -> done.tryComplete(outcome)));
        return done.future();
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
        if (busy || now - connectedSince < SETTLE_MILLIS || now < retryAt) {
            return;
        }
        if (bootstrap != Bootstrap.COMPLETED) {
            tryBootstrap(now);
            return;
        }
        long interval = settings.interval().toMillis();
        if (interval > 0 && now >= nextRoundAt) {
            nextRoundAt = now + interval;
            Optional<String> peer = PeerRotation.choose(topics.nodeId(), presence.online(), now / interval);
            if (peer.isPresent()) {
                busy = true;
                round(peer.get()).onComplete(ar -> {
                    busy = false;
                    Round done = ar.succeeded() ? ar.result() : null;
                    if (done != null && done.failure == null && (done.repaired > 0 || done.sent > 0)) {
                        // something was mended: look again soon, until a round mends nothing (writes in flight
                        // during a round, or more than a round's worth of rows)
                        nextRoundAt = System.currentTimeMillis() + FOLLOW_UP_MILLIS;
                    }
                });
            }
        }
    }

    // ---------------------------------------------------------------- bootstrap

    private void tryBootstrap(long now) {
        TreeSet<String> sources = presence.sources();
        if (!sources.isEmpty()) {
            String peer = sources.stream()
                    .filter(p -> !p.equals(lastFailedPeer))
                    .findFirst()
                    .orElse(sources.first());
            busy = true;
            bootstrapFrom(peer).onComplete(ar -> {
                busy = false;
                if (ar.failed()) {
                    lastFailedPeer = peer;
                    retryAt = System.currentTimeMillis() + RETRY_MILLIS;
                    if (bootstrap == Bootstrap.RUNNING) {
                        bootstrap = Bootstrap.PENDING;
                    }
                    LOG.warnf(
                            "Bootstrap from %s stopped (%s); going on from row %d in %d ms, with another peer if one is online",
                            peer, ar.cause().getMessage(), bootstrapRows, RETRY_MILLIS);
                    events.emit(SyncEvent.of(
                            SyncEvent.Kind.SYNC_ERROR,
                            peer,
                            "bootstrap interrupted: " + ar.cause().getMessage()));
                }
            });
            return;
        }
        boolean anySource = presence.all().values().stream().anyMatch(Presence.Seen::bootstrapped)
                || cursor.containsKey("bootstrap.peer");
        if (!anySource) {
            complete(null, "no node of mesh " + topics.mesh() + " holds a graph yet: this node starts from its own");
            return;
        }
        if (bootstrap == Bootstrap.PENDING
                && now - waitingSince > settings.bootstrapWait().toMillis()) {
            bootstrap = Bootstrap.WAITING_FOR_PEER;
            LOG.warnf(
                    "No peer that holds the graph of mesh %s came online within %s (loom.sync.bootstrap.wait): this"
                            + " node is ready without it, and bootstraps as soon as one of %s is online",
                    topics.mesh(), settings.bootstrapWait(), presence.all().keySet());
        }
    }

    private Future<Void> bootstrapFrom(String peer) {
        boolean resumed = bootstrapRows > 0 || !cursor.isEmpty();
        bootstrap = Bootstrap.RUNNING;
        bootstrapPeer = peer;
        if (!peer.equals(cursor.get("bootstrap.peer"))) {
            saveState("bootstrap.peer", peer) // the mesh has a graph: this node never starts without it
                    .onFailure(e -> LOG.warnf("Could not record the bootstrap's peer: %s", e.getMessage()));
        }
        if (bootstrapStarted == null) {
            bootstrapStarted = Instant.now();
        }
        return request(peer, header("summary-request"), null).compose(reply -> {
            reply.ack();
            bootstrapExpected = reply.message().header().path("node").path(1).asLong()
                    + reply.message().header().path("edge").path(1).asLong();
            LOG.infof(
                    "Bootstrap from %s%s: about %d rows to take (loom.sync.bootstrap.page-size=%d)",
                    peer, resumed ? " (going on from where it stopped)" : "", bootstrapExpected, settings.pageSize());
            if (!startedEmitted) {
                startedEmitted = true;
                events.emit(SyncEvent.of(
                        SyncEvent.Kind.BOOTSTRAP_STARTED, peer, "taking about " + bootstrapExpected + " rows"));
            }
            return pages(peer, Change.Kind.NODE)
                    .compose(v -> pages(peer, Change.Kind.EDGE))
                    .compose(v -> round(peer))
                    .compose(round ->
                            round.failure == null ? Future.<Void>succeededFuture() : Future.failedFuture(round.failure))
                    .map(v -> {
                        complete(peer, null);
                        return null;
                    });
        });
    }

    private static String cursorName(Change.Kind kind) {
        return "bootstrap." + kind.wireName();
    }

    private Future<Reply> requestPage(String peer, Change.Kind kind, String after) {
        ObjectNode header = header("page-request").put("kind", kind.wireName()).put("limit", settings.pageSize());
        if (after != null) {
            header.put("after", after);
        }
        return request(peer, header, null);
    }

    private Future<Void> pages(String peer, Change.Kind kind) {
        if ("done".equals(cursor.get(cursorName(kind) + ".done"))) {
            return Future.succeededFuture();
        }
        return pageLoop(peer, kind, requestPage(peer, kind, cursor.get(cursorName(kind))));
    }

    /** Applies one page while the next is on its way. */
    private Future<Void> pageLoop(String peer, Change.Kind kind, Future<Reply> current) {
        return current.compose(reply -> {
            JsonNode header = reply.message().header();
            boolean more = header.path("more").asBoolean(false);
            String last = header.path("last").isTextual() ? header.path("last").asText() : null;
            Future<Reply> next = more && last != null ? requestPage(peer, kind, last) : null;
            return applyRows(peer, reply)
                    .compose(outcome -> {
                        if (!outcome.applied()) {
                            return Future.failedFuture("a page was not applied: " + outcome.failure());
                        }
                        bootstrapRows += outcome.rows();
                        progress(peer);
                        return last == null
                                ? saveState(cursorName(kind) + ".done", "done")
                                : saveState(cursorName(kind), last)
                                        .compose(v -> next == null
                                                ? saveState(cursorName(kind) + ".done", "done")
                                                : Future.succeededFuture());
                    })
                    .compose(v -> next == null ? Future.<Void>succeededFuture() : pageLoop(peer, kind, next))
                    .onFailure(e -> {
                        if (next != null) {
                            next.onSuccess(Reply::ack);
                        }
                    });
        });
    }

    private void progress(String peer) {
        long now = System.currentTimeMillis();
        if (now - lastProgress < PROGRESS_MILLIS) {
            return;
        }
        lastProgress = now;
        double seconds = Math.max(
                0.001, Duration.between(bootstrapStarted, Instant.now()).toMillis() / 1000.0);
        String detail = String.format(
                "%d of about %d rows taken from %s (%.0f rows/s)",
                bootstrapRows, bootstrapExpected, peer, bootstrapRows / seconds);
        LOG.infof("Bootstrap: %s", detail);
        events.emit(SyncEvent.of(SyncEvent.Kind.BOOTSTRAP_PROGRESS, peer, detail));
    }

    private void complete(String peer, String why) {
        bootstrap = Bootstrap.COMPLETED;
        bootstrapCompleted = Instant.now();
        saveState("bootstrap", "completed")
                .onFailure(e -> LOG.warnf("Could not record the end of bootstrap: %s", e.getMessage()));
        announce();
        String detail;
        if (peer == null) {
            detail = why;
        } else {
            double seconds = Math.max(
                    0.001,
                    Duration.between(bootstrapStarted, bootstrapCompleted).toMillis() / 1000.0);
            detail = String.format(
                    "took %d rows from %s in %.1f s (%.0f rows/s)",
                    bootstrapRows, peer, seconds, bootstrapRows / seconds);
        }
        LOG.infof("Bootstrap completed: %s", detail);
        events.emit(SyncEvent.of(SyncEvent.Kind.BOOTSTRAP_COMPLETED, peer, detail));
        nextRoundAt = System.currentTimeMillis() + settings.interval().toMillis();
    }

    private Future<Void> saveState(String name, String value) {
        cursor.put(name, value);
        return pool.preparedQuery("INSERT INTO loom.sync_state (name, value) VALUES ($1, $2)"
                        + " ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = now()")
                .execute(Tuple.of(name, value))
                .mapEmpty();
    }

    // ---------------------------------------------------------------- anti-entropy

    /** Runs one round with {@code peer} now (also the REST trigger); completes with what it did. */
    public Future<Round> roundNow(String peer) {
        Promise<Round> done = Promise.promise();
        context.runOnContext(v -> round(peer).onComplete(done));
        return done.future();
    }

    private Future<Round> round(String peer) {
        Round round = new Round(peer);
        long started = System.nanoTime();
        Future<StateDigests.Summary> mine = digests.summary();
        Future<Reply> theirs = request(peer, header("summary-request"), round);
        return Future.all(mine, theirs)
                .compose(both -> {
                    Reply reply = theirs.result();
                    reply.ack();
                    JsonNode header = reply.message().header();
                    return compareKind(
                                    peer, Change.Kind.NODE, mine.result().nodes(), digest(header.path("node")), round)
                            .compose(v -> compareKind(
                                    peer, Change.Kind.EDGE, mine.result().edges(), digest(header.path("edge")), round));
                })
                .transform(ar -> {
                    round.millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
                    rounds++;
                    if (ar.failed()) {
                        round.failure = String.valueOf(ar.cause().getMessage());
                        roundsFailed++;
                        LOG.warnf("Anti-entropy with %s failed: %s", peer, round.failure);
                    } else if (round.leaves > 0) {
                        roundsRepaired++;
                        String detail = String.format(
                                "%d leaves differed; %d rows received (%d changed here), %d sent, in %d ms",
                                round.leaves, round.received, round.repaired, round.sent, round.millis);
                        LOG.infof("Anti-entropy with %s: %s", peer, detail);
                        events.emit(SyncEvent.of(SyncEvent.Kind.SYNC_REPAIRED, peer, detail));
                    } else {
                        LOG.debugf("Anti-entropy with %s: in sync (%d ms, %d bytes)", peer, round.millis, round.bytes);
                    }
                    lastRound = round;
                    return Future.succeededFuture(round);
                });
    }

    private static StateDigests.Digest digest(JsonNode pair) {
        return new StateDigests.Digest(pair.path(0).asLong(), pair.path(1).asLong());
    }

    private Future<Void> compareKind(
            String peer, Change.Kind kind, StateDigests.Digest mine, StateDigests.Digest theirs, Round round) {
        if (mine.equals(theirs)) {
            return Future.succeededFuture();
        }
        Future<StateDigests.Digest[]> myGroups = digests.groups(kind);
        Future<Reply> theirGroups = request(peer, header("groups-request").put("kind", kind.wireName()), round);
        return Future.all(myGroups, theirGroups).compose(both -> {
            Reply reply = theirGroups.result();
            reply.ack();
            JsonNode groups = reply.message().header().path("groups");
            List<Integer> differ = new ArrayList<>();
            for (int g = 0; g < StateDigests.GROUPS; g++) {
                if (!myGroups.result()[g].equals(digest(groups.path(g)))) {
                    differ.add(g);
                }
            }
            if (differ.isEmpty()) {
                return Future.succeededFuture();
            }
            ObjectNode ask = header("leaves-request").put("kind", kind.wireName());
            differ.forEach(ask.putArray("groups")::add);
            Future<Map<Integer, StateDigests.Digest>> myLeaves = digests.leaves(kind, differ);
            Future<Reply> theirLeaves = request(peer, ask, round);
            return Future.all(myLeaves, theirLeaves).compose(all -> {
                Reply leavesReply = theirLeaves.result();
                leavesReply.ack();
                Map<Integer, StateDigests.Digest> theirMap = new HashMap<>();
                leavesReply
                        .message()
                        .header()
                        .path("leaves")
                        .fields()
                        .forEachRemaining(e -> theirMap.put(Integer.parseInt(e.getKey()), digest(e.getValue())));
                TreeSet<Integer> leaves = new TreeSet<>(theirMap.keySet());
                leaves.addAll(myLeaves.result().keySet());
                leaves.removeIf(l -> myLeaves.result()
                        .getOrDefault(l, StateDigests.Digest.EMPTY)
                        .equals(theirMap.getOrDefault(l, StateDigests.Digest.EMPTY)));
                round.leaves += leaves.size();
                List<List<Integer>> batches = new ArrayList<>();
                List<Integer> batch = new ArrayList<>();
                long rows = 0;
                for (int leaf : leaves) {
                    long size = Math.max(
                            myLeaves.result()
                                    .getOrDefault(leaf, StateDigests.Digest.EMPTY)
                                    .count(),
                            theirMap.getOrDefault(leaf, StateDigests.Digest.EMPTY)
                                    .count());
                    if (!batch.isEmpty() && rows + size > server.compareRows(COMPARE_ROWS)) {
                        batches.add(batch);
                        batch = new ArrayList<>();
                        rows = 0;
                    }
                    batch.add(leaf);
                    rows += size;
                }
                if (!batch.isEmpty()) {
                    batches.add(batch);
                }
                Future<Void> done = Future.succeededFuture();
                for (List<Integer> b : batches) {
                    done = done.compose(v -> compareRows(peer, kind, b, round));
                }
                return done;
            });
        });
    }

    private Future<Void> compareRows(String peer, Change.Kind kind, List<Integer> leaves, Round round) {
        return digests.rowHashes(kind, leaves).compose(mine -> {
            ObjectNode ask = header("rows-compare").put("kind", kind.wireName());
            leaves.forEach(ask.putArray("leaves")::add);
            ObjectNode rows = ask.putObject("rows");
            mine.forEach(rows::put);
            return request(peer, ask, round).compose(reply -> {
                List<String> want = new ArrayList<>();
                reply.message().header().path("want").forEach(id -> want.add(id.asText()));
                return applyRows(peer, reply).compose(outcome -> {
                    if (!outcome.applied()) {
                        return Future.failedFuture("rows from " + peer + " were not applied: " + outcome.failure());
                    }
                    round.received += outcome.rows();
                    round.repaired += outcome.effective();
                    return push(peer, kind, want, round);
                });
            });
        });
    }

    /** Sends the peer this node's rows it lacks or holds differently, in envelopes of at most a page (and a message). */
    private Future<Void> push(String peer, Change.Kind kind, List<String> ids, Round round) {
        Future<Void> done = Future.succeededFuture();
        for (int from = 0; from < ids.size(); from += settings.pageSize()) {
            List<String> part = ids.subList(from, Math.min(ids.size(), from + settings.pageSize()));
            done = done.compose(v -> digests.states(kind, part)).compose(states -> {
                if (states.isEmpty()) {
                    return Future.succeededFuture();
                }
                ObjectNode header = header("rows-push")
                        .put("v", SyncMessage.VERSION)
                        .put("kind", kind.wireName())
                        .put("count", states.size())
                        .put("sent", System.currentTimeMillis());
                Future<Void> sent = Future.succeededFuture();
                for (StateServer.Chunk chunk : server.chunks(states, server.room(header))) {
                    if (chunk.rows().isEmpty()) {
                        continue;
                    }
                    ObjectNode each =
                            header.deepCopy().put("count", chunk.rows().size());
                    byte[] payload = new SyncMessage(each, server.counted(chunk)).encode(mapper);
                    round.sent += chunk.rows().size();
                    round.bytes += payload.length;
                    sent = sent.compose(v -> link.publish(topics.to(peer), payload));
                }
                return sent;
            });
        }
        return done;
    }

    // ---------------------------------------------------------------- status

    /** The {@code stateSync} section of the status. */
    public void status(ObjectNode json) {
        ObjectNode boot = json.putObject("bootstrap");
        boot.put("state", bootstrap.wireName());
        if (bootstrapPeer != null) {
            boot.put("peer", bootstrapPeer);
        }
        if (bootstrapStarted != null) {
            boot.put("startedAt", bootstrapStarted.toString());
        }
        if (bootstrapCompleted != null) {
            boot.put("completedAt", bootstrapCompleted.toString());
        }
        boot.put("rows", bootstrapRows);
        boot.put("expectedRows", bootstrapExpected);
        ObjectNode ae = json.putObject("antiEntropy");
        ae.put("interval", settings.interval().toString());
        ae.put("rounds", rounds);
        ae.put("roundsRepaired", roundsRepaired);
        ae.put("roundsFailed", roundsFailed);
        Round last = lastRound;
        if (last != null) {
            describe(last, ae.putObject("lastRound").put("at", last.started.toString()));
        }
        ObjectNode nodes = json.putObject("nodes");
        presence.all()
                .forEach((id, seen) -> nodes.putObject(id)
                        .put("online", seen.online())
                        .put("bootstrapped", seen.bootstrapped())
                        .put("seenAt", seen.at().toString()));
    }

    /** What a round did: in the status ({@code lastRound}) and as the REST trigger's answer. */
    public static void describe(Round round, ObjectNode json) {
        json.put("peer", round.peer);
        json.put("millis", round.millis);
        json.put("differingLeaves", round.leaves);
        json.put("rowsReceived", round.received);
        json.put("rowsChanged", round.repaired);
        json.put("rowsSent", round.sent);
        json.put("bytes", round.bytes);
        if (round.failure != null) {
            json.put("failure", round.failure);
        }
    }
}
