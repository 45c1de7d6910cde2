package dev.loomdb.edge.apply;

import dev.loomdb.edge.flow.Change;
import dev.loomdb.edge.flow.Delivery;
import dev.loomdb.edge.flow.Envelope;
import dev.loomdb.edge.flow.EnvelopeFormat;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The parts of windows too large for one MQTT message ({@link Envelope#parts()}), held until all of a
 * window's parts are here, so that its transactions are applied whole, in one local transaction.
 * A held part is not acknowledged to the broker: should the node stop, the broker delivers it again.
 * A window whose parts do not all arrive within {@code maxAgeMillis} is given up ({@link #expired}),
 * so that its parts do not hold the broker's in-flight window for ever; anti-entropy sends its rows.
 */
final class TransactionParts {

    private record Key(String origin, long seq) {}

    private static final class Open {
        final Envelope[] parts;
        final Delivery[] deliveries;
        final long since;
        int held;

        Open(int count, long since) {
            this.parts = new Envelope[count];
            this.deliveries = new Delivery[count];
            this.since = since;
        }
    }

    /** What a part did: nothing yet (held), completed its window, or cannot belong to it. */
    record Added(Delivery whole, String mismatch) {
        static final Added HELD = new Added(null, null);
    }

    private final EnvelopeFormat format;
    private final long maxAgeMillis;
    private final Map<Key, Open> open = new LinkedHashMap<>();

    TransactionParts(EnvelopeFormat format, long maxAgeMillis) {
        this.format = format;
        this.maxAgeMillis = maxAgeMillis;
    }

    /**
     * Holds a part; when it is the window's last missing one, answers the whole window as one message
     * whose acknowledgement acknowledges every part.
     */
    Added add(Envelope part, Delivery delivery, long now) {
        Key key = new Key(part.origin(), part.seq());
        Open window = open.computeIfAbsent(key, k -> new Open(part.parts(), now));
        if (window.parts.length != part.parts()) {
            return new Added(
                    null,
                    "part " + part.part() + " of " + part.parts() + " of window " + part.seq() + " of " + part.origin()
                            + ", whose other parts say " + window.parts.length);
        }
        int index = part.part() - 1;
        if (window.parts[index] == null) {
            window.held++;
        } else {
            window.deliveries[index].acknowledge(); // a duplicate: the newer delivery stands for it
        }
        window.parts[index] = part;
        window.deliveries[index] = delivery;
        if (window.held < window.parts.length) {
            return Added.HELD;
        }
        open.remove(key);
        List<Change> changes = new ArrayList<>();
        for (Envelope each : window.parts) {
            changes.addAll(each.changes());
        }
        Delivery[] deliveries = window.deliveries;
        Runnable ackAll = () -> {
            for (Delivery each : deliveries) {
                each.acknowledge();
            }
        };
        return new Added(new Delivery(delivery.topic(), format.encode(part.whole(changes)), ackAll), null);
    }

    /** The parts of windows still incomplete after the wait; they are no longer held. */
    List<Delivery> expired(long now) {
        List<Delivery> given = new ArrayList<>();
        for (Iterator<Open> it = open.values().iterator(); it.hasNext(); ) {
            Open window = it.next();
            if (now - window.since >= maxAgeMillis) {
                it.remove();
                for (Delivery delivery : window.deliveries) {
                    if (delivery != null) {
                        given.add(delivery);
                    }
                }
            }
        }
        return given;
    }

    /** Forgets every held part unacknowledged (sync paused: the broker delivers them again). */
    void clear() {
        open.clear();
    }

    int held() {
        return open.values().stream().mapToInt(w -> w.held).sum();
    }
}
