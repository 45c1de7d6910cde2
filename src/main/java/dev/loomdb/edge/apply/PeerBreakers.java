package dev.loomdb.edge.apply;

import dev.loomdb.edge.telemetry.SyncEvent;
import dev.loomdb.edge.telemetry.SyncEvents;
import io.smallrye.faulttolerance.api.CircuitBreakerState;
import io.smallrye.faulttolerance.api.TypedGuard;
import io.vertx.core.Context;
import io.vertx.core.Future;
import jakarta.enterprise.util.TypeLiteral;
import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BiConsumer;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.jboss.logging.Logger;

/**
 * The seed's circuit breaker, one per peer (SmallRye Fault Tolerance's programmatic guard): after
 * {@code loom.circuit-breaker.threshold} failures in a row to apply a peer's messages, that peer's
 * breaker opens and its messages are parked instead of applied; after {@code loom.circuit-breaker.reset}
 * one trial goes through (half-open), and its success closes the breaker again.
 */
public final class PeerBreakers {

    private static final Logger LOG = Logger.getLogger(PeerBreakers.class);
    private static final TypeLiteral<CompletionStage<Object>> STAGE = new TypeLiteral<>() {};

    private final int threshold;
    private final Duration reset;
    private final Predicate<Throwable> countsAsFailure;
    private final SyncEvents events;
    private final BiConsumer<PeerBreakers, String> newPeer;
    private final Map<String, Breaker> breakers = new ConcurrentHashMap<>();

    /**
     * @param countsAsFailure which failures count (others, such as a lost database connection, are not the peer's)
     * @param newPeer told of each peer's breaker once, when it is created (for metrics)
     */
    public PeerBreakers(
            int threshold,
            Duration reset,
            Predicate<Throwable> countsAsFailure,
            SyncEvents events,
            BiConsumer<PeerBreakers, String> newPeer) {
        this.threshold = threshold;
        this.reset = reset;
        this.countsAsFailure = countsAsFailure;
        this.events = events;
        this.newPeer = newPeer;
    }

    /** Runs {@code action} through the peer's breaker; fails with CircuitBreakerOpenException while it is open. */
    @SuppressWarnings("unchecked")
    public <T> Future<T> call(String peer, Context context, Supplier<Future<T>> action) {
        Breaker breaker = breaker(peer);
        CompletionStage<Object> stage = breaker.guard.get(() ->
                (CompletionStage<Object>) (CompletionStage<?>) action.get().toCompletionStage());
        return (Future<T>) Future.fromCompletionStage(stage, context);
    }

    /** The peer's state: closed, open or half-open. */
    public CircuitBreakerState state(String peer) {
        Breaker breaker = breakers.get(peer);
        return breaker == null ? CircuitBreakerState.CLOSED : breaker.state;
    }

    /** True when a call now would reach the peer's messages: closed, half-open, or open for longer than the reset. */
    public boolean wouldTry(String peer) {
        Breaker breaker = breakers.get(peer);
        return breaker == null
                || breaker.state != CircuitBreakerState.OPEN
                || System.nanoTime() - breaker.openedAt >= reset.toNanos();
    }

    public Map<String, CircuitBreakerState> states() {
        Map<String, CircuitBreakerState> states = new java.util.TreeMap<>();
        breakers.forEach((peer, breaker) -> states.put(peer, breaker.state));
        return states;
    }

    private Breaker breaker(String peer) {
        Breaker existing = breakers.get(peer);
        if (existing != null) {
            return existing;
        }
        Breaker created = breakers.computeIfAbsent(peer, Breaker::new);
        newPeer.accept(this, peer);
        return created;
    }

    private final class Breaker {

        final String peer;
        final TypedGuard<CompletionStage<Object>> guard;
        volatile CircuitBreakerState state = CircuitBreakerState.CLOSED;
        volatile long openedAt;

        Breaker(String peer) {
            this.peer = peer;
            this.guard = TypedGuard.create(STAGE)
                    .withDescription("apply messages of peer " + peer)
                    .withThreadOffload(false)
                    .withCircuitBreaker()
                    .requestVolumeThreshold(threshold)
                    .failureRatio(1.0)
                    .successThreshold(1)
                    .delay(reset.toMillis(), ChronoUnit.MILLIS)
                    .when(countsAsFailure)
                    .onStateChange(this::moved)
                    .done()
                    .build();
        }

        private void moved(CircuitBreakerState next) {
            CircuitBreakerState previous = state;
            state = next;
            if (next == CircuitBreakerState.OPEN) {
                openedAt = System.nanoTime();
                LOG.warnf(
                        "Circuit breaker for peer %s opened after %d failed applies: its messages are parked in"
                                + " loom.parked_messages and tried again in %s (loom.circuit-breaker.threshold, .reset)",
                        peer, threshold, reset);
                events.emit(SyncEvent.of(
                        SyncEvent.Kind.CIRCUIT_OPEN,
                        peer,
                        "applying this peer's messages failed " + threshold + " times in a row; next trial in "
                                + reset));
            } else if (next == CircuitBreakerState.CLOSED && previous != CircuitBreakerState.CLOSED) {
                LOG.infof("Circuit breaker for peer %s closed: its messages are applied again", peer);
                events.emit(SyncEvent.of(SyncEvent.Kind.CIRCUIT_CLOSED, peer, "a trial apply succeeded"));
            }
        }
    }
}
