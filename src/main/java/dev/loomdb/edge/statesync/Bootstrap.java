package dev.loomdb.edge.statesync;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loomdb.edge.flow.Change;
import dev.loomdb.edge.flow.Scope;
import dev.loomdb.edge.telemetry.SyncEvent;
import dev.loomdb.edge.telemetry.SyncEvents;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.sqlclient.Pool;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.jboss.logging.Logger;

/**
 * A node that never had the mesh's graph (a new database) takes it from one peer that has it, in
 * pages in id order, the nodes' and the edges' at once ({@link #transfers}), each applied by the normal merge rule while live changes keep
 * arriving (the node subscribed before asking). The position is saved after each page
 * ({@code loom.sync_state}), so a node killed mid-way goes on from there, with another peer if the
 * first is gone; then a round of anti-entropy with the same peer closes what the pages could not see.
 * Until it is done the node is not ready. Runs on the state-sync context.
 */
final class Bootstrap {

    private static final Logger LOG = Logger.getLogger(Bootstrap.class);
    private static final long RETRY_MILLIS = 2000;
    private static final long PROGRESS_MILLIS = 2000;

    enum State {
        /** Not done yet; the node is not ready. */
        PENDING,
        /** Taking the graph from a peer; the node is not ready. */
        RUNNING,
        /** Peers that hold the graph are known but none came online within the wait; the node is ready. */
        WAITING_FOR_PEER,
        COMPLETED;

        String wireName() {
            return name().toLowerCase().replace('_', '-');
        }
    }

    private final Pool pool;
    private final ObjectMapper mapper;
    private final SyncState syncState;
    private final PeerRequests requests;
    private final AntiEntropy antiEntropy;
    private final Presence presence;
    private final SyncEvents events;
    private final StateServer.Topics topics;
    private final int pageSize;
    private final Duration peerWait;
    private final Runnable completed;
    private final Map<String, String> cursor = new HashMap<>();
    private final BulkIndexes indexes;
    private final Scope follows;
    /** What the pages take: everything this node follows, or only the types it follows since its last run. */
    private Scope scope;

    private boolean widening;

    private volatile State state = State.PENDING;
    private volatile String peer;
    private volatile Instant started;
    private volatile Instant finished;
    private volatile long rows;
    private volatile long expected;
    private long waitingSince;
    private long retryAt;
    private long lastProgress;
    private boolean startedEmitted;
    private String lastFailedPeer;

    Bootstrap(
            Pool pool,
            ObjectMapper mapper,
            PeerRequests requests,
            AntiEntropy antiEntropy,
            Presence presence,
            SyncEvents events,
            StateServer.Topics topics,
            int pageSize,
            Duration peerWait,
            Scope follows,
            Runnable completed) {
        this.pool = pool;
        this.mapper = mapper;
        this.syncState = new SyncState(pool);
        this.requests = requests;
        this.antiEntropy = antiEntropy;
        this.presence = presence;
        this.events = events;
        this.topics = topics;
        this.pageSize = pageSize;
        this.peerWait = peerWait;
        this.completed = completed;
        this.indexes = new BulkIndexes(pool);
        this.follows = follows;
        this.scope = follows;
    }

    /** Reads what an earlier run saved; with bootstrap off, the node starts from its own graph. */
    void prepare(boolean enabled) {
        Map<String, String> saved = syncState.readAtStart("bootstrap");
        saved.forEach((name, value) -> {
            if (name.equals("bootstrap")) {
                state = "completed".equals(value) ? State.COMPLETED : State.PENDING;
            } else {
                cursor.put(name, value);
            }
        });
        String followed = syncState.readAtStart(FOLLOWS).get(FOLLOWS);
        if (!enabled && state != State.COMPLETED) {
            state = State.COMPLETED;
            LOG.info("Bootstrap is off (loom.sync.bootstrap=false): this node starts from its own graph");
        }
        if (state == State.COMPLETED) {
            followedBefore(enabled, followed);
        }
        if (state == State.COMPLETED && cursor.containsKey(BulkIndexes.STATE)) {
            try { // set aside by a bootstrap that did not finish: the graph's indexes are needed now
                indexes.restore().toCompletionStage().toCompletableFuture().get(30, TimeUnit.MINUTES);
            } catch (Exception e) {
                throw new IllegalStateException(
                        "cannot build the indexes set aside by bootstrap: " + e.getMessage(), e);
            }
        }
    }

