package dev.loomdb.edge.statesync;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loomdb.edge.flow.Change;
import dev.loomdb.edge.flow.Envelope;
import dev.loomdb.edge.flow.EnvelopeFormat;
import dev.loomdb.edge.flow.GraphRules;
import dev.loomdb.edge.flow.Scope;
import dev.loomdb.edge.flow.TypeSet;
import dev.loomdb.edge.mesh.MeshLink;
import dev.loomdb.edge.telemetry.Counters;
import io.vertx.core.Future;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jboss.logging.Logger;

/**
 * Answers a peer's state-sync requests from the local graph: digests of kinds, groups and leaves,
 * the rows of leaves that differ, and pages of a full transfer. Each answer goes to the asking node
 * only ({@code loom/<mesh>/sync/<peer>/<this node>}); a request older than the timeout (it waited in
 * this node's broker session while it was away) is dropped, as its sender has given up on it.
 */
public final class StateServer {

    private static final Logger LOG = Logger.getLogger(StateServer.class);

    private final ObjectMapper mapper;
    private final StateDigests digests;
    private final EnvelopeFormat format;
    private final MeshLink link;
    private final Topics topics;
    private final Counters counters;
    private final Rebuild rebuild;
    private final int maxRows;
    private final int maxBytes;
    private final long timeoutMillis;
    private final Scope publishes;
    private final PagesAhead ahead;
    /** The bytes a page's rows may take ({@link #pageRoom()}): the same for every page. */
    private final int pageRoom;

    /** Where this node's state-sync messages go. */
    public interface Topics {
        String mesh();

        String nodeId();

        String to(String peer);
    }

    public StateServer(
            ObjectMapper mapper,
            StateDigests digests,
            EnvelopeFormat format,
            MeshLink link,
            Topics topics,
            Counters counters,
            Rebuild rebuild,
            int maxRows,
            int maxBytes,
            long timeoutMillis,
            Scope publishes) {
        this.mapper = mapper;
        this.digests = digests;
        this.format = format;
        this.link = link;
        this.topics = topics;
        this.counters = counters;
        this.rebuild = rebuild;
        this.maxRows = maxRows;
        this.maxBytes = maxBytes;
        this.timeoutMillis = timeoutMillis;
        this.publishes = publishes;
        this.ahead = new PagesAhead(timeoutMillis);
        this.pageRoom = pageRoom();
    }

    static boolean isRequest(String type) {
        return type.endsWith("-request") || type.equals("rows-compare");
    }

    /** Handles one request; the future completes when the answer is with the broker (or was not needed). */
    public Future<Void> handle(String peer, SyncMessage request) {
        long sent = request.header().path("sent").asLong(0);
        if (System.currentTimeMillis() - sent > timeoutMillis) {
            LOG.debugf("Dropped a %s from %s that waited past the timeout", request.type(), peer);
            return Future.succeededFuture();
        }
        Future<SyncMessage> answer;
        try {
            answer = switch (request.type()) {
                case "summary-request" -> summary(request);
                case "groups-request" -> groups(request);
                case "leaves-request" -> leaves(request);
                case "rows-compare" -> compare(request);
                case "page-request" -> page(peer, request);
                default -> Future.failedFuture(new IllegalArgumentException("unknown request " + request.type()));
            };
        } catch (IllegalArgumentException e) {
            answer = Future.failedFuture(e);
        }
        return answer.recover(e -> Future.succeededFuture(new SyncMessage(
                        reply(request, "error").put("message", String.valueOf(e.getMessage())), new byte[0])))
                .compose(message -> link.publish(topics.to(peer), message.encode(mapper)));
    }

    private ObjectNode reply(SyncMessage request, String type) {
        return mapper.createObjectNode()
                .put("v", SyncMessage.VERSION)
                .put("type", type)
                .put("req", request.request())
                .put("sent", System.currentTimeMillis());
    }

    static Change.Kind kind(JsonNode header) {
        return switch (header.path("kind").asText("")) {
            case "node" -> Change.Kind.NODE;
            case "edge" -> Change.Kind.EDGE;
            default -> throw new IllegalArgumentException("'kind' must be node or edge");
        };
    }

    /**
     * The part of the graph a request is about: the scope it names (every type when it names none),
     * within what this node publishes (a type it keeps to itself is never sent, nor compared).
     */
    private Scope scope(SyncMessage request) {
        return Scope.fromJson(request.header().path("scope")).intersect(publishes);
    }

    static ArrayNode digestJson(ArrayNode array, StateDigests.Digest digest) {
        return array.add(digest.hash()).add(digest.count());
    }

