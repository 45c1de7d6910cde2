package dev.loomdb.edge.statesync;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loomdb.edge.flow.Scope;
import dev.loomdb.edge.flow.Scopes;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Which nodes of the mesh exist and which are online, from their retained presence messages on
 * {@code loom/<mesh>/nodes/<node-id>}: a node publishes {@code "online": true} when its outbound
 * connection comes up and {@code false} when it stops; the broker publishes {@code false} for it
 * (the connection's will) when it dies. A node that joins reads every node ever seen at once.
 */
public final class Presence {

    /**
     * What a node said of itself last: whether it is online and holds the graph, and the part of the
     * graph it follows and publishes (every type when it does not say).
     */
    public record Seen(boolean online, Instant at, boolean bootstrapped, Scopes scopes) {}

    private final ObjectMapper mapper;
    private final String self;
    private final Scopes mine;
    private final Map<String, Seen> nodes = new ConcurrentHashMap<>();

    public Presence(ObjectMapper mapper, String self, Scopes mine) {
        this.mapper = mapper;
        this.self = self;
        this.mine = mine;
    }

    /** What this node follows and publishes. */
    public Scopes mine() {
        return mine;
    }

    /** The part of the graph this node and {@code peer} both keep (what both follow and publish). */
    public Scope sharedWith(String peer) {
        Seen seen = nodes.get(peer);
        Scopes theirs = seen == null ? Scopes.ALL : seen.scopes();
        return mine.sharedWith(theirs.follows(), theirs.publishes());
    }

    public byte[] payload(boolean online, boolean bootstrapped) {
        ObjectNode json = mapper.createObjectNode()
                .put("v", SyncMessage.VERSION)
                .put("node", self)
                .put("online", online)
                .put("bootstrapped", bootstrapped)
                .put("at", Instant.now().toString());
        if (!mine.follows().isAll()) {
            mine.follows().toJson(json.putObject("follows"));
        }
        if (!mine.publishes().isAll()) {
            mine.publishes().toJson(json.putObject("publishes"));
        }
        try {
            return mapper.writeValueAsBytes(json);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A presence message of {@code node}; an empty payload (a cleared retained message) forgets it. */
    public void received(String node, byte[] payload) {
        if (node.equals(self)) {
            return;
        }
        if (payload.length == 0) {
            nodes.remove(node);
            return;
        }
        try {
            JsonNode json = mapper.readTree(payload);
            nodes.put(
                    node,
                    new Seen(
                            json.path("online").asBoolean(false),
                            Instant.now(),
                            json.path("bootstrapped").asBoolean(true),
                            new Scopes(Scope.fromJson(json.path("follows")), Scope.fromJson(json.path("publishes")))));
        } catch (IOException | IllegalArgumentException e) {
            // not a presence message: ignored, the node stays as it was
        }
    }

    /** The peers online now, by id. */
    public TreeSet<String> online() {
        TreeSet<String> online = new TreeSet<>();
        nodes.forEach((id, seen) -> {
            if (seen.online()) {
                online.add(id);
            }
        });
        return online;
    }

    /** Online peers that hold the mesh's graph (not bootstrapping themselves): sources for a bootstrap. */
    public TreeSet<String> sources() {
        TreeSet<String> sources = new TreeSet<>();
        nodes.forEach((id, seen) -> {
            if (seen.online() && seen.bootstrapped()) {
                sources.add(id);
            }
        });
        return sources;
    }

    public boolean anyKnown() {
        return !nodes.isEmpty();
    }

    public Map<String, Seen> all() {
        return new TreeMap<>(nodes);
    }

    public void markOffline(String node) {
        nodes.computeIfPresent(node, (id, seen) -> new Seen(false, Instant.now(), seen.bootstrapped(), seen.scopes()));
    }
}