    /** The setting whose value is the part of the graph this node took: what it followed on its last run. */
    static final String FOLLOWS = "sync.follows";

    /**
     * A node that took the graph before and follows more types now (loom.sync.node-types, edge-types)
     * takes the rows of the added types from a peer, as a bootstrap of those types only.
     */
    private void followedBefore(boolean enabled, String saved) {
        Scope before;
        try {
            before = saved == null ? Scope.ALL : Scope.fromJson(mapper.readTree(saved));
        } catch (Exception e) {
            before = Scope.ALL;
        }
        Scope added = follows.minus(before);
        if (added.isEmpty() || !enabled) {
            if (!added.isEmpty()) {
                LOG.infof(
                        "This node now follows %s as well; bootstrap is off (loom.sync.bootstrap=false), so their rows"
                                + " come by anti-entropy",
                        added);
            }
            if (saved == null || !before.equals(follows)) {
                SyncState.await(saveFollows(), "write");
            }
            return;
        }
        widening = true;
        scope = added;
        state = State.PENDING;
        String name = scopeJson(added);
        if (!name.equals(cursor.get("bootstrap.scope"))) {
            for (String kind : List.of("bootstrap.node", "bootstrap.edge")) {
                cursor.remove(kind);
                cursor.remove(kind + ".done");
            }
            SyncState.await(
                    syncState
                            .remove("bootstrap.node", "bootstrap.node.done", "bootstrap.edge", "bootstrap.edge.done")
                            .compose(v -> save("bootstrap.scope", name)),
                    "write");
        }
        LOG.infof(
                "This node now follows %s as well (loom.sync.node-types, loom.sync.edge-types): it takes their rows"
                        + " from a peer before it is ready",
                added);
    }

    private String scopeJson(Scope scope) {
        return scope.toJson(mapper.createObjectNode()).toString();
    }

    private Future<Void> saveFollows() {
        return save(FOLLOWS, scopeJson(follows));
    }

    State state() {
        return state;
    }

    boolean done() {
        return state == State.COMPLETED;
    }

    /** Not ready while the node has not yet taken the mesh's graph. */
    boolean bootstrapping() {
        return state == State.PENDING || state == State.RUNNING;
    }

    /** Sync (re)started: the wait for a peer counts from now. */
    void waitFrom(long now) {
        waitingSince = now;
    }

    /** Bootstraps from an online peer that holds the graph, if one is; null when nothing was started. */
    Future<Void> step(long now) {
        if (now < retryAt) {
            return null;
        }
        TreeSet<String> sources = presence.sources();
        if (!sources.isEmpty()) {
            String from = sources.stream()
                    .filter(p -> !p.equals(lastFailedPeer))
                    .findFirst()
                    .orElse(sources.first());
            return from(from).onFailure(e -> {
                lastFailedPeer = from;
                retryAt = System.currentTimeMillis() + RETRY_MILLIS;
                if (state == State.RUNNING) {
                    state = State.PENDING;
                }
                LOG.warnf(
                        "Bootstrap from %s stopped (%s); going on from row %d in %d ms, with another peer if one is online",
                        from, e.getMessage(), rows, RETRY_MILLIS);
                events.emit(SyncEvent.of(SyncEvent.Kind.SYNC_ERROR, from, "bootstrap interrupted: " + e.getMessage()));
            });
        }
        boolean anySource = presence.all().values().stream().anyMatch(Presence.Seen::bootstrapped)
                || cursor.containsKey("bootstrap.peer");
        if (!anySource) {
            complete(null, "no node of mesh " + topics.mesh() + " holds a graph yet: this node starts from its own");
        } else if (state == State.PENDING && now - waitingSince > peerWait.toMillis()) {
            state = State.WAITING_FOR_PEER;
            LOG.warnf(
                    "No peer that holds the graph of mesh %s came online within %s (loom.sync.bootstrap.wait): this"
                            + " node is ready without it, and bootstraps as soon as one of %s is online",
                    topics.mesh(), peerWait, presence.all().keySet());
        }
        return null;
    }

