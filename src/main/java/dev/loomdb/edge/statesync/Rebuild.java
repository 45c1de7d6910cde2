package dev.loomdb.edge.statesync;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loomdb.edge.flow.Change;
import dev.loomdb.edge.flow.Hlc;
import io.vertx.core.Future;
import io.vertx.sqlclient.Pool;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.jboss.logging.Logger;

/**
 * A node back after longer than {@code loom.tombstone.retention} may hold rows that its peers deleted
 * and have since purged: no tombstone remains anywhere to tell it. Until a round of anti-entropy
 * with a peer that holds the graph finds nothing more to mend, such a node rebuilds: a row of its own
 * that the peer lacks entirely and whose clock is older than the retention horizon is dropped here
 * (quietly: a purge, not a delete to sync) instead of being sent, and is not sent when the peer asks
 * either. Everything else merges as usual: what the peers hold comes here, including rows written
 * while this node was away, and this node's rows newer than the horizon (written while away, or
 * since) go to the peers. A peer never drops anything for it: only the node that was away does.
 * Runs on the state-sync context.
 */
public final class Rebuild {

    private static final Logger LOG = Logger.getLogger(Rebuild.class);

    private static final long CONNECTED_SAVE_MILLIS = 60_000;

    private final Duration retention;
    private final StateDigests digests;
    private static final String CONNECTED_AT = "connected-at";

    private final SyncState state;
    /** When this node was last connected to the broker (saved every minute and at stop). */
    private long connectedAt;

    private long savedConnectedAt;
    private volatile Instant since;
    private volatile Duration away;
    private volatile long dropped;
    private volatile Instant finished;

    public Rebuild(Duration retention, StateDigests digests, Pool pool) {
        this.retention = retention;
        this.digests = digests;
        this.state = new SyncState(pool);
    }

    /** Whether this node was connected to the broker on an earlier run (so the broker should know its session). */
    boolean connectedBefore() {
        return savedConnectedAt > 0;
    }

    /** At start: how long ago this node was last connected, if it ever was and holds the mesh's graph. */
    void prepare(boolean bootstrapped) {
        String saved = state.readAtStart(CONNECTED_AT).get(CONNECTED_AT);
        connectedAt = savedConnectedAt = saved == null ? 0L : Long.parseLong(saved);
        if (bootstrapped && connectedAt > 0) {
            away(Duration.ofMillis(System.currentTimeMillis() - connectedAt));
        }
    }

    /**
     * This node is connected to the broker now: after a gap longer than the retention (sync stopped or
     * the broker unreachable for that long) it rebuilds. The time is saved at most once a minute, and
     * at once when {@code stopping}.
     */
    void connected(long now, boolean stopping) {
        if (connectedAt > 0 && now - connectedAt > retention.toMillis()) {
            away(Duration.ofMillis(now - connectedAt));
        }
        connectedAt = now;
        if (!stopping && now - savedConnectedAt < CONNECTED_SAVE_MILLIS) {
            return;
        }
        savedConnectedAt = now;
        state.save(CONNECTED_AT, Long.toString(now))
                .onFailure(e -> LOG.debugf("Could not record the connection time: %s", e.getMessage()));
    }

    boolean active() {
        return since != null;
    }

    /** This node was away (not connected to the broker) for {@code awayFor}; rebuilds when that is past the retention. */
    void away(Duration awayFor) {
        if (awayFor.compareTo(retention) <= 0 || active()) {
            return;
        }
        since = Instant.now();
        away = awayFor;
        LOG.warnf(
                "This node was away for %s, longer than loom.tombstone.retention (%s): rebuilding from its peers."
                        + " Its rows older than the retention that the peers no longer hold (deleted and purged"
                        + " there) are dropped here; its newer writes are kept and sent",
                awayFor, retention);
    }

    /** A round with a peer that holds the graph found nothing more to mend. */
    void finish(String peer) {
        if (!active()) {
            return;
        }
        finished = Instant.now();
        LOG.infof(
                "Rebuilt from %s in %d s: dropped %d rows older than the retention that the peers no longer hold",
                peer, Duration.between(since, finished).toSeconds(), dropped);
        since = null;
    }

    /**
     * Of rows a peer lacks entirely ({@code lacking}: their ids), those this node keeps and sends; while
     * rebuilding, the rest (older than the horizon) are dropped here.
     */
    Future<List<Change>> keep(Change.Kind kind, List<Change> states, Set<String> lacking) {
        if (!active() || lacking.isEmpty()) {
            return Future.succeededFuture(states);
        }
        Hlc horizon = Hlc.horizon(retention);
        List<Change> kept = new ArrayList<>(states.size());
        List<String> stale = new ArrayList<>();
        for (Change state : states) {
            if (lacking.contains(state.id()) && state.hlc().isBefore(horizon)) {
                stale.add(state.id());
            } else {
                kept.add(state);
            }
        }
        if (stale.isEmpty()) {
            return Future.succeededFuture(kept);
        }
        return digests.drop(kind, stale, horizon).map(count -> {
            dropped += count;
            LOG.infof(
                    "Rebuild: dropped %d %ss older than the retention that the peer no longer holds",
                    count, kind.wireName());
            return kept;
        });
    }

    /** The {@code rebuild} part of the status. */
    void status(ObjectNode json) {
        json.put("active", active());
        json.put("retention", retention.toString());
        if (away != null) {
            json.put("awayFor", away.toString());
        }
        if (since != null) {
            json.put("startedAt", since.toString());
        }
        if (finished != null) {
            json.put("completedAt", finished.toString());
        }
        json.put("droppedRows", dropped);
    }
}
