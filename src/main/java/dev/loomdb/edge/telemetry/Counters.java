package dev.loomdb.edge.telemetry;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The node's running totals (shown by {@code /api/sync/status}, exported as {@code loom_*} metrics
 * and saved in {@code loom.sync_counters}, so that they continue across restarts).
 */
@jakarta.inject.Singleton
public final class Counters {

    public static final String CAPTURED = "captured";
    public static final String SKIPPED_FOR_PEERS = "skippedForPeers";
    public static final String PUBLISHED = "published";
    public static final String PUBLISHED_CHANGES = "publishedChanges";
    public static final String PUBLISHED_BYTES = "publishedBytes";
    public static final String COALESCED = "coalesced";
    public static final String RECEIVED = "received";
    public static final String RECEIVED_BYTES = "receivedBytes";
    public static final String APPLIED = "applied";
    public static final String APPLIED_CHANGES = "appliedChanges";
    /** Local transactions that applied peers' messages: fewer than {@link #APPLIED} when a backlog was applied in groups. */
    public static final String APPLY_TRANSACTIONS = "applyTransactions";
    /** Synchronous commits that put applied messages on disk before their acknowledgements (loom.apply.flush-interval). */
    public static final String APPLY_FLUSHES = "applyFlushes";

    public static final String SUPERSEDED = "superseded";
    public static final String CONFLICTS = "conflicts";
    public static final String REJECTED = "rejected";
    public static final String PARKED = "parked";
    /** Messages of rows received through state sync (bootstrap, anti-entropy), and their bytes. */
    public static final String REPAIR_RECEIVED = "repairReceived";

    public static final String REPAIR_RECEIVED_BYTES = "repairReceivedBytes";
    /** Rows that state sync changed here (they were missing or older). */
    public static final String REPAIRED_CHANGES = "repairedChanges";
    /** Rows this node sent to peers through state sync. */
    public static final String REPAIR_SENT_CHANGES = "repairSentChanges";
    /** The highest clock of this node's own changes the broker has acknowledged (what a lost slot republishes after). */
    public static final String LAST_PUBLISHED_HLC = "lastPublishedHlc";
    /** Tombstones purged past the retention. */
    public static final String PURGED = "purged";
    /** Rejected messages dropped from loom.rejected_messages to keep it within loom.sync.rejected-max. */
    public static final String REJECTED_DROPPED = "rejectedDropped";

    private final Map<String, AtomicLong> values = new ConcurrentHashMap<>();

    public Counters() {
        for (String name : new String[] {
            CAPTURED,
            SKIPPED_FOR_PEERS,
            PUBLISHED,
            PUBLISHED_CHANGES,
            PUBLISHED_BYTES,
            COALESCED,
            RECEIVED,
            RECEIVED_BYTES,
            APPLIED,
            APPLIED_CHANGES,
            APPLY_TRANSACTIONS,
            APPLY_FLUSHES,
            SUPERSEDED,
            CONFLICTS,
            REJECTED,
            PARKED,
            REPAIR_RECEIVED,
            REPAIR_RECEIVED_BYTES,
            REPAIRED_CHANGES,
            REPAIR_SENT_CHANGES,
            PURGED,
            REJECTED_DROPPED,
            LAST_PUBLISHED_HLC
        }) {
            values.put(name, new AtomicLong());
        }
    }

    public void add(String name, long delta) {
        counter(name).addAndGet(delta);
    }

    public void increment(String name) {
        counter(name).incrementAndGet();
    }

    public long get(String name) {
        AtomicLong value = values.get(name);
        return value == null ? 0 : value.get();
    }

    /** The live counter, for metrics that read it at each scrape. */
    public AtomicLong counter(String name) {
        return values.computeIfAbsent(name, n -> new AtomicLong());
    }

    /** Continues from saved totals (at start, before anything counts). */
    public void restore(Map<String, Long> saved) {
        saved.forEach((name, value) -> counter(name).set(value));
    }

    /** All totals, by name. */
    public Map<String, Long> snapshot() {
        Map<String, Long> copy = new TreeMap<>();
        values.forEach((name, value) -> copy.put(name, value.get()));
        return copy;
    }
}
