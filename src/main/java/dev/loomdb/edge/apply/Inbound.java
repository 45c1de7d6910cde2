package dev.loomdb.edge.apply;

import dev.loomdb.edge.flow.Delivery;
import dev.loomdb.edge.flow.Envelope;
import dev.loomdb.edge.flow.EnvelopeFormat;
import dev.loomdb.edge.flow.MalformedEnvelopeException;
import dev.loomdb.edge.flow.Scope;
import dev.loomdb.edge.telemetry.Counters;
import dev.loomdb.edge.telemetry.SyncEvent;
import dev.loomdb.edge.telemetry.SyncEvents;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;
import org.eclipse.microprofile.faulttolerance.exceptions.CircuitBreakerOpenException;
import org.jboss.logging.Logger;

/**
 * Takes the mesh's messages one at a time, in the order they arrive: decodes and checks each
 * ({@link Admission}), skips this node's own, applies the rest through the sending peer's circuit
 * breaker, and acknowledges a message to the broker only once it is applied, parked or kept aside as
 * rejected. When a peer's messages wait behind the one being applied (the node is behind), they are
 * applied together, in one transaction ({@link #gather}); a group that fails is handled again one
 * message at a time. Nothing is skipped silently:
 * <ul>
 *   <li>a lost database connection (or a deadlock) is not the peer's fault: the message is tried
 *       again in place, and everything after it waits;
 *   <li>data PostgreSQL refuses (SQLSTATE 22, 23) is rejected and counts against the peer's breaker;
 *   <li>any other failure parks the message ({@link Parking}) and counts against the breaker; while
 *       the breaker is open the peer's messages are parked unapplied, and parked messages are tried
 *       again whenever the breaker lets a trial through.
 * </ul>
 * While sync is paused, messages are not taken: unacknowledged, they stay with the broker.
 */
public final class Inbound {

    private static final Logger LOG = Logger.getLogger(Inbound.class);
    private static final long RETRY_MILLIS = 1000;
    /** Envelopes applied in one transaction at most, when several of one peer wait. */
    static final int GROUP_ENVELOPES = 64;
    /** Changes applied in one transaction at most, when several envelopes wait. */
    static final int GROUP_CHANGES = 5000;
    /** How long the parts of a split window wait for the rest (see {@link TransactionParts}). */
    static final Duration PARTS_WAIT = Duration.ofMinutes(10);

    /**
     * A message to handle: live from the broker, taken from the parking ({@code parkedId >= 0}), or
     * rows of state sync sent by {@code peerHint} ({@code repair} set, told how it ended), maybe read
     * already ({@code decoded}, see {@link #decodeAhead}).
     */
    private record Item(
            String peerHint, Delivery delivery, long parkedId, Consumer<RepairOutcome> repair, Envelope decoded) {
        Item(String peerHint, Delivery delivery, long parkedId) {
            this(peerHint, delivery, parkedId, null, null);
        }

        boolean parked() {
            return parkedId >= 0;
        }
    }

    /**
     * How rows of state sync ended: applied (with how many took effect), or not (the reason); they
     * are never parked, since the next round of state sync sends again whatever is still missing.
     */
    public record RepairOutcome(int rows, int effective, String failure) {
        public boolean applied() {
            return failure == null;
        }
    }

    private final AcksAfterFlush acks;
    private final Vertx vertx;
    private final EnvelopeFormat format;
    private final Applier applier;
    private final Rejects rejects;
    private final Parking parking;
    private final PeerBreakers breakers;
    private final Counters counters;
    private final SyncEvents events;
    private final AppliedReport report;
    /** A second queue beside this one, for state-sync rows, with an apply session of its own (or null). */
    private Inbound side;

    private final Deque<Item> queue = new ArrayDeque<>();
    /** A live message to apply and its envelope, in a group of messages applied in one transaction. */
    private record Grouped(Item item, Envelope envelope) {}

    private final TransactionParts parts;
    private final HeldParts held;
    private final Set<String> parkedRetryQueued = new HashSet<>();
    private final Context context;
    private final Admission admission;
    private boolean busy;
    private volatile boolean paused;
    /** Items at the head of the queue to handle one at a time: they were in a group that failed. */
    private int aloneLeft;
    /** Whether the item being handled is one of those. */
    private boolean handlingAlone;