    private Future<SyncMessage> summary(SyncMessage request) {
        return digests.summary(scope(request)).map(summary -> {
            ObjectNode header = reply(request, "summary");
            digestJson(header.putArray("node"), summary.nodes());
            digestJson(header.putArray("edge"), summary.edges());
            return new SyncMessage(header, new byte[0]);
        });
    }

    private Future<SyncMessage> groups(SyncMessage request) {
        Change.Kind kind = kind(request.header());
        return digests.groups(kind, scope(request).of(kind)).map(groups -> {
            ObjectNode header = reply(request, "groups").put("kind", kind.wireName());
            ArrayNode array = header.putArray("groups");
            for (StateDigests.Digest group : groups) {
                digestJson(array.addArray(), group);
            }
            return new SyncMessage(header, new byte[0]);
        });
    }

    private Future<SyncMessage> leaves(SyncMessage request) {
        Change.Kind kind = kind(request.header());
        List<Integer> groups = new ArrayList<>();
        request.header().path("groups").forEach(g -> groups.add(g.asInt()));
        return digests.leaves(kind, scope(request).of(kind), groups).map(leaves -> {
            ObjectNode header = reply(request, "leaves").put("kind", kind.wireName());
            ObjectNode json = header.putObject("leaves");
            leaves.forEach((leaf, digest) -> digestJson(json.putArray(Integer.toString(leaf)), digest));
            return new SyncMessage(header, new byte[0]);
        });
    }

    /**
     * The asker's rows of some leaves, with their hashes: answers with this node's rows that the asker
     * lacks or holds differently, and the ids of the asker's rows this node lacks or holds differently.
     * The asker keeps a batch to about {@code 2,000} rows, so the answer is bounded too.
     */
    private Future<SyncMessage> compare(SyncMessage request) {
        Change.Kind kind = kind(request.header());
        List<Integer> leaves = new ArrayList<>();
        request.header().path("leaves").forEach(l -> leaves.add(l.asInt()));
        Map<String, Long> theirs = new HashMap<>();
        request.header()
                .path("rows")
                .fields()
                .forEachRemaining(e -> theirs.put(e.getKey(), e.getValue().asLong()));
        TypeSet types = scope(request).of(kind);
        return digests.rowHashes(kind, types, leaves).compose(mine -> {
            List<String> send = new ArrayList<>();
            mine.forEach((id, hash) -> {
                if (!hash.equals(theirs.get(id))) {
                    send.add(id);
                }
            });
            ObjectNode header = reply(request, "rows").put("kind", kind.wireName());
            ArrayNode want = header.putArray("want");
            ArrayNode lacks = header.putArray("lacks");
            theirs.forEach((id, hash) -> {
                if (!hash.equals(mine.get(id))) {
                    want.add(id);
                    if (!mine.containsKey(id)) {
                        lacks.add(id);
                    }
                }
            });
            Set<String> asker = new HashSet<>();
            send.stream().filter(id -> !theirs.containsKey(id)).forEach(asker::add);
            return rows(header, kind, types, send, asker);
        });
    }

    /** This node's rows {@code ids}; of those the asker lacks entirely, a rebuilding node may keep some back. */
    private Future<SyncMessage> rows(
            ObjectNode header, Change.Kind kind, TypeSet types, List<String> ids, Set<String> askerLacks) {
        if (ids.isEmpty()) {
            return Future.succeededFuture(new SyncMessage(header.put("count", 0), new byte[0]));
        }
        return digests.states(kind, types, ids)
                .compose(all -> rebuild.keep(kind, all, askerLacks))
                .map(states -> {
                    if (states.isEmpty()) {
                        return new SyncMessage(header.put("count", 0), new byte[0]);
                    }
                    // what does not fit one message waits for the next round, which finds it still differing
                    Chunk first = chunks(states, room(header)).get(0);
                    return new SyncMessage(header.put("count", first.rows().size()), counted(first));
                });
    }

    /** How many rows' ids and hashes one rows-compare request may carry within the largest message. */
    int compareRows(int wanted) {
        return Math.max(16, Math.min(wanted, maxBytes / 128));
    }

    /** Rows and the envelope that carries them. */
    record Chunk(List<Change> rows, byte[] body) {}

    /** The bytes left for rows in a message with this header (and a margin for the fields added after). */
    int room(ObjectNode header) {
        return maxBytes - header.toString().length() - 256;
    }

