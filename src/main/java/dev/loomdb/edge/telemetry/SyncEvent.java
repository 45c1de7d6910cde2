package dev.loomdb.edge.telemetry;

import dev.loomdb.edge.flow.Change;
import java.time.Instant;

/**
 * Something that happened to this node's sync, as users see it: on {@code GET /api/sync/events}
 * (Server-Sent Events) and, for code running in the node, as a CDI event ({@code @ObservesAsync
 * SyncEvent}) or a Mutiny stream ({@link SyncEvents#stream()}).
 *
 * @param kind what happened
 * @param at when this node saw it
 * @param peer the other node involved (the origin of a remote change, the peer whose breaker moved), or null
 * @param change the node or edge state concerned, or null
 * @param commitTime when the change's source transaction committed (for a debounce window, its first
 *     transaction), or null
 * @param appliedTime when the change was committed here (remote changes), or null
 * @param detail a sentence for people (the error, the conflict id), or null
 */
public record SyncEvent(
        Kind kind, Instant at, String peer, Change change, Instant commitTime, Instant appliedTime, String detail) {

    public static SyncEvent of(Kind kind, String peer, String detail) {
        return new SyncEvent(kind, Instant.now(), peer, null, null, null, detail);
    }

    /** The node or edge type the event is about, or null. */
    public String entityType() {
        return change == null ? null : change.type();
    }

    /**
     * The seed's event names, plus local-change, circuit-open/closed, sync-started/stopped, the
     * bootstrap's and sync-repaired (a round of anti-entropy found and mended a difference).
     */
    public enum Kind {
        REMOTE_CHANGE("remote-change"),
        LOCAL_CHANGE("local-change"),
        SYNC_CONNECTED("sync-connected"),
        SYNC_DISCONNECTED("sync-disconnected"),
        SYNC_ERROR("sync-error"),
        CONFLICT_DETECTED("conflict-detected"),
        CIRCUIT_OPEN("circuit-open"),
        CIRCUIT_CLOSED("circuit-closed"),
        SYNC_STARTED("sync-started"),
        SYNC_STOPPED("sync-stopped"),
        BOOTSTRAP_STARTED("bootstrap-started"),
        BOOTSTRAP_PROGRESS("bootstrap-progress"),
        BOOTSTRAP_COMPLETED("bootstrap-completed"),
        SYNC_REPAIRED("sync-repaired");

        private final String wireName;

        Kind(String wireName) {
            this.wireName = wireName;
        }

        public String wireName() {
            return wireName;
        }

        /** The kind with this wire name, or null. */
        public static Kind fromWireName(String name) {
            for (Kind kind : values()) {
                if (kind.wireName.equals(name)) {
                    return kind;
                }
            }
            return null;
        }
    }
}