    /**
     * {@code context}: the event loop the queue runs on (the main queue's is the mesh link's, so that a
     * message received is applied with no hop between threads; the side lane has one of its own).
     */
    public Inbound(
            Vertx vertx,
            Context context,
            EnvelopeFormat format,
            Applier applier,
            Rejects rejects,
            Parking parking,
            PeerBreakers breakers,
            String mesh,
            String nodeId,
            Duration retention,
            Counters counters,
            SyncEvents events,
            AppliedReport report,
            Scope follows,
            HeldParts held,
            Duration flushInterval) {
        this.vertx = vertx;
        this.format = format;
        this.applier = applier;
        this.rejects = rejects;
        this.parking = parking;
        this.breakers = breakers;
        this.counters = counters;
        this.events = events;
        this.report = report;
        this.context = context;
        this.acks = new AcksAfterFlush(
                vertx, context, flushInterval, applier::flushCommits, () -> counters.increment(Counters.APPLY_FLUSHES));
        this.held = held;
        this.parts = new TransactionParts(format, PARTS_WAIT.toMillis(), follows);
        this.admission = new Admission(format, mesh, nodeId, follows, parts, retention);
    }

    /**
     * Opens a second queue beside this one, on a context of its own, that applies state-sync rows: an
     * Inbound made as this one but with an applier of its own, whose apply session has a replication
     * origin of its own (an origin is held by one session at a time), so that two transfers apply at
     * once (a bootstrap's edges there while its nodes and the live messages go through this queue), by
     * the same checks, merge rule, breakers, counters and acknowledgements. Called once, at start, with
     * an Inbound made outside any Vert.x context (so that its context is on another event loop).
     */
    public void openSideLane(Inbound lane) {
        side = lane;
        side.paused = paused;
    }

    /** The side lane's apply session is closed until rows come again (after a transfer, and at shutdown). */
    public Future<Void> releaseSideLane() {
        if (side == null) {
            return Future.succeededFuture();
        }
        Promise<Void> closed = Promise.promise();
        side.context.runOnContext(v -> side.applier.close().onComplete(closed));
        return closed.future();
    }

    /** Called for every message received. */
    public void accept(Delivery delivery) {
        context.runOnContext(v -> {
            if (paused) {
                return;
            }
            if (!admission.own(delivery.topic())) {
                counters.add(Counters.RECEIVED_BYTES, delivery.payload().length); // as the broker sent it
            }
            enqueue(new Item(null, delivery, -1));
        });
    }

    /**
     * Takes back the parts of split windows held when the node last stopped (they were acknowledged to
     * the broker once stored); a window they complete is applied. Called at start.
     */
    public void restoreHeld() {
        List<HeldParts.Held> stored = held.load();
        if (stored.isEmpty()) {
            return;
        }
        LOG.infof("Holding again %d parts of split windows kept when this node last stopped", stored.size());
        context.runOnContext(v -> {
            for (HeldParts.Held part : stored) {
                Envelope envelope;
                try {
                    envelope = format.decode(part.payload());
                } catch (MalformedEnvelopeException e) {
                    held.remove(part.origin(), part.seq());
                    continue;
                }
                TransactionParts.Added added = parts.add(
                        envelope, new Delivery(part.topic(), part.payload(), () -> {}), part.receivedAtMillis());
                if (added.whole() != null) {
                    enqueue(new Item(null, wholeDelivery(envelope, added.whole()), -1));
                }
            }
        });
    }

    /** A whole window's message, whose acknowledgement forgets its held parts. */
    private Delivery wholeDelivery(Envelope part, Delivery whole) {
        return new Delivery(whole.topic(), whole.payload(), () -> held.remove(part.origin(), part.seq()));
    }

    /**
     * Stops taking messages; those queued are dropped unacknowledged, so the broker delivers them again,
     * and rows of state sync queued are told they were not applied (a bootstrap goes on from its last page).
     */
    public void pause() {
        if (side != null) {
            side.pause();
        }
        paused = true;
        context.runOnContext(v -> queue.removeIf(item -> {
            if (item.repair() != null) { // state sync is told, so that it asks again once resumed
                item.repair().accept(new RepairOutcome(0, 0, "sync is paused"));
            }
            return !item.parked(); // held parts stay held
        }));
    }

