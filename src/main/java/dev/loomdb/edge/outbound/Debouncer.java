package dev.loomdb.edge.outbound;

import dev.loomdb.edge.flow.CapturedTransaction;
import dev.loomdb.edge.flow.Change;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * The debounce window (the seed's debounceMs): gathers whole transactions for at most
 * {@code window} after the first one arrives, and folds the changes to each node or edge into its
 * last state, so that a burst of updates costs one change on the wire. A window also closes early
 * when it holds {@code maxChanges} changes or about {@code maxBytes} bytes of them. A zero window
 * passes every transaction on alone.
 *
 * <p>Folding keeps existence: the folded change carries the final row (a tombstone when the last
 * write deleted it), and says {@code insert} when the window created the row, {@code delete} when
 * it ended deleted. Pure logic: the caller supplies the time.
 */
public final class Debouncer {

    private record Key(Change.Kind kind, String id) {}

    private final long windowNanos;
    private final int maxChanges;
    private final long maxBytes;

    private final List<CapturedTransaction> transactions = new ArrayList<>();
    private final Map<Key, Change> latest = new LinkedHashMap<>();
    private int changes;
    private long bytes;
    private long openedAt;

    public Debouncer(Duration window, int maxChanges, long maxBytes) {
        this.windowNanos = window.toNanos();
        this.maxChanges = maxChanges;
        this.maxBytes = maxBytes;
    }

    /** Adds a transaction; returns the windows that must go out now (the bound was reached). */
    public List<Window> add(CapturedTransaction transaction, long nowNanos) {
        List<Window> ready = new ArrayList<>(1);
        long size = estimatedBytes(transaction);
        if (!transactions.isEmpty()
                && (changes + transaction.changes().size() > maxChanges || bytes + size > maxBytes)) {
            ready.add(close());
        }
        if (transactions.isEmpty()) {
            openedAt = nowNanos;
        }
        transactions.add(transaction);
        for (Change change : transaction.changes()) {
            Key key = new Key(change.kind(), change.id());
            Change previous = latest.remove(key);
            latest.put(key, previous == null ? change : fold(previous, change));
        }
        changes += transaction.changes().size();
        bytes += size;
        if (windowNanos <= 0 || changes >= maxChanges || bytes >= maxBytes) {
            ready.add(close());
        }
        return ready;
    }

    /** The open window, if its time is up. */
    public Optional<Window> due(long nowNanos) {
        if (!transactions.isEmpty() && nowNanos - openedAt >= windowNanos) {
            return Optional.of(close());
        }
        return Optional.empty();
    }

    /** When the open window is due (in {@code System.nanoTime()} terms), if one is open. */
    public OptionalLong deadline() {
        return transactions.isEmpty() ? OptionalLong.empty() : OptionalLong.of(openedAt + windowNanos);
    }

    /** The open window whatever its time (shutdown). */
    public Optional<Window> flush() {
        return transactions.isEmpty() ? Optional.empty() : Optional.of(close());
    }

    public boolean isEmpty() {
        return transactions.isEmpty();
    }

    private Window close() {
        Window window = new Window(List.copyOf(transactions), List.copyOf(latest.values()), changes - latest.size());
        transactions.clear();
        latest.clear();
        changes = 0;
        bytes = 0;
        return window;
    }

    /**
     * The later state, saying insert if the earlier one created the row and it still exists, and based on
     * what the earlier one was based on: the states in between never left this node.
     */
    static Change fold(Change earlier, Change later) {
        Change.Op op = later.op();
        if (earlier.op() == Change.Op.INSERT && !later.tombstone()) {
            op = Change.Op.INSERT;
        }
        return new Change(
                op,
                later.kind(),
                later.id(),
                later.type(),
                later.properties(),
                later.source(),
                later.target(),
                later.hlc(),
                later.version(),
                later.origin(),
                later.tombstone(),
                later.propertyClocks(),
                earlier.baseHlc());
    }

    private static long estimatedBytes(CapturedTransaction transaction) {
        long size = 0;
        for (Change change : transaction.changes()) {
            size += 160
                    + change.id().length()
                    + change.type().length()
                    + change.properties().length();
        }
        return size;
    }
}