    private Future<Void> from(String from) {
        boolean resumed = rows > 0 || !cursor.isEmpty();
        state = State.RUNNING;
        peer = from;
        if (!from.equals(cursor.get("bootstrap.peer"))) {
            save("bootstrap.peer", from) // the mesh has a graph: this node never starts without it
                    .onFailure(e -> LOG.warnf("Could not record the bootstrap's peer: %s", e.getMessage()));
        }
        if (started == null) {
            started = Instant.now();
        }
        return requests.request(from, requests.header("summary-request", scope), null)
                .compose(reply -> {
                    reply.ack();
                    expected = reply.message().header().path("node").path(1).asLong()
                            + reply.message().header().path("edge").path(1).asLong();
                    LOG.infof(
                            "Bootstrap from %s%s: about %d rows to take%s (loom.sync.bootstrap.page-size=%d)",
                            from,
                            resumed ? " (going on from where it stopped)" : "",
                            expected,
                            scope.isAll() ? "" : " of " + scope,
                            pageSize);
                    if (!startedEmitted) {
                        startedEmitted = true;
                        events.emit(SyncEvent.of(
                                SyncEvent.Kind.BOOTSTRAP_STARTED, from, "taking about " + expected + " rows"));
                    }
                    // a node that holds a graph already keeps its indexes: its queries go on meanwhile
                    return (widening ? Future.succeededFuture(0) : indexes.setAside())
                            .compose(count -> transfers(from))
                            .compose(v -> widening ? Future.succeededFuture(0) : indexes.restore())
                            .compose(v -> antiEntropy.round(from, presence.sharedWith(from)))
                            .compose(round -> round.failure == null
                                    ? Future.<Void>succeededFuture()
                                    : Future.failedFuture(round.failure))
                            .map(v -> {
                                complete(from, null);
                                return null;
                            });
                });
    }

    /**
     * The node pages and the edge pages as two transfers at once, as PostgreSQL's initial sync copies
     * its tables side by side: the nodes through the inbound queue (with the live messages), the edges
     * through its side lane, each in an apply session of its own. The nodes' indexes are built as soon as
     * their pages are in, while the edges still come. Completes when both have ended; when one fails,
     * the other stops after the page it is applying, and the first failure is the outcome.
     */
    private Future<Void> transfers(String from) {
        AtomicReference<Throwable> first = new AtomicReference<>(); // set: the other one stops after its page
        Future<Void> nodes = pages(from, Change.Kind.NODE, false, first)
                .compose(v -> widening
                        ? Future.<Void>succeededFuture()
                        : indexes.restore("nodes").<Void>mapEmpty());
        Future<Void> edges = pages(from, Change.Kind.EDGE, true, first);
        for (Future<Void> transfer : List.of(nodes, edges)) {
            transfer.onFailure(e -> first.compareAndSet(null, e));
        }
        return Future.join(nodes, edges)
                .transform(ended -> requests.releaseSideLane()
                        .otherwiseEmpty()
                        .compose(v -> first.get() == null
                                ? Future.<Void>succeededFuture()
                                : Future.<Void>failedFuture(first.get())));
    }

    private static String cursorName(Change.Kind kind) {
        return "bootstrap." + kind.wireName();
    }

    private Future<PeerRequests.Reply> requestPage(String from, Change.Kind kind, String after) {
        if (scope.of(kind).isEmpty()) {
            return Future.succeededFuture(null);
        }
        ObjectNode header = requests.header("page-request", scope)
                .put("kind", kind.wireName())
                .put("limit", pageSize);
        if (after != null) {
            header.put("after", after);
        }
        return requests.request(from, header, null);
    }

    /** The pages of one kind, applied in the inbound side lane when {@code sideLane}; ends early once {@code failed} is set. */
    private Future<Void> pages(String from, Change.Kind kind, boolean sideLane, AtomicReference<Throwable> failed) {
        if ("done".equals(cursor.get(cursorName(kind) + ".done"))) {
            return Future.succeededFuture();
        }
        Promise<Void> done = Promise.promise();
        Transfer transfer = new Transfer(from, kind, sideLane, failed, done);
        page(transfer, requests.readAhead(requestPage(from, kind, cursor.get(cursorName(kind)))));
        return done.future();
    }

    /** One kind's pages from one peer: where they are applied, the first failure of either transfer, and its end. */
    private record Transfer(
            String from, Change.Kind kind, boolean sideLane, AtomicReference<Throwable> failed, Promise<Void> done) {}