    /**
     * Applies rows of state sync (an envelope whose origin is the sending peer) in turn with the
     * live messages, by the same merge rule and checks, except the retention horizon: a row of a
     * peer's current state may be as old as it likes. Its MQTT acknowledgement is sent once done.
     */
    public void acceptRepair(String peer, Delivery delivery, Consumer<RepairOutcome> outcome) {
        acceptRepair(peer, delivery, null, outcome);
    }

    /** As {@link #acceptRepair(String, Delivery, Consumer)}, with the envelope read ahead ({@code decoded}, or null). */
    public void acceptRepair(String peer, Delivery delivery, Envelope decoded, Consumer<RepairOutcome> outcome) {
        acceptRepair(peer, delivery, decoded, outcome, false);
    }

    /**
     * As {@link #acceptRepair(String, Delivery, Envelope, Consumer)}, in the side lane when {@code sideLane}
     * and one is open ({@link #openSideLane}), beside the live messages and the other rows of state sync.
     */
    public void acceptRepair(
            String peer, Delivery delivery, Envelope decoded, Consumer<RepairOutcome> outcome, boolean sideLane) {
        if (sideLane && side != null) {
            side.acceptRepair(peer, delivery, decoded, outcome, false);
            return;
        }
        context.runOnContext(v -> {
            if (paused) {
                outcome.accept(new RepairOutcome(0, 0, "sync is paused"));
                return;
            }
            enqueue(new Item(peer, delivery, -1, outcome, decoded));
        });
    }

    /**
     * Reads an envelope of state-sync rows on a worker thread, beside the inbound queue, so that the
     * next page of a transfer is read while this one is applied; null when it is not an envelope (the
     * queue then reads it again and rejects it with the reason).
     */
    public Future<Envelope> decodeAhead(byte[] payload) {
        return vertx.executeBlocking(
                        () -> {
                            try {
                                return format.decode(payload);
                            } catch (MalformedEnvelopeException e) {
                                return null;
                            }
                        },
                        false)
                .otherwiseEmpty();
    }

    public void resume() {
        if (side != null) {
            side.resume();
        }
        paused = false;
    }

    public boolean paused() {
        return paused;
    }

    /** Queues the oldest parked message of each peer whose breaker would let it through (called periodically). */
    public void retryParked() {
        context.runOnContext(v -> {
            if (paused) {
                return;
            }
            expireParts();
            for (String peer : parking.counts().keySet()) {
                if (breakers.wouldTry(peer) && !parkedRetryQueued.contains(peer)) {
                    queueOldestParked(peer);
                }
            }
        });
    }

    private void queueOldestParked(String peer) {
        parkedRetryQueued.add(peer);
        parking.oldest(peer)
                .onComplete(found -> context.runOnContext(v -> {
                    if (found.failed() || found.result().isEmpty()) {
                        parkedRetryQueued.remove(peer);
                        return;
                    }
                    Parking.Parked parked = found.result().get();
                    enqueue(new Item(peer, new Delivery(parked.topic(), parked.payload(), () -> {}), parked.id()));
                }));
    }

    private void enqueue(Item item) {
        queue.addLast(item);
        if (!busy) {
            next();
        }
    }

    private void next() {
        Item item = queue.pollFirst();
        if (item == null) {
            busy = false;
            return;
        }
        busy = true;
        handlingAlone = aloneLeft > 0;
        if (handlingAlone) {
            aloneLeft--;
        }
        handle(item, 0);
    }

