package dev.loomdb.edge.apply;

import dev.loomdb.edge.flow.Change;
import dev.loomdb.edge.flow.Envelope;
import dev.loomdb.edge.telemetry.Counters;
import dev.loomdb.edge.telemetry.SyncEvent;
import dev.loomdb.edge.telemetry.SyncEvents;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.TimeUnit;

/**
 * What an applied envelope is told to: the counters, the peer's figures, the latency and apply
 * timers, and the remote-change and conflict-detected events.
 */
public final class AppliedReport {

    private final Counters counters;
    private final Peers peers;
    private final SyncEvents events;
    private final Timer latency;
    private final Timer applyDuration;

    public AppliedReport(Counters counters, Peers peers, SyncEvents events, Timer latency, Timer applyDuration) {
        this.counters = counters;
        this.peers = peers;
        this.events = events;
        this.latency = latency;
        this.applyDuration = applyDuration;
    }

    /** Rows of state sync: counted and told as remote changes, but no propagation latency. */
    void repaired(Envelope envelope, Applied applied, long applyNanos) {
        applyDuration.record(applyNanos, TimeUnit.NANOSECONDS);
        counters.add(Counters.REPAIRED_CHANGES, applied.effective().size());
        counters.add(Counters.SUPERSEDED, applied.superseded());
        counters.add(Counters.CONFLICTS, applied.conflicts().size());
        tell(envelope, applied, Instant.now());
    }

    void applied(Envelope envelope, Applied applied, long applyNanos) {
        applyDuration.record(applyNanos, TimeUnit.NANOSECONDS);

        Instant now = Instant.now();
        counters.increment(Counters.APPLIED);
        counters.add(Counters.APPLIED_CHANGES, applied.effective().size());
        counters.add(Counters.SUPERSEDED, applied.superseded());
        counters.add(Counters.CONFLICTS, applied.conflicts().size());
        peers.applied(envelope);
        latency.record(Duration.between(envelope.firstCommitTime(), now).toNanos(), TimeUnit.NANOSECONDS);
        tell(envelope, applied, now);
    }

    private void tell(Envelope envelope, Applied applied, Instant now) {
        for (Change change : applied.effective()) {
            events.emit(new SyncEvent(
                    SyncEvent.Kind.REMOTE_CHANGE,
                    now,
                    envelope.origin(),
                    change,
                    envelope.firstCommitTime(),
                    now,
                    null));
        }
        for (Applied.Conflict conflict : applied.conflicts()) {
            events.emit(new SyncEvent(
                    SyncEvent.Kind.CONFLICT_DETECTED,
                    now,
                    envelope.origin(),
                    conflict.change(),
                    envelope.firstCommitTime(),
                    null,
                    "kept aside as conflict " + conflict.id() + "; resolve with POST /api/conflicts/" + conflict.id()
                            + "/resolve"));
        }
    }
}
