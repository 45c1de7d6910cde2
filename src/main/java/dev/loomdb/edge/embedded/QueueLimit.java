package dev.loomdb.edge.embedded;

/**
 * The most the embedded broker keeps queued (sent or not) for one client's session: messages and payload bytes
 * ({@code loom.embedded.broker.max-queued} and {@code max-queued-bytes}). Beyond either, the oldest not yet sent
 * make room.
 */
public record QueueLimit(int messages, long bytes) {
    public QueueLimit {
        if (messages < 1) {
            throw new EmbeddedStartException("loom.embedded.broker.max-queued is " + messages + "; it is at least 1");
        }
        if (bytes < 1) {
            throw new EmbeddedStartException(
                    "loom.embedded.broker.max-queued-bytes is " + bytes + "; it is at least 1");
        }
    }

    /** Whether a queue of {@code count} messages and {@code size} bytes is past the limit. */
    boolean exceededBy(int count, long size) {
        return count > messages || size > bytes;
    }

    /** Whether a queue is below half the limit in both respects (an overflow is over). */
    boolean wellBelow(int count, long size) {
        return count < messages / 2 && size < bytes / 2;
    }
}
