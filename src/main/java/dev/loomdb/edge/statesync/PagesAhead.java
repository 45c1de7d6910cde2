package dev.loomdb.edge.statesync;

import dev.loomdb.edge.flow.Change;
import dev.loomdb.edge.flow.TypeSet;
import io.vertx.core.Future;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * The next page of each transfer this node serves, read before it is asked for (one per transfer,
 * at most {@link #MAX} transfers: a page is about a megabyte). A page waiting longer than the
 * state-sync timeout is dropped: its asker has given up, or went on elsewhere.
 */
final class PagesAhead {

    /** One asker's transfer of one kind: the pages it asks for follow one another. */
    record Transfer(String peer, Change.Kind kind, int limit, TypeSet types) {}

    private record Ahead(String after, Future<StateServer.PageAnswer> page, long readAt) {}

    static final int MAX = 8;

    private final Map<Transfer, Ahead> pages = new LinkedHashMap<>();
    private final long keepMillis;
    private final LongSupplier clock;

    PagesAhead(long keepMillis) {
        this(keepMillis, System::currentTimeMillis);
    }

    PagesAhead(long keepMillis, LongSupplier clock) {
        this.keepMillis = keepMillis;
        this.clock = clock;
    }

    /**
     * The page after {@code after} of the transfer: the one read ahead when it is that page (read
     * again if reading it failed), else {@code read}'s.
     */
    synchronized Future<StateServer.PageAnswer> take(
            Transfer transfer, String after, Supplier<Future<StateServer.PageAnswer>> read) {
        Ahead ahead = pages.remove(transfer);
        if (ahead == null || !Objects.equals(ahead.after(), after) || expired(ahead)) {
            return read.get();
        }
        return ahead.page().recover(e -> read.get());
    }

    /** Keeps the page after {@code after} of the transfer, being read, for its request. */
    synchronized void put(Transfer transfer, String after, Future<StateServer.PageAnswer> page) {
        pages.remove(transfer);
        pages.put(transfer, new Ahead(after, page, clock.getAsLong()));
        Iterator<Ahead> oldest = pages.values().iterator();
        while (oldest.hasNext()) {
            Ahead next = oldest.next();
            if (pages.size() > MAX || expired(next)) {
                oldest.remove();
            }
        }
    }

    synchronized int size() {
        return pages.size();
    }

    private boolean expired(Ahead ahead) {
        return clock.getAsLong() - ahead.readAt() > keepMillis;
    }
}