    private void handle(Item item, int attempt) {
        Delivery delivery = item.delivery();
        Admission.Verdict verdict = admission.admit(
                delivery.topic(),
                delivery.payload(),
                item.decoded(),
                item.repair() == null ? null : item.peerHint(),
                item.parked());
        if (verdict instanceof Admission.Reject rejected) {
            reject(item, rejected.reason(), rejected.detail());
            return;
        }
        if (verdict instanceof Admission.Hold hold) {
            holdPart(item, hold.part());
            return;
        }
        if (!(verdict instanceof Admission.Apply apply)) {
            if (item.repair() != null) {
                item.repair().accept(new RepairOutcome(0, 0, null));
            }
            doneUnwritten(item);
            return;
        }
        Envelope envelope = apply.envelope();
        if (item.repair() != null) {
            applyRepair(item, envelope, attempt);
            return;
        }
        if (attempt == 0 && !item.parked()) {
            counters.increment(Counters.RECEIVED);
        }
        String tooOld = admission.beyondHorizon(envelope);
        if (tooOld != null) {
            reject(item, Rejects.Reason.BEYOND_HORIZON, tooOld);
            return;
        }
        if (attempt == 0 && !item.parked() && !handlingAlone) {
            List<Grouped> group = gather(item, envelope);
            if (group.size() > 1) {
                applyGroup(group);
                return;
            }
        }
        long started = System.nanoTime();
        breakers.<Applied>call(envelope.origin(), context, () -> applier.apply(envelope))
                .onComplete(result -> {
                    if (result.succeeded()) {
                        counters.increment(Counters.APPLY_TRANSACTIONS);
                        report.applied(envelope, result.result(), System.nanoTime() - started);
                        done(item);
                        return;
                    }
                    Throwable cause = result.cause();
                    if (cause instanceof CircuitBreakerOpenException) {
                        park(item, envelope, "the circuit breaker for peer " + envelope.origin() + " is open");
                    } else if (ApplyFailures.isTransient(cause)) {
                        if (attempt % 10 == 0) {
                            LOG.warnf(
                                    "Applying transaction %d from %s failed (%s); retrying in %d ms",
                                    envelope.txid(), envelope.origin(), cause.getMessage(), RETRY_MILLIS);
                            events.emit(SyncEvent.of(
                                    SyncEvent.Kind.SYNC_ERROR,
                                    envelope.origin(),
                                    "applying failed, will retry: " + cause.getMessage()));
                        }
                        applier.reset();
                        vertx.setTimer(RETRY_MILLIS, id -> context.runOnContext(v -> handle(item, attempt + 1)));
                    } else if (ApplyFailures.isBadData(cause)) {
                        events.emit(SyncEvent.of(
                                SyncEvent.Kind.SYNC_ERROR, envelope.origin(), "rejected: " + cause.getMessage()));
                        reject(item, Rejects.Reason.BAD_DATA, "cannot be applied: " + cause.getMessage());
                    } else {
                        LOG.warnf(
                                "Applying transaction %d from %s failed: %s; the message is parked and tried again later",
                                envelope.txid(), envelope.origin(), cause.getMessage());
                        events.emit(SyncEvent.of(
                                SyncEvent.Kind.SYNC_ERROR,
                                envelope.origin(),
                                "applying failed, message parked: " + cause.getMessage()));
                        park(item, envelope, "applying failed: " + cause.getMessage());
                    }
                });
    }

    /**
     * The live messages waiting right behind {@code first} that {@link #handle} would apply whole, from
     * the same peer: a receiver behind its peers applies them in one transaction with one commit,
     * instead of paying a commit per source transaction. Each envelope keeps its own rows, merge and
     * bookkeeping; at most {@value #GROUP_ENVELOPES} envelopes and {@value #GROUP_CHANGES} changes.
     */
    private List<Grouped> gather(Item first, Envelope envelope) {
        List<Grouped> group = new ArrayList<>();
        group.add(new Grouped(first, envelope));
        String origin = envelope.origin();
        int changes = envelope.changes().size();
        while (group.size() < GROUP_ENVELOPES) {
            Item head = queue.peekFirst();
            if (head == null
                    || head.parked()
                    || head.repair() != null
                    || !origin.equals(admission.publisherOf(head.delivery().topic()))) {
                break;
            }
            if (head.decoded() == null) { // read once: handle takes it as read if it is not grouped
                Envelope decoded;
                try {
                    decoded = format.decode(head.delivery().payload());
                } catch (MalformedEnvelopeException e) {
                    break;
                }
                queue.pollFirst();
                head = new Item(head.peerHint(), head.delivery(), head.parkedId(), null, decoded);
                queue.addFirst(head);
            }
            Envelope next = head.decoded();
            if (changes + next.changes().size() > GROUP_CHANGES
                    || !admission.appliesWhole(head.delivery().topic(), next, origin)) {
                break;
            }
            queue.pollFirst();
            group.add(new Grouped(head, next));
            changes += next.changes().size();
        }
        return group;
    }

