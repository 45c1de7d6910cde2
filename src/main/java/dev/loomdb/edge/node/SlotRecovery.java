package dev.loomdb.edge.node;

import dev.loomdb.edge.flow.Change;
import dev.loomdb.edge.flow.Hlc;
import dev.loomdb.edge.outbound.Replay;
import dev.loomdb.edge.statesync.StateDigests;
import dev.loomdb.edge.telemetry.Counters;
import dev.loomdb.edge.telemetry.SyncEvent;
import dev.loomdb.edge.telemetry.SyncEvents;
import jakarta.inject.Singleton;
import java.util.ArrayList;
import java.util.List;
import org.jboss.logging.Logger;

/**
 * When the replication slot this node had is gone (dropped, or invalidated by PostgreSQL), the
 * changes written while it was gone were never captured. This publishes again every row this node
 * wrote after the newest change the broker acknowledged ({@code counters.lastPublishedHlc}, saved
 * with the counters), so that peers get them; peers apply them idempotently.
 */
@Singleton
public class SlotRecovery {

    private static final Logger LOG = Logger.getLogger(SlotRecovery.class);
    private static final int PER_ENVELOPE = 1000;

    private final NodeIdentity identity;
    private final StateDigests digests;
    private final Replay replay;
    private final Counters counters;
    private final SyncEvents events;

    public SlotRecovery(
            NodeIdentity identity, StateDigests digests, Replay replay, Counters counters, SyncEvents events) {
        this.identity = identity;
        this.digests = digests;
        this.replay = replay;
        this.counters = counters;
        this.events = events;
    }

    void slotLost(String what) {
        Hlc after = new Hlc(counters.get(Counters.LAST_PUBLISHED_HLC));
        events.emit(SyncEvent.of(
                SyncEvent.Kind.SYNC_ERROR,
                null,
                "replication slot " + identity.slot() + " was " + what + "; publishing again local changes"));
        digests.ownSince(Change.Kind.NODE, identity.nodeId(), after)
                .compose(nodes -> digests.ownSince(Change.Kind.EDGE, identity.nodeId(), after)
                        .map(edges -> {
                            List<Change> all = new ArrayList<>(nodes);
                            all.addAll(edges);
                            return all;
                        }))
                .compose(changes -> replay.republish(changes, PER_ENVELOPE))
                .onSuccess(count -> LOG.infof(
                        "Slot %s was %s: published again %d local changes newer than the last one the broker"
                                + " acknowledged (hlc %s)",
                        identity.slot(), what, count, after))
                .onFailure(e -> LOG.errorf(
                        "Slot %s was %s, and publishing the local changes again failed: %s. Anti-entropy sends"
                                + " them to peers at its next round.",
                        identity.slot(), what, e.getMessage()));
    }
}
