package dev.loomdb.edge.node;

import dev.loomdb.edge.apply.Applier;
import dev.loomdb.edge.apply.Inbound;
import dev.loomdb.edge.apply.Parking;
import dev.loomdb.edge.capture.ReplicationStream;
import dev.loomdb.edge.capture.SlotPosition;
import dev.loomdb.edge.mesh.MeshLink;
import dev.loomdb.edge.statesync.StateSync;
import dev.loomdb.edge.telemetry.SyncEvent;
import dev.loomdb.edge.telemetry.SyncEvents;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.vertx.mutiny.sqlclient.Pool;
import jakarta.annotation.Priority;
import jakarta.enterprise.event.Event;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.inject.spi.BeanManager;
import jakarta.inject.Singleton;
import java.time.Duration;
import org.jboss.logging.Logger;

/**
 * Starts the node's stages in the order of the data flow and stops them in reverse: identity and
 * saved state first, then the flow (mesh link, capture), then the periodic work. At shutdown capture
 * stops reading the slot, waits briefly for the broker's last acknowledgements, confirms what they
 * cover, and leaves the rest in the slot for the next start.
 */
@Singleton
public class SyncLifecycle {

    private static final Logger LOG = Logger.getLogger(SyncLifecycle.class);

    private final NodeIdentity identity;
    private final Pool pool;
    private final NodeState state;
    private final SyncControl control;
    private final Housekeeping housekeeping;
    private final SyncMetrics metrics;
    private final SlotPosition position;
    private final Parking parking;
    private final MeshLink link;
    private final Applier applier;
    private final SyncEvents events;
    private final Event<SyncEvent> cdiEvents;
    private final BeanManager beanManager;
    private final StateSync stateSync;
    private final Inbound inbound;
    private final ReplicationStream capture;
    private final SlotRecovery slotRecovery;

    public SyncLifecycle(
            NodeIdentity identity,
            Pool pool,
            NodeState state,
            SyncControl control,
            Housekeeping housekeeping,
            SyncMetrics metrics,
            SlotPosition position,
            Parking parking,
            MeshLink link,
            Applier applier,
            SyncEvents events,
            Event<SyncEvent> cdiEvents,
            BeanManager beanManager,
            StateSync stateSync,
            ReplicationStream capture,
            SlotRecovery slotRecovery,
            Inbound inbound) {
        this.inbound = inbound;
        this.stateSync = stateSync;
        this.capture = capture;
        this.slotRecovery = slotRecovery;
        this.identity = identity;
        this.pool = pool;
        this.state = state;
        this.control = control;
        this.housekeeping = housekeeping;
        this.metrics = metrics;
        this.position = position;
        this.parking = parking;
        this.link = link;
        this.applier = applier;
        this.events = events;
        this.cdiEvents = cdiEvents;
        this.beanManager = beanManager;
    }

    void start(@Observes @Priority(100) StartupEvent event) {
        identity.record(pool);
        state.restore();
        inbound.restoreHeld();
        forwardEventsToCdi();
        metrics.bind(control, position, parking, link, housekeeping);
        stateSync.prepare();
        capture.onSlotLost(slotRecovery::slotLost);
        control.start();
        slotRecovery.afterBrokerLoss();
        housekeeping.start();
        LOG.infof(
                "Node %s syncs mesh %s: capturing from slot %s, publishing on %s",
                identity.nodeId(), identity.mesh(), identity.slot(), identity.changesTopic());
    }

    void stop(@Observes ShutdownEvent event) {
        housekeeping.stop();
        control.stop();
        applier.close();
        inbound.releaseSideLane();
        try {
            state.saveCounters().await().atMost(Duration.ofSeconds(5));
        } catch (RuntimeException e) {
            LOG.warnf("Could not save the status counters at shutdown: %s", e.getMessage());
        }
    }

    /** CDI observers ({@code @ObservesAsync SyncEvent}) get every event, when there are any. */
    private void forwardEventsToCdi() {
        if (!beanManager
                .resolveObserverMethods(SyncEvent.of(SyncEvent.Kind.SYNC_STARTED, null, null))
                .isEmpty()) {
            events.listener(cdiEvents::fireAsync);
        }
    }
}