    /**
     * Applies a group in one transaction. When it fails, its messages are handled again one at a time,
     * as if they had come alone, so that each ends as its own failure says (retried, rejected, parked);
     * the peer's breaker then counts the group's failure and the first message's.
     */
    private void applyGroup(List<Grouped> group) {
        List<Envelope> envelopes = group.stream().map(Grouped::envelope).toList();
        long started = System.nanoTime();
        breakers.<List<Applied>>call(envelopes.get(0).origin(), context, () -> applier.applyAll(envelopes))
                .onComplete(result -> {
                    if (result.failed()) {
                        for (int i = group.size() - 1; i >= 1; i--) {
                            queue.addFirst(group.get(i).item());
                        }
                        aloneLeft = group.size() - 1;
                        handlingAlone = true;
                        handle(group.get(0).item(), 1); // counted as received already
                        return;
                    }
                    long each = (System.nanoTime() - started) / group.size();
                    counters.add(Counters.RECEIVED, group.size() - 1);
                    counters.increment(Counters.APPLY_TRANSACTIONS);
                    for (int i = 0; i < group.size(); i++) {
                        report.applied(envelopes.get(i), result.result().get(i), each);
                    }
                    for (int i = 0; i < group.size() - 1; i++) {
                        acknowledge(group.get(i).item());
                    }
                    done(group.get(group.size() - 1).item());
                });
    }

    /**
     * A part of a window split over several messages: stored, then acknowledged to the broker, and held
     * until the window is whole (of the types this node follows), then applied as one.
     */
    private void holdPart(Item item, Envelope part) {
        Delivery delivery = item.delivery();
        TransactionParts.Added added = parts.add(
                part, new Delivery(delivery.topic(), delivery.payload(), () -> {}), System.currentTimeMillis());
        if (added.mismatch() != null) {
            reject(item, Rejects.Reason.MALFORMED, added.mismatch());
            return;
        }
        storeHeld(item, part, added);
    }

    private void storeHeld(Item item, Envelope part, TransactionParts.Added added) {
        Delivery delivery = item.delivery();
        held.store(part.origin(), part.seq(), TransactionParts.slot(part), delivery.topic(), delivery.payload())
                .onComplete(stored -> context.runOnContext(v -> {
                    if (stored.failed()) {
                        LOG.warnf(
                                "Cannot store a part of a split window (%s); trying again in %d ms",
                                stored.cause().getMessage(), RETRY_MILLIS);
                        vertx.setTimer(RETRY_MILLIS, id -> context.runOnContext(x -> storeHeld(item, part, added)));
                        return;
                    }
                    delivery.acknowledge();
                    if (added.whole() == null) {
                        next();
                    } else {
                        handle(new Item(null, wholeDelivery(part, added.whole()), -1), 0);
                    }
                }));
    }

    /** Gives up the windows whose parts did not all arrive in time: their parts are kept aside as incomplete. */
    private void expireParts() {
        for (TransactionParts.Expired window : parts.expired(System.currentTimeMillis())) {
            String detail = "the other parts of its window did not arrive within " + PARTS_WAIT
                    + "; anti-entropy brings the window's rows";
            Future<Void> kept = Future.succeededFuture();
            for (Delivery delivery : window.parts()) {
                LOG.warnf("Gave up a part of a split window on %s: %s", delivery.topic(), detail);
                kept = kept.compose(x -> Future.fromCompletionStage(
                        rejects.keepAside(delivery.topic(), delivery.payload(), Rejects.Reason.INCOMPLETE, detail)
                                .subscribeAsCompletionStage()));
            }
            kept.compose(x -> held.remove(window.origin(), window.seq()))
                    .onFailure(e -> LOG.warnf(
                            "Cannot keep aside the parts of a split window (%s); they are held until the next start",
                            e.getMessage()));
        }
    }

