package dev.loomdb.edge.node;

import dev.loomdb.edge.flow.Change;
import dev.loomdb.edge.flow.Hlc;
import dev.loomdb.edge.mesh.MeshLink;
import dev.loomdb.edge.outbound.Replay;
import dev.loomdb.edge.statesync.StateDigests;
import dev.loomdb.edge.telemetry.Counters;
import dev.loomdb.edge.telemetry.SyncEvent;
import dev.loomdb.edge.telemetry.SyncEvents;
import io.vertx.core.Vertx;
import jakarta.inject.Singleton;
import java.time.Instant;
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
    /** Set by Main when the embedded broker's last run did not stop cleanly: its last save, epoch ms. */
    public static final String BROKER_LOST_AFTER = "loomdb.embedded-broker-lost-after";

    private final NodeIdentity identity;
    private final StateDigests digests;
    private final Replay replay;
    private final Counters counters;
    private final SyncEvents events;
    private final MeshLink link;
    private final Vertx vertx;

    public SlotRecovery(
            NodeIdentity identity,
            StateDigests digests,
            Replay replay,
            Counters counters,
            SyncEvents events,
            MeshLink link,
            Vertx vertx) {
        this.link = link;
        this.vertx = vertx;
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
        republish(after, "Slot " + identity.slot() + " was " + what, "the last one the broker acknowledged");
    }

    /**
     * The embedded broker did not stop cleanly last time (Main sets {@link #BROKER_LOST_AFTER} to its last
     * save): once connected, publishes again this node's changes since that save, which the broker had
     * acknowledged and lost. Peers' messages it held are mended by anti-entropy.
     */
    void afterBrokerLoss() {
        String lostAfter = System.getProperty(BROKER_LOST_AFTER);
        if (lostAfter == null) {
            return;
        }
        System.clearProperty(BROKER_LOST_AFTER);
        Instant since = Instant.ofEpochMilli(Long.parseLong(lostAfter)).minusSeconds(2);
        long deadline = System.currentTimeMillis() + 60_000;
        vertx.setPeriodic(200, timer -> {
            if (!link.isConnected() && System.currentTimeMillis() < deadline) {
                return;
            }
            vertx.cancelTimer(timer);
            republish(Hlc.at(since), "The embedded broker stopped uncleanly", "its last save");
        });
    }

    private void republish(Hlc after, String why, String since) {
        digests.ownSince(Change.Kind.NODE, identity.nodeId(), after)
                .compose(nodes -> digests.ownSince(Change.Kind.EDGE, identity.nodeId(), after)
                        .map(edges -> {
                            List<Change> all = new ArrayList<>(nodes);
                            all.addAll(edges);
                            return all;
                        }))
                .compose(changes -> replay.republish(changes, PER_ENVELOPE))
                .onSuccess(count -> LOG.infof(
                        "%s: published again %d local changes newer than %s (hlc %s)", why, count, since, after))
                .onFailure(e -> LOG.errorf(
                        "%s, and publishing the local changes again failed: %s. Anti-entropy sends them to peers at"
                                + " its next round.",
                        why, e.getMessage()));
    }
}
