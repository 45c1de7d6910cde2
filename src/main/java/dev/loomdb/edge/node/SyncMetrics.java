package dev.loomdb.edge.node;

import dev.loomdb.edge.apply.Parking;
import dev.loomdb.edge.apply.PeerBreakers;
import dev.loomdb.edge.apply.Rejects;
import dev.loomdb.edge.capture.SlotPosition;
import dev.loomdb.edge.mesh.MeshLink;
import dev.loomdb.edge.telemetry.Counters;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import jakarta.inject.Singleton;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

/** The node's Micrometer metrics (Prometheus at {@code /q/metrics}): counters, gauges and timers of every stage. */
@Singleton
public class SyncMetrics {

    private final MeterRegistry registry;
    private final Counters counters;

    public SyncMetrics(MeterRegistry registry, Counters counters) {
        this.registry = registry;
        this.counters = counters;
    }

    Timer latencyTimer() {
        return Timer.builder("loom.propagation.latency")
                .description("Source commit on the peer to commit here, per applied envelope (its first transaction)")
                .publishPercentileHistogram()
                .minimumExpectedValue(Duration.ofMillis(1))
                .maximumExpectedValue(Duration.ofMinutes(5))
                .register(registry);
    }

    Timer applyTimer() {
        return Timer.builder("loom.apply.duration")
                .description("Time to apply one envelope in PostgreSQL")
                .publishPercentileHistogram()
                .minimumExpectedValue(Duration.ofNanos(100_000))
                .maximumExpectedValue(Duration.ofSeconds(30))
                .register(registry);
    }

    /** Registers the counters and gauges, once, when the stages exist. */
    void bind(SyncControl control, SlotPosition position, Parking parking, MeshLink link, Housekeeping housekeeping) {
        counterMetric("loom.messages", Counters.PUBLISHED, "direction", "out", "MQTT messages published");
        counterMetric("loom.messages", Counters.RECEIVED, "direction", "in", "MQTT messages received from peers");
        counterMetric("loom.bytes", Counters.PUBLISHED_BYTES, "direction", "out", "Payload bytes published");
        counterMetric("loom.bytes", Counters.RECEIVED_BYTES, "direction", "in", "Payload bytes received from peers");
        counterMetric("loom.changes", Counters.PUBLISHED_CHANGES, "direction", "out", "Changes published");
        counterMetric(
                "loom.changes", Counters.APPLIED_CHANGES, "direction", "in", "Peer changes that changed a row here");
        counterMetric(
                "loom.apply.transactions",
                Counters.APPLY_TRANSACTIONS,
                null,
                null,
                "Local transactions that applied peers' messages (a backlog is applied several messages per transaction)");
        counterMetric(
                "loom.apply.flushes",
                Counters.APPLY_FLUSHES,
                null,
                null,
                "Synchronous commits that put applied messages on disk before the broker is acknowledged");
        counterMetric("loom.coalesced.changes", Counters.COALESCED, null, null, "Changes folded away by debouncing");
        counterMetric("loom.conflicts", Counters.CONFLICTS, null, null, "Conflicts kept aside (auto-resolve off)");
        counterMetric(
                "loom.parked", Counters.PARKED, null, null, "Peer messages parked (breaker open or apply failed)");
        for (Rejects.Reason reason : Rejects.Reason.values()) {
            counterMetric("loom.rejected", reason.counter(), "reason", reason.label(), "Peer messages rejected");
        }
        Gauge.builder("loom.replication.lag.bytes", housekeeping, Housekeeping::lastRetainedWalBytes)
                .description("WAL written since the slot's confirmed position (sampled every housekeeping interval)")
                .baseUnit("bytes")
                .register(registry);
        Gauge.builder("loom.replication.lag.seconds", position, SyncMetrics::oldestUnconfirmedAgeSeconds)
                .description("Age of the oldest captured commit not yet acknowledged by the broker")
                .register(registry);
        Gauge.builder("loom.pending.transactions", position, SlotPosition::pendingCount)
                .description("Transactions captured and not yet acknowledged by the broker")
                .register(registry);
        Gauge.builder("loom.parked.messages", parking, Parking::total)
                .description("Peer messages waiting in loom.parked_messages")
                .register(registry);
        Gauge.builder("loom.sync.running", control, c -> c.running() ? 1 : 0).register(registry);
        Gauge.builder("loom.broker.connected", link, l -> l.isConnected() ? 1 : 0)
                .register(registry);
    }

    /** Seconds since the oldest commit captured and not yet acknowledged by the broker (0 when none). */
    static double oldestUnconfirmedAgeSeconds(SlotPosition position) {
        return position.oldestPendingCommit()
                .map(t ->
                        Math.max(0, Duration.between(t, java.time.Instant.now()).toNanos() / 1e9))
                .orElse(0.0);
    }

    private void counterMetric(String name, String counter, String tagKey, String tagValue, String description) {
        FunctionCounter.Builder<AtomicLong> builder = FunctionCounter.builder(
                        name, counters.counter(counter), AtomicLong::get)
                .description(description);
        if (tagKey != null) {
            builder.tag(tagKey, tagValue);
        }
        builder.register(registry);
    }

    /** A peer's circuit breaker: 0 closed, 1 half-open, 2 open. */
    void breakerGauge(PeerBreakers breakers, String peer) {
        Gauge.builder("loom.circuit.breaker.state", breakers, b -> switch (b.state(peer)) {
                    case CLOSED -> 0;
                    case HALF_OPEN -> 1;
                    case OPEN -> 2;
                })
                .tag("peer", peer)
                .description("A peer's circuit breaker: 0 closed, 1 half-open, 2 open")
                .register(registry);
    }
}