    /**
     * The rows as envelopes that each fit in {@code room} bytes, in order (all in one when they fit).
     * A row that alone does not fit is left out with an ERROR: no message could carry it. The list is
     * never empty: with every row left out, it holds one chunk without rows.
     */
    List<Chunk> chunks(List<Change> states, int room) {
        Envelope rows = envelope(states);
        byte[] whole = format.encode(rows);
        if (whole.length <= room) {
            return List.of(new Chunk(states, whole));
        }
        List<Chunk> chunks = new ArrayList<>();
        for (List<Change> run : format.fit(
                rows,
                whole.length,
                room,
                (row, bytes) -> LOG.errorf(
                        "State sync cannot send %s '%s': it takes %d bytes, more than the largest MQTT message"
                                + " (loom.mqtt.max-message-size=%d); raise it on every node of the mesh",
                        row.kind().wireName(), row.id(), bytes, maxBytes))) {
            chunks.add(new Chunk(run, format.encode(envelope(run))));
        }
        if (chunks.isEmpty()) {
            chunks.add(new Chunk(List.of(), new byte[0]));
        }
        return chunks;
    }

    /**
     * A page of a full transfer. A transfer asks for its pages one after the other, each after the last
     * row of the one before; so as soon as a page is answered the next one is read and encoded, while
     * the asker applies this one, and the next request finds it ready. A page read this way is at most
     * one page's apply older than one read on request: a row changed meanwhile reaches the asker as a
     * live change, which the merge rule keeps over the page's older state.
     */
    private Future<SyncMessage> page(String peer, SyncMessage request) {
        Change.Kind kind = kind(request.header());
        JsonNode afterField = request.header().path("after");
        String after = afterField.isTextual() ? afterField.asText() : null;
        int limit = Math.max(1, Math.min(maxRows, request.header().path("limit").asInt(maxRows)));
        TypeSet types = scope(request).of(kind);
        PagesAhead.Transfer transfer = new PagesAhead.Transfer(peer, kind, limit, types);
        return ahead.take(transfer, after, () -> readPage(kind, types, after, limit))
                .map(page -> {
                    if (page.more()) {
                        ahead.put(transfer, page.last(), readPage(kind, types, page.last(), limit));
                    }
                    ObjectNode header = reply(request, "page")
                            .put("kind", kind.wireName())
                            .put("count", page.count())
                            .put("more", page.more());
                    if (page.last() != null) {
                        header.put("last", page.last());
                    }
                    counters.add(Counters.REPAIR_SENT_CHANGES, page.count());
                    return new SyncMessage(header, page.body());
                });
    }

    /** A page's answer, apart from the request it answers: its rows' envelope, and where the next one starts. */
    record PageAnswer(int count, boolean more, String last, byte[] body) {}

    /** The bytes a page's rows may take: the largest message less its header (a long request id and last id). */
    private int pageRoom() {
        ObjectNode header = mapper.createObjectNode()
                .put("v", SyncMessage.VERSION)
                .put("type", "page")
                .put("req", "r".repeat(200))
                .put("sent", Long.MAX_VALUE)
                .put("kind", "node")
                .put("count", Integer.MAX_VALUE)
                .put("more", false);
        return room(header) - 4 * GraphRules.MAX_ID_LENGTH;
    }

    private Future<PageAnswer> readPage(Change.Kind kind, TypeSet types, String after, int limit) {
        return digests.page(kind, types, after, limit).map(states -> {
            if (states.isEmpty()) {
                return new PageAnswer(0, false, null, new byte[0]);
            }
            List<Chunk> chunks = chunks(states, pageRoom);
            Chunk first = chunks.get(0);
            // a page too large for one message ends early: the next request goes on after its last row
            boolean cut = chunks.size() > 1 || first.rows().size() < states.size();
            List<Change> rows = first.rows();
            String last = (rows.isEmpty() ? states.get(states.size() - 1) : rows.get(rows.size() - 1)).id();
            return new PageAnswer(
                    rows.size(), states.size() == limit || cut, last, rows.isEmpty() ? new byte[0] : first.body());
        });
    }

    /** A chunk's envelope, counted as sent. */
    byte[] counted(Chunk chunk) {
        counters.add(Counters.REPAIR_SENT_CHANGES, chunk.rows().size());
        return chunk.body();
    }

    /** Rows as an envelope of the mesh's format, whose origin is this node. */
    private Envelope envelope(List<Change> states) {
        return new Envelope(
                Envelope.FORMAT_VERSION,
                topics.mesh(),
                topics.nodeId(),
                0,
                0,
                "0/0",
                Instant.now(),
                1,
                List.copyOf(states));
    }
}
