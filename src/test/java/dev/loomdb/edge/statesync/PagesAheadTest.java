package dev.loomdb.edge.statesync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.loomdb.edge.flow.Change;
import dev.loomdb.edge.flow.TypeSet;
import io.vertx.core.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/** The page a transfer asks for next is served from what was read ahead, and only that page. */
class PagesAheadTest {

    private final AtomicLong now = new AtomicLong(1_000_000);
    private final PagesAhead ahead = new PagesAhead(30_000, now::get);
    private final AtomicInteger reads = new AtomicInteger();

    private static StateServer.PageAnswer page(String last) {
        return new StateServer.PageAnswer(1, true, last, new byte[] {1});
    }

    private Supplier<Future<StateServer.PageAnswer>> read(String last) {
        return () -> {
            reads.incrementAndGet();
            return Future.succeededFuture(page(last));
        };
    }

    private static PagesAhead.Transfer transfer(String peer, Change.Kind kind) {
        return new PagesAhead.Transfer(peer, kind, 5000, TypeSet.ALL);
    }

    @Test
    void theNextPageOfATransferIsTheOneReadAheadAndIsTakenOnce() {
        StateServer.PageAnswer next = page("n200");
        ahead.put(transfer("b", Change.Kind.NODE), "n100", Future.succeededFuture(next));

        assertSame(
                next,
                ahead.take(transfer("b", Change.Kind.NODE), "n100", read("x")).result());
        assertEquals(0, reads.get(), "the page read ahead is served without reading it again");
        assertEquals(
                "x",
                ahead.take(transfer("b", Change.Kind.NODE), "n100", read("x"))
                        .result()
                        .last());
        assertEquals(1, reads.get(), "a page read ahead is served once");
    }

    @Test
    void anotherPositionAnotherPeerOrAnotherKindReadsThePage() {
        ahead.put(transfer("b", Change.Kind.NODE), "n100", Future.succeededFuture(page("n200")));
        ahead.take(transfer("c", Change.Kind.NODE), "n100", read("c"));
        ahead.take(transfer("b", Change.Kind.EDGE), "n100", read("e"));
        assertEquals(2, reads.get());
        assertEquals(1, ahead.size(), "another transfer's request leaves this one's page");

        assertEquals(
                "r",
                ahead.take(transfer("b", Change.Kind.NODE), "n050", read("r"))
                        .result()
                        .last());
        assertEquals(3, reads.get(), "a request from elsewhere than the page read ahead reads its own");
        assertEquals(0, ahead.size());
    }

    @Test
    void aPageReadAheadThatFailedOrWaitedPastTheTimeoutIsReadAgain() {
        ahead.put(transfer("b", Change.Kind.NODE), "n100", Future.failedFuture("connection lost"));
        assertEquals(
                "again",
                ahead.take(transfer("b", Change.Kind.NODE), "n100", read("again"))
                        .result()
                        .last());

        ahead.put(transfer("b", Change.Kind.NODE), "n200", Future.succeededFuture(page("old")));
        now.addAndGet(30_001);
        assertEquals(
                "fresh",
                ahead.take(transfer("b", Change.Kind.NODE), "n200", read("fresh"))
                        .result()
                        .last());
        assertEquals(2, reads.get());
    }

    @Test
    void atMostMaxTransfersKeepAPageTheOldestGoFirst() {
        for (int i = 0; i < PagesAhead.MAX + 3; i++) {
            ahead.put(transfer("peer" + i, Change.Kind.NODE), "a", Future.succeededFuture(page("p" + i)));
        }
        assertEquals(PagesAhead.MAX, ahead.size());
        ahead.take(transfer("peer0", Change.Kind.NODE), "a", read("gone"));
        assertEquals(1, reads.get(), "the oldest transfer's page was dropped");
        String last = ahead.take(transfer("peer" + (PagesAhead.MAX + 2), Change.Kind.NODE), "a", read("x"))
                .result()
                .last();
        assertEquals("p" + (PagesAhead.MAX + 2), last);
    }
}
