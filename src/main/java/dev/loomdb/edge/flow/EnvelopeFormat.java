package dev.loomdb.edge.flow;

import java.util.ArrayList;
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
        int budget = maxBytes - PART_FIELDS_BYTES;
        List<Change> changes = envelope.changes();
        int pieces = (int) Math.min(changes.size(), Math.max(2, (long) Math.ceil(whole.length / (budget * 0.9))));
        List<List<Change>> chunks = new ArrayList<>();
        for (int i = 0; i < pieces; i++) {
            int from = (int) ((long) changes.size() * i / pieces);
            int to = (int) ((long) changes.size() * (i + 1) / pieces);
            if (to > from) {
                chunks.add(changes.subList(from, to));
            }
        }
        List<List<Change>> fitting = new ArrayList<>();
        while (!chunks.isEmpty()) {
            List<Change> chunk = chunks.remove(0);
            if (encode(envelope.part(1, 2, chunk)).length <= budget) {
                fitting.add(chunk);
            } else if (chunk.size() == 1) {
                throw new OversizedChangeException(chunk.get(0), encode(envelope.part(1, 2, chunk)).length, maxBytes);
            } else {
                int half = chunk.size() / 2;
                chunks.add(0, chunk.subList(half, chunk.size()));
                chunks.add(0, chunk.subList(0, half));
            }
        }
        List<byte[]> parts = new ArrayList<>(fitting.size());
        for (int i = 0; i < fitting.size(); i++) {
            parts.add(encode(envelope.part(i + 1, fitting.size(), fitting.get(i))));
        }
        return parts;
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
