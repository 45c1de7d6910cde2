package dev.loomdb.edge.history;

import java.time.Instant;

/**
 * One change as the history keeps it.
 *
 * @param seq the entry's number, increasing (use it as {@code since} to page)
 * @param direction {@code local} (written here, published) or {@code remote} (applied from a peer)
 * @param peer the node that wrote the change
 * @param change the change in its wire form (JSON text)
 */
public record HistoryEntry(
        long seq, Instant recordedAt, String direction, String peer, Instant commitTime, String change) {}