    private void applyRepair(Item item, Envelope envelope, int attempt) {
        if (attempt == 0) {
            counters.increment(Counters.REPAIR_RECEIVED);
            counters.add(Counters.REPAIR_RECEIVED_BYTES, item.delivery().payload().length);
        }
        long started = System.nanoTime();
        breakers.<Applied>call(envelope.origin(), context, () -> applier.applyRows(envelope))
                .onComplete(result -> {
                    if (result.succeeded()) {
                        report.repaired(envelope, result.result(), System.nanoTime() - started);
                        item.repair()
                                .accept(new RepairOutcome(
                                        envelope.changes().size(),
                                        result.result().effective().size(),
                                        null));
                        done(item);
                        return;
                    }
                    Throwable cause = result.cause();
                    if (ApplyFailures.isTransient(cause)) {
                        applier.reset();
                        vertx.setTimer(RETRY_MILLIS, id -> context.runOnContext(v -> handle(item, attempt + 1)));
                        return;
                    }
                    String why = cause instanceof CircuitBreakerOpenException
                            ? "the circuit breaker for peer " + envelope.origin() + " is open"
                            : "cannot be applied: " + cause.getMessage();
                    item.repair().accept(new RepairOutcome(envelope.changes().size(), 0, why));
                    if (ApplyFailures.isBadData(cause)) {
                        reject(item, Rejects.Reason.BAD_DATA, why);
                    } else {
                        done(item); // not parked: the next round of state sync asks again
                    }
                });
    }

    private void park(Item item, Envelope envelope, String reason) {
        if (item.parked()) {
            parking.failedAgain(item.parkedId(), reason)
                    .onComplete(r -> context.runOnContext(v -> {
                        parkedRetryQueued.remove(item.peerHint());
                        next();
                    }));
            return;
        }
        parking.park(envelope.origin(), item.delivery().topic(), item.delivery().payload(), reason)
                .onComplete(stored -> context.runOnContext(v -> {
                    if (stored.succeeded()) {
                        counters.increment(Counters.PARKED);
                        done(item);
                    } else {
                        LOG.warnf(
                                "Cannot park a message of %s (%s); trying it again in %d ms",
                                envelope.origin(), stored.cause().getMessage(), RETRY_MILLIS);
                        vertx.setTimer(RETRY_MILLIS, id -> context.runOnContext(x -> handle(item, 1)));
                    }
                }));
    }

    private void reject(Item item, Rejects.Reason reason, String detail) {
        if (item.repair() != null && reason != Rejects.Reason.BAD_DATA) {
            item.repair().accept(new RepairOutcome(0, 0, "rejected: " + detail));
        }
        rejects.keepAside(item.delivery().topic(), item.delivery().payload(), reason, detail)
                .subscribe()
                .with(
                        v -> context.runOnContext(x -> done(item)),
                        e -> vertx.setTimer(
                                RETRY_MILLIS, id -> context.runOnContext(x -> handle(item, 1)))); // not acknowledged
    }

    private void done(Item item) {
        if (item.parked()) {
            String peer = item.peerHint();
            parking.remove(peer, item.parkedId())
                    .onComplete(r -> context.runOnContext(v -> {
                        parkedRetryQueued.remove(peer);
                        if (parking.parked(peer) > 0 && breakers.wouldTry(peer) && !paused) {
                            queueOldestParked(peer);
                        }
                        next();
                    }));
            return;
        }
        acknowledge(item);
        next();
    }

    /** As {@link #done}, for a message that wrote nothing: its acknowledgement waits for no flush of its own. */
    private void doneUnwritten(Item item) {
        if (item.parked()) {
            done(item);
            return;
        }
        acknowledge(item, false);
        next();
    }

    /** Acknowledges to the broker once what was applied before is on disk ({@link AcksAfterFlush}). */
    private void acknowledge(Item item) {
        acknowledge(item, true);
    }

    private void acknowledge(Item item, boolean wrote) {
        acks.add(
                () -> {
                    if (!item.delivery().acknowledge()) {
                        // the broker delivers it again on the next connection (applying twice is harmless)
                        LOG.debugf(
                                "Could not acknowledge a message on %s: its connection is gone",
                                item.delivery().topic());
                    }
                },
                wrote);
    }
}
