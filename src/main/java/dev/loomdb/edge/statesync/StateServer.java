package dev.loomdb.edge.statesync;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loomdb.edge.flow.Change;
import dev.loomdb.edge.flow.Envelope;
import dev.loomdb.edge.flow.EnvelopeFormat;
import dev.loomdb.edge.mesh.MeshLink;
import dev.loomdb.edge.telemetry.Counters;
import io.vertx.core.Future;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
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
    private final int maxRows;
    private final long timeoutMillis;

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
            int maxRows,
            long timeoutMillis) {
        this.mapper = mapper;
        this.digests = digests;
        this.format = format;
        this.link = link;
        this.topics = topics;
        this.counters = counters;
        this.maxRows = maxRows;
        this.timeoutMillis = timeoutMillis;
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
                case "page-request" -> page(request);
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

    static ArrayNode digestJson(ArrayNode array, StateDigests.Digest digest) {
        return array.add(digest.hash()).add(digest.count());
    }

    private Future<SyncMessage> summary(SyncMessage request) {
        return digests.summary().map(summary -> {
            ObjectNode header = reply(request, "summary");
            digestJson(header.putArray("node"), summary.nodes());
            digestJson(header.putArray("edge"), summary.edges());
            return new SyncMessage(header, new byte[0]);
        });
    }

    private Future<SyncMessage> groups(SyncMessage request) {
        Change.Kind kind = kind(request.header());
        return digests.groups(kind).map(groups -> {
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
        return digests.leaves(kind, groups).map(leaves -> {
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
        return digests.rowHashes(kind, leaves).compose(mine -> {
            List<String> send = new ArrayList<>();
            mine.forEach((id, hash) -> {
                if (!hash.equals(theirs.get(id))) {
                    send.add(id);
                }
            });
            ObjectNode header = reply(request, "rows").put("kind", kind.wireName());
            ArrayNode want = header.putArray("want");
            theirs.forEach((id, hash) -> {
                if (!hash.equals(mine.get(id))) {
                    want.add(id);
                }
            });
            return rows(header, kind, send);
        });
    }

    private Future<SyncMessage> rows(ObjectNode header, Change.Kind kind, List<String> ids) {
        if (ids.isEmpty()) {
            return Future.succeededFuture(new SyncMessage(header.put("count", 0), new byte[0]));
        }
        return digests.states(kind, ids)
                .map(states -> new SyncMessage(header.put("count", states.size()), body(states)));
    }

    private Future<SyncMessage> page(SyncMessage request) {
        Change.Kind kind = kind(request.header());
        JsonNode after = request.header().path("after");
        int limit = Math.max(1, Math.min(maxRows, request.header().path("limit").asInt(maxRows)));
        return digests.page(kind, after.isTextual() ? after.asText() : null, limit)
                .map(states -> {
                    ObjectNode header = reply(request, "page")
                            .put("kind", kind.wireName())
                            .put("count", states.size())
                            .put("more", states.size() == limit);
                    if (!states.isEmpty()) {
                        header.put("last", states.get(states.size() - 1).id());
                    }
                    return new SyncMessage(header, states.isEmpty() ? new byte[0] : body(states));
                });
    }

    /** Rows as an envelope of the mesh's format, whose origin is this node. */
    byte[] body(List<Change> states) {
        counters.add(Counters.REPAIR_SENT_CHANGES, states.size());
        Instant now = Instant.now();
        return format.encode(new Envelope(
                Envelope.FORMAT_VERSION, topics.mesh(), topics.nodeId(), 0, 0, "0/0", now, 1, List.copyOf(states)));
    }
}
