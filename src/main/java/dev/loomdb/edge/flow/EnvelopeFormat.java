package dev.loomdb.edge.flow;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The wire form of an {@link Envelope}: what the mesh publishes and what the inbound dispatcher
 * reads back (from the broker, or from a message parked earlier).
 */
public interface EnvelopeFormat {

    /** Room left in each part for the part's own fields ({@code "part":n,"parts":n}). */
    int PART_FIELDS_BYTES = 64;

    /** The most messages one window may be split into (a receiver holds them all before applying). */
    int MAX_PARTS = 10_000;

    byte[] encode(Envelope envelope);

    /** Reads an envelope, or says in one sentence why the bytes are not one. */
    Envelope decode(byte[] payload) throws MalformedEnvelopeException;

    /**
     * The envelope as one message if it fits in {@code maxBytes}; else as parts that each fit, its
     * changes in order and split only between changes ({@link Envelope#parts()}), which a receiver
     * applies together once it holds them all.
     *
     * @throws OversizedChangeException when one change alone does not fit
     */
    default List<byte[]> encodeWithin(Envelope envelope, int maxBytes) {
        byte[] whole = encode(envelope);
        if (whole.length <= maxBytes) {
            return List.of(whole);
        }
        List<List<Change>> runs = fit(envelope, whole.length, maxBytes, (change, bytes) -> {
            throw new OversizedChangeException(change, bytes, maxBytes);
        });
        List<byte[]> parts = new ArrayList<>(runs.size());
        for (int i = 0; i < runs.size(); i++) {
            parts.add(encode(envelope.part(i + 1, runs.size(), runs.get(i))));
        }
        return parts;
    }

    /** One message of a window: the kind and type of the changes it holds, and its bytes. */
    record Message(Change.Kind kind, String type, byte[] payload) {}

    /**
     * The window as messages of one kind and type each, for the topics of those types (so that a
     * node that follows some types receives only theirs): one message when the window is of one type
     * and fits; else each type's changes in one or more parts ({@link #encodeWithin}), every message
     * naming the window's types and how many messages each has ({@link Envelope#spans()}). Nothing
     * for a window without changes.
     *
     * @throws OversizedChangeException when one change alone does not fit
     */
    default List<Message> encodeByType(Envelope envelope, int maxBytes) {
        List<Message> messages = new ArrayList<>();
        if (envelope.changes().isEmpty()) {
            return messages;
        }
        Change first = envelope.changes().get(0);
        if (envelope.changes().stream()
                .allMatch(c -> c.kind() == first.kind() && c.type().equals(first.type()))) {
            for (byte[] payload : encodeWithin(envelope, maxBytes)) {
                messages.add(new Message(first.kind(), first.type(), payload));
            }
            return messages;
        }
        Map<String, List<Change>> groups = new LinkedHashMap<>();
        for (Change change : envelope.changes()) {
            groups.computeIfAbsent(Scope.spanKey(change.kind(), change.type()), k -> new ArrayList<>())
                    .add(change);
        }
        Map<String, Integer> widest = new LinkedHashMap<>();
        groups.keySet().forEach(key -> widest.put(key, MAX_PARTS));
        int spansBytes = encode(envelope.part(1, 2, List.of(), widest)).length
                - encode(envelope.part(1, 2, List.of(), Map.of())).length;
        int room = maxBytes - spansBytes;
        Map<String, List<List<Change>>> runs = new LinkedHashMap<>();
        Map<String, Integer> spans = new LinkedHashMap<>();
        groups.forEach((key, changes) -> {
            Envelope one = envelope.whole(changes);
            int bytes = encode(one).length;
            List<List<Change>> split = bytes <= room - PART_FIELDS_BYTES
                    ? List.of(changes)
                    : fit(one, bytes, room, (change, size) -> {
                        throw new OversizedChangeException(change, size, maxBytes);
                    });
            runs.put(key, split);
            spans.put(key, split.size());
        });
        runs.forEach((key, split) -> {
            Change typed = split.get(0).get(0);
            for (int i = 0; i < split.size(); i++) {
                byte[] payload = encode(envelope.part(i + 1, split.size(), split.get(i), spans));
                messages.add(new Message(typed.kind(), typed.type(), payload));
            }
        });
        return messages;
    }

    /** A change that alone does not fit a message, and the bytes its envelope takes. */
    @FunctionalInterface
    interface LeftOut {
        void change(Change change, int bytes);
    }

    /**
     * The envelope's changes in runs, in order, whose envelopes each fit in {@code maxBytes} even as
     * one part of several ({@code wholeBytes}, the size of the whole envelope, guides the first cut).
     * A change that alone does not fit is handed to {@code leftOut} and is in no run.
     */
    default List<List<Change>> fit(Envelope envelope, int wholeBytes, int maxBytes, LeftOut leftOut) {
        int budget = maxBytes - PART_FIELDS_BYTES;
        List<Change> changes = envelope.changes();
        int pieces = (int) Math.min(changes.size(), Math.max(1, (long) Math.ceil(wholeBytes / (budget * 0.9))));
        Deque<List<Change>> todo = new ArrayDeque<>();
        for (int i = pieces - 1; i >= 0; i--) {
            int from = (int) ((long) changes.size() * i / pieces);
            int to = (int) ((long) changes.size() * (i + 1) / pieces);
            if (to > from) {
                todo.push(changes.subList(from, to));
            }
        }
        List<List<Change>> runs = new ArrayList<>();
        while (!todo.isEmpty()) {
            List<Change> run = todo.pop();
            int bytes = encode(envelope.part(1, 2, run)).length;
            if (bytes <= budget) {
                runs.add(run);
            } else if (run.size() == 1) {
                leftOut.change(run.get(0), bytes);
            } else {
                todo.push(run.subList(run.size() / 2, run.size()));
                todo.push(run.subList(0, run.size() / 2));
            }
        }
        return runs;
    }

    /** One change whose envelope alone is larger than the largest message the mesh carries. */
    final class OversizedChangeException extends RuntimeException {
        private final transient Change change;

        public OversizedChangeException(Change change, int bytes, int maxBytes) {
            super(change.kind().wireName() + " '" + change.id() + "' takes " + bytes
                    + " bytes in an envelope, more than the largest MQTT message (loom.mqtt.max-message-size="
                    + maxBytes + ")");
            this.change = change;
        }

        public Change change() {
            return change;
        }
    }
}
