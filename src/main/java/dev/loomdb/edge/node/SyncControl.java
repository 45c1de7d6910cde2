package dev.loomdb.edge.node;

import dev.loomdb.edge.apply.Inbound;
import dev.loomdb.edge.capture.ReplicationStream;
import dev.loomdb.edge.mesh.MeshLink;
import dev.loomdb.edge.statesync.StateSync;
import dev.loomdb.edge.telemetry.SyncEvent;
import dev.loomdb.edge.telemetry.SyncEvents;
import jakarta.inject.Singleton;
import java.time.Instant;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;

/**
 * Runs and pauses the flow: the seed's startSync and stopSync. Started, the mesh link connects and
 * capture reads the slot; stopped, nothing more is published or applied, what is written meanwhile
 * waits in the replication slot, and what peers send waits in this node's broker session.
 */
@Singleton
public class SyncControl {

    private static final Logger LOG = Logger.getLogger(SyncControl.class);

    private final NodeIdentity identity;
    private final ReplicationStream capture;
    private final MeshLink link;
    private final Inbound inbound;
    private final SyncEvents events;
    private final StateSync stateSync;
    private volatile boolean running;
    private volatile Instant stoppedAt;

    public SyncControl(
            NodeIdentity identity,
            ReplicationStream capture,
            MeshLink link,
            Inbound inbound,
            SyncEvents events,
            StateSync stateSync) {
        this.stateSync = stateSync;
        this.identity = identity;
        this.capture = capture;
        this.link = link;
        this.inbound = inbound;
        this.events = events;
    }

    /** At start: downstream first, so that the link is up before capture hands anything on. */
    void start() {
        link.start();
        capture.start();
        stateSync.start();
        running = true;
    }

    /** At shutdown: upstream first; the open debounce window is still published. */
    void stop() {
        stateSync.stop();
        inbound.pause();
        capture.close();
        disconnect();
        running = false;
    }

    /** Returns false when sync was already stopped. */
    public synchronized boolean stopSync() {
        if (!running) {
            return false;
        }
        stoppedAt = Instant.now();
        stop();
        LOG.infof(
                "Sync stopped: changes wait in slot %s and in the broker session until POST /api/sync/start",
                identity.slot());
        events.emit(SyncEvent.of(SyncEvent.Kind.SYNC_STOPPED, null, "sync stopped"));
        return true;
    }

    /**
     * Resumes from the slot and the broker session, or restarts capture when it stopped by itself.
     * Returns false when already running.
     */
    public synchronized boolean startSync() {
        if (running && capture.failure().isPresent()) {
            capture.close();
            capture.start();
            LOG.infof(
                    "Capture started again after it had stopped: reading slot %s from its confirmed position",
                    identity.slot());
            events.emit(SyncEvent.of(SyncEvent.Kind.SYNC_STARTED, null, "capture started again"));
            return true;
        }
        if (running) {
            return false;
        }
        inbound.resume();
        start();
        stoppedAt = null;
        LOG.infof("Sync started again: reading slot %s from its confirmed position", identity.slot());
        events.emit(SyncEvent.of(SyncEvent.Kind.SYNC_STARTED, null, "sync started"));
        return true;
    }

    private void disconnect() {
        try {
            link.stop().toCompletionStage().toCompletableFuture().get(3, TimeUnit.SECONDS);
        } catch (Exception e) {
            LOG.debugf("MQTT disconnect did not finish: %s", e.getMessage());
        }
    }

    public boolean running() {
        return running;
    }

    public Instant stoppedAt() {
        return stoppedAt;
    }
}
