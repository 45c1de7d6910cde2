package dev.loomdb.edge.statesync;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loomdb.edge.flow.Change;
import dev.loomdb.edge.flow.Scope;
import dev.loomdb.edge.flow.TypeSet;
import dev.loomdb.edge.mesh.MeshLink;
import dev.loomdb.edge.telemetry.SyncEvent;
import dev.loomdb.edge.telemetry.SyncEvents;
import io.vertx.core.Future;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;

/**
 * One round of anti-entropy with one peer: compares the digests ({@link StateDigests}) level by
 * level — a summary, then only the groups, leaves and rows that differ — and then each side sends
 * the rows the other lacks or holds differently; each merges what it gets by the normal rule, so a
 * delete (a tombstone) wins as it would live. Which peer, and when, is {@link StateSync}'s business.
 * Runs on the state-sync context.
 */
final class AntiEntropy {

    private static final Logger LOG = Logger.getLogger(AntiEntropy.class);
    /** Rows whose hashes one rows-compare request carries, at most (fewer when messages are small). */
    private static final int COMPARE_ROWS = 2000;

    private final ObjectMapper mapper;
    private final PeerRequests requests;
    private final StateDigests digests;
    private final StateServer server;
    private final MeshLink link;
    private final StateServer.Topics topics;
    private final SyncEvents events;
    private final Rebuild rebuild;
    private final Duration interval;
    private final int pageSize;

    private volatile Round lastRound;
    private volatile long rounds;
    private volatile long roundsRepaired;
    private volatile long roundsFailed;

    AntiEntropy(
            ObjectMapper mapper,
            PeerRequests requests,
            StateDigests digests,
            StateServer server,
            MeshLink link,
            StateServer.Topics topics,
            SyncEvents events,
            Rebuild rebuild,
            Duration interval,
            int pageSize) {
        this.mapper = mapper;
        this.requests = requests;
        this.digests = digests;
        this.server = server;
        this.link = link;
        this.topics = topics;
        this.events = events;
        this.rebuild = rebuild;
        this.interval = interval;
        this.pageSize = pageSize;
    }

    /**
     * Runs a round over {@code scope} (what both nodes follow and publish); completes with what it did (a
     * failure is in {@link Round#failure}, never a failed future).
     */
    Future<Round> round(String peer, Scope scope) {
        Round round = new Round(peer, scope);
        long started = System.nanoTime();
        Future<StateDigests.Summary> mine = digests.summary(scope);
        Future<PeerRequests.Reply> theirs =
                requests.request(peer, requests.header("summary-request", round.scope), round);
        return Future.all(mine, theirs)
                .compose(both -> {
                    PeerRequests.Reply reply = theirs.result();
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
        TypeSet types = round.scope.of(kind);
        Future<StateDigests.Digest[]> myGroups = digests.groups(kind, types);
        Future<PeerRequests.Reply> theirGroups = requests.request(
                peer, requests.header("groups-request", round.scope).put("kind", kind.wireName()), round);
        return Future.all(myGroups, theirGroups).compose(both -> {
            PeerRequests.Reply reply = theirGroups.result();
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
            ObjectNode ask = requests.header("leaves-request", round.scope).put("kind", kind.wireName());
            differ.forEach(ask.putArray("groups")::add);
            Future<Map<Integer, StateDigests.Digest>> myLeaves = digests.leaves(kind, types, differ);
            Future<PeerRequests.Reply> theirLeaves = requests.request(peer, ask, round);
            return Future.all(myLeaves, theirLeaves).compose(all -> {
                PeerRequests.Reply leavesReply = theirLeaves.result();
                leavesReply.ack();
                Map<Integer, StateDigests.Digest> theirMap = new HashMap<>();
                leavesReply
                        .message()
                        .header()
                        .path("leaves")
                        .fields()
                        .forEachRemaining(e -> theirMap.put(Integer.parseInt(e.getKey()), digest(e.getValue())));
                return compareLeaves(peer, kind, myLeaves.result(), theirMap, round);
            });
        });
    }

    /** Compares the rows of the leaves whose digests differ, in batches of about {@link #COMPARE_ROWS} rows. */
    private Future<Void> compareLeaves(
            String peer,
            Change.Kind kind,
            Map<Integer, StateDigests.Digest> mine,
            Map<Integer, StateDigests.Digest> theirs,
            Round round) {
        TreeSet<Integer> leaves = new TreeSet<>(theirs.keySet());
        leaves.addAll(mine.keySet());
        leaves.removeIf(l -> mine.getOrDefault(l, StateDigests.Digest.EMPTY)
                .equals(theirs.getOrDefault(l, StateDigests.Digest.EMPTY)));
        round.leaves += leaves.size();
        int perBatch = server.compareRows(COMPARE_ROWS);
        List<List<Integer>> batches = new ArrayList<>();
        List<Integer> batch = new ArrayList<>();
        long rows = 0;
        for (int leaf : leaves) {
            long size = Math.max(
                    mine.getOrDefault(leaf, StateDigests.Digest.EMPTY).count(),
                    theirs.getOrDefault(leaf, StateDigests.Digest.EMPTY).count());
            if (!batch.isEmpty() && rows + size > perBatch) {
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
    }

    private Future<Void> compareRows(String peer, Change.Kind kind, List<Integer> leaves, Round round) {
        return digests.rowHashes(kind, round.scope.of(kind), leaves).compose(mine -> {
            ObjectNode ask = requests.header("rows-compare", round.scope).put("kind", kind.wireName());
            leaves.forEach(ask.putArray("leaves")::add);
            ObjectNode rows = ask.putObject("rows");
            mine.forEach(rows::put);
            return requests.request(peer, ask, round).compose(reply -> {
                List<String> want = new ArrayList<>();
                reply.message().header().path("want").forEach(id -> want.add(id.asText()));
                Set<String> lacks = new HashSet<>();
                reply.message().header().path("lacks").forEach(id -> lacks.add(id.asText()));
                return requests.applyRows(peer, reply).compose(outcome -> {
                    if (!outcome.applied()) {
                        return Future.failedFuture("rows from " + peer + " were not applied: " + outcome.failure());
                    }
                    round.received += outcome.rows();
                    round.repaired += outcome.effective();
                    return push(peer, kind, want, lacks, round);
                });
            });
        });
    }

    /** Sends the peer this node's rows it lacks or holds differently, in envelopes of at most a page (and a message). */
    private Future<Void> push(String peer, Change.Kind kind, List<String> ids, Set<String> lacks, Round round) {
        Future<Void> done = Future.succeededFuture();
        for (int from = 0; from < ids.size(); from += pageSize) {
            List<String> part = ids.subList(from, Math.min(ids.size(), from + pageSize));
            done = done.compose(v -> digests.states(kind, round.scope.of(kind), part))
                    .compose(states -> rebuild.keep(kind, states, lacks))
                    .compose(states -> {
                        if (states.isEmpty()) {
                            return Future.succeededFuture();
                        }
                        ObjectNode header = requests.header("rows-push")
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

    /** The {@code antiEntropy} part of the status. */
    void status(ObjectNode json) {
        json.put("interval", interval.toString());
        json.put("rounds", rounds);
        json.put("roundsRepaired", roundsRepaired);
        json.put("roundsFailed", roundsFailed);
        Round last = lastRound;
        if (last != null) {
            last.describe(json.putObject("lastRound").put("at", last.started.toString()));
        }
    }
}
