package dev.loomdb.edge.flow;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/**
 * The wire form of an {@link Envelope}: what the mesh publishes and what the inbound dispatcher
 * reads back (from the broker, or from a message parked earlier).
 */
public interface EnvelopeFormat {

    /** Room left in each part for the part's own fields ({@code "part":n,"parts":n}). */
    int PART_FIELDS_BYTES = 64;

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
