package dev.loomdb.edge.apply;

import dev.loomdb.edge.flow.Change;
import dev.loomdb.edge.flow.Envelope;
import dev.loomdb.edge.flow.Hlc;
import io.vertx.mutiny.sqlclient.Pool;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What this node knows of each peer: when it last applied its changes, the newest clock and
 * sequence seen, how much it received. The durable copy is {@code loom.sync_peers}, written in
 * the same transaction as the changes; this is its in-memory mirror for the status.
 */
public final class Peers {

    /**
     * One peer's figures.
     *
     * @param lastHlc the newest clock among its changes applied here
     * @param lastSeq the newest envelope sequence (its end LSN) applied here
     */
    public record Peer(
            String id, Instant lastSeen, Hlc lastHlc, long lastSeq, long messagesReceived, long changesReceived) {}

    private final Map<String, Peer> peers = new ConcurrentHashMap<>();

    /** Loads the saved figures (at start). */
    public void load(Pool pool) {
        pool.query("SELECT peer_id, last_seen, last_hlc, last_seq, messages_received, changes_received"
                        + " FROM loom.sync_peers")
                .execute()
                .await()
                .atMost(Duration.ofSeconds(30))
                .forEach(row -> peers.put(
                        row.getString(0),
                        new Peer(
                                row.getString(0),
                                row.getOffsetDateTime(1).toInstant(),
                                new Hlc(row.getLong(2)),
                                row.getLong(3),
                                row.getLong(4),
                                row.getLong(5))));
    }

    /** A message of the peer was applied (mirrors the row update of the apply transaction). */
    public void applied(Envelope envelope) {
        Hlc maxHlc = envelope.changes().stream().map(Change::hlc).reduce(Hlc.ZERO, Hlc::max);
        peers.merge(
                envelope.origin(),
                new Peer(
                        envelope.origin(),
                        Instant.now(),
                        maxHlc,
                        envelope.seq(),
                        1,
                        envelope.changes().size()),
                (old, add) -> new Peer(
                        old.id(),
                        add.lastSeen(),
                        Hlc.max(old.lastHlc(), add.lastHlc()),
                        Math.max(old.lastSeq(), add.lastSeq()),
                        old.messagesReceived() + 1,
                        old.changesReceived() + add.changesReceived()));
    }

    public Map<String, Peer> all() {
        return new TreeMap<>(peers);
    }
}