    /**
     * Applies one page while the next is on its way and read as soon as it comes, then goes on with
     * that one; {@code done} completes after the last. Each page is let go once applied: nothing of a
     * page outlives its step (a chain of futures, one inside the other, would hold every page's rows
     * until the last, and the whole graph in the joiner's heap).
     */
    private void page(Transfer transfer, Future<PeerRequests.Ahead> current) {
        String from = transfer.from();
        Change.Kind kind = transfer.kind();
        Promise<Void> done = transfer.done();
        current.onComplete(got -> {
            if (got.failed()) {
                done.tryFail(got.cause());
                return;
            }
            PeerRequests.Reply reply = got.result().reply();
            if (reply == null) { // this node takes no type of this kind
                save(cursorName(kind) + ".done", "done").onComplete(done);
                return;
            }
            if (transfer.failed().get() != null) { // the other transfer failed: this one goes on from here next time
                reply.ack();
                done.tryFail("stopped: the " + (kind == Change.Kind.NODE ? "edge" : "node") + " pages failed");
                return;
            }
            JsonNode header = reply.message().header();
            boolean more = header.path("more").asBoolean(false);
            String last = header.path("last").isTextual() ? header.path("last").asText() : null;
            Future<PeerRequests.Ahead> next =
                    more && last != null ? requests.readAhead(requestPage(from, kind, last)) : null;
            requests.applyRows(from, reply, got.result().decoded(), transfer.sideLane())
                    .compose(outcome -> {
                        if (!outcome.applied()) {
                            return Future.failedFuture("a page was not applied: " + outcome.failure());
                        }
                        rows += outcome.rows();
                        progress(from);
                        return last == null
                                ? save(cursorName(kind) + ".done", "done")
                                : save(cursorName(kind), last)
                                        .compose(v -> next == null
                                                ? save(cursorName(kind) + ".done", "done")
                                                : Future.succeededFuture());
                    })
                    .onComplete(applied -> {
                        if (applied.failed()) {
                            if (next != null) {
                                next.onSuccess(n -> {
                                    if (n.reply() != null) {
                                        n.reply().ack();
                                    }
                                });
                            }
                            done.tryFail(applied.cause());
                        } else if (next == null) {
                            done.tryComplete();
                        } else {
                            page(transfer, next);
                        }
                    });
        });
    }

    private void progress(String from) {
        long now = System.currentTimeMillis();
        if (now - lastProgress < PROGRESS_MILLIS) {
            return;
        }
        lastProgress = now;
        String detail = String.format(
                "%d of about %d rows taken from %s (%.0f rows/s)", rows, expected, from, rows / secondsSince(started));
        LOG.infof("Bootstrap: %s", detail);
        events.emit(SyncEvent.of(SyncEvent.Kind.BOOTSTRAP_PROGRESS, from, detail));
    }

    private static double secondsSince(Instant since) {
        return Math.max(0.001, Duration.between(since, Instant.now()).toMillis() / 1000.0);
    }

    private void complete(String from, String why) {
        state = State.COMPLETED;
        finished = Instant.now();
        save("bootstrap", "completed")
                .compose(v -> saveFollows())
                .onFailure(e -> LOG.warnf("Could not record the end of bootstrap: %s", e.getMessage()));
        widening = false;
        String detail = from == null
                ? why
                : String.format(
                        "took %d rows from %s in %.1f s (%.0f rows/s)",
                        rows, from, secondsSince(started), rows / secondsSince(started));
        LOG.infof("Bootstrap completed: %s", detail);
        events.emit(SyncEvent.of(SyncEvent.Kind.BOOTSTRAP_COMPLETED, from, detail));
        completed.run();
    }

    private Future<Void> save(String name, String value) {
        cursor.put(name, value);
        return syncState.save(name, value);
    }

    /** The {@code bootstrap} part of the status. */
    void status(ObjectNode json) {
        json.put("state", state.wireName());
        if (!scope.isAll()) {
            scope.toJson(json.putObject("scope"));
        }
        if (peer != null) {
            json.put("peer", peer);
        }
        if (started != null) {
            json.put("startedAt", started.toString());
        }
        if (finished != null) {
            json.put("completedAt", finished.toString());
        }
        json.put("rows", rows);
        json.put("expectedRows", expected);
    }
}
