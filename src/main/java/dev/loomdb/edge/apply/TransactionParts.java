package dev.loomdb.edge.apply;

import dev.loomdb.edge.flow.Change;
import dev.loomdb.edge.flow.Delivery;
import dev.loomdb.edge.flow.Envelope;
import dev.loomdb.edge.flow.EnvelopeFormat;
import dev.loomdb.edge.flow.Scope;
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
        final Map<String, Envelope> parts = new LinkedHashMap<>();
        final Map<String, Delivery> deliveries = new LinkedHashMap<>();
        final Map<String, Integer> spans;
        final int singleParts;
        final int expected;
        final long since;

        Open(Envelope first, int expected, long since) {
            this.spans = first.spans();
            this.singleParts = first.parts();
            this.expected = expected;
            this.since = since;
        }

        boolean sameWindow(Envelope part) {
            return part.spans().isEmpty() ? spans.isEmpty() && singleParts == part.parts() : spans.equals(part.spans());
        }
    }

    /** What a part did: nothing yet (held), completed its window, or cannot belong to it. */
    record Added(Delivery whole, String mismatch) {
        static final Added HELD = new Added(null, null);
    }

    private final EnvelopeFormat format;
    private final long maxAgeMillis;
    private final Scope follows;
    private final Map<Key, Open> open = new LinkedHashMap<>();

    TransactionParts(EnvelopeFormat format, long maxAgeMillis, Scope follows) {
        this.format = format;
        this.maxAgeMillis = maxAgeMillis;
        this.follows = follows;
    }

    /** Where a part sits in its window: its span and its number ({@code node/Person#2}, or {@code #2}). */
    static String slot(Envelope part) {
        return span(part) + "#" + part.part();
    }

    /** The key of the type a part's changes are of (its span), or "" for a window of one type. */
    private static String span(Envelope part) {
        if (part.spans().isEmpty() || part.changes().isEmpty()) {
            return "";
        }
        Change first = part.changes().get(0);
        return Scope.spanKey(first.kind(), first.type());
    }

    /** Whether a part is of a type this node follows (a window of one type: always). */
    boolean followed(Envelope part) {
        return part.spans().isEmpty() || follows.includesSpan(span(part));
    }

    /** How many messages of the window this node receives: those of the types it follows. */
    private int expected(Envelope part) {
        if (part.spans().isEmpty()) {
            return part.parts();
        }
        int count = 0;
        for (Map.Entry<String, Integer> span : part.spans().entrySet()) {
            if (follows.includesSpan(span.getKey())) {
                count += span.getValue();
            }
        }
        return count;
    }

    /**
     * Holds a part; when it is the window's last missing one (of the types this node follows),
     * answers the whole window as one message whose acknowledgement acknowledges every part.
     */
    Added add(Envelope part, Delivery delivery, long now) {
        Key key = new Key(part.origin(), part.seq());
        if (!followed(part)) {
            return new Added(
                    null,
                    "a part of " + span(part) + " of window " + part.seq() + " of " + part.origin()
                            + ", a type this node does not follow");
        }
        Open window = open.computeIfAbsent(key, k -> new Open(part, expected(part), now));
        if (!window.sameWindow(part)) {
            return new Added(
                    null,
                    "part " + part.part() + " of " + part.parts() + " of window " + part.seq() + " of " + part.origin()
                            + " describes the window differently from its other parts ("
                            + (part.spans().isEmpty() ? part.parts() + " parts" : "spans " + part.spans()) + " against "
                            + (window.spans.isEmpty() ? window.singleParts + " parts" : "spans " + window.spans) + ")");
        }
        String slot = slot(part);
        Delivery earlier = window.deliveries.put(slot, delivery);
        if (earlier != null) {
            earlier.acknowledge(); // a duplicate: the newer delivery stands for it
        }
        window.parts.put(slot, part);
        if (window.parts.size() < window.expected) {
            return Added.HELD;
        }
        open.remove(key);
        List<Change> changes = new ArrayList<>();
        List<Delivery> deliveries = new ArrayList<>();
        for (String spanKey : window.spans.isEmpty() ? List.of("") : window.spans.keySet()) {
            int count = spanKey.isEmpty() ? window.singleParts : window.spans.get(spanKey);
            for (int i = 1; i <= count; i++) {
                Envelope each = window.parts.get(spanKey + "#" + i);
                if (each != null) {
                    changes.addAll(each.changes());
                    deliveries.add(window.deliveries.get(spanKey + "#" + i));
                }
            }
        }
        Runnable ackAll = () -> {
            for (Delivery each : deliveries) {
                each.acknowledge();
            }
        };
        return new Added(new Delivery(delivery.topic(), format.encode(part.whole(changes)), ackAll), null);
    }

    /** The parts of a window given up, as they came. */
    record Expired(String origin, long seq, List<Delivery> parts) {}

    /** The windows still incomplete after the wait; they are no longer held. */
    List<Expired> expired(long now) {
        List<Expired> given = new ArrayList<>();
        for (Iterator<Map.Entry<Key, Open>> it = open.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<Key, Open> window = it.next();
            if (now - window.getValue().since >= maxAgeMillis) {
                it.remove();
                given.add(new Expired(
                        window.getKey().origin(),
                        window.getKey().seq(),
                        List.copyOf(window.getValue().deliveries.values())));
            }
        }
        return given;
    }

    /** Forgets every held part unacknowledged (sync paused: the broker delivers them again). */
    void clear() {
        open.clear();
    }

    int held() {
        return open.values().stream().mapToInt(w -> w.parts.size()).sum();
    }
}
