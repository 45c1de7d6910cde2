package dev.loomdb.edge.apply;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.vertx.core.Context;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A message is acknowledged to the broker only after a flush that began after it was applied has
 * succeeded; the flush comes after the interval, or at once when {@link AcksAfterFlush#MAX_HELD} wait.
 * A message that wrote nothing needs no flush, but keeps its place in the broker's order.
 */
class AcksAfterFlushTest {

    private final Vertx vertx = Vertx.vertx();
    private final Context context = vertx.getOrCreateContext();
    private final List<Promise<Void>> flushes = new CopyOnWriteArrayList<>();
    private final List<Integer> acked = new CopyOnWriteArrayList<>();
    private final AtomicInteger flushed = new AtomicInteger();

    @AfterEach
    void close() {
        vertx.close();
    }

    private AcksAfterFlush gate(Duration interval) {
        return new AcksAfterFlush(
                vertx,
                context,
                interval,
                () -> {
                    Promise<Void> flush = Promise.promise();
                    flushes.add(flush);
                    return flush.future();
                },
                flushed::incrementAndGet);
    }

    private void addOnContext(AcksAfterFlush gate, int... acks) {
        context.runOnContext(v -> {
            for (int ack : acks) {
                gate.add(() -> acked.add(ack));
            }
        });
    }

    private void addUnwrittenOnContext(AcksAfterFlush gate, int... acks) {
        context.runOnContext(v -> {
            for (int ack : acks) {
                gate.add(() -> acked.add(ack), false);
            }
        });
    }

    @Test
    void messagesThatWroteNothingAreAcknowledgedWithoutAFlush() {
        AcksAfterFlush gate = gate(Duration.ofMillis(5));
        addUnwrittenOnContext(gate, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10);
        await().atMost(Duration.ofSeconds(5)).until(() -> acked.size() == 10);
        await().during(Duration.ofMillis(100)).atMost(Duration.ofSeconds(5)).until(flushes::isEmpty);
        assertEquals(0, flushed.get());
    }

    @Test
    void aMessageThatWroteNothingKeepsItsPlaceBehindOnesWaitingForAFlush() {
        AcksAfterFlush gate = gate(Duration.ofMillis(20));
        addOnContext(gate, 1);
        addUnwrittenOnContext(gate, 2);
        await().atMost(Duration.ofSeconds(5)).until(() -> flushes.size() == 1);
        addUnwrittenOnContext(gate, 3); // arrives while the flush is under way: it waits behind it
        await().during(Duration.ofMillis(100)).atMost(Duration.ofSeconds(5)).until(acked::isEmpty);
        context.runOnContext(v -> flushes.get(0).complete());
        await().atMost(Duration.ofSeconds(5)).until(() -> acked.size() == 3);
        assertEquals(List.of(1, 2, 3), acked, "in the order the broker sent them");
        await().during(Duration.ofMillis(100)).atMost(Duration.ofSeconds(5)).until(() -> flushes.size() == 1);
        assertEquals(1, flushed.get(), "the third needed no flush of its own");
    }

    @Test
    void acknowledgementsWaitForTheFlushThatFollowsThem() {
        AcksAfterFlush gate = gate(Duration.ofMillis(20));
        addOnContext(gate, 1, 2, 3);
        await().atMost(Duration.ofSeconds(5)).until(() -> flushes.size() == 1);
        assertEquals(List.of(), acked, "nothing acknowledged while the flush is under way");
        addOnContext(gate, 4); // applied after the flush began: it waits for the next one
        context.runOnContext(v -> flushes.get(0).complete());
        await().atMost(Duration.ofSeconds(5)).until(() -> acked.size() == 3);
        assertEquals(List.of(1, 2, 3), acked);
        await().atMost(Duration.ofSeconds(5)).until(() -> flushes.size() == 2);
        assertEquals(List.of(1, 2, 3), acked, "the fourth waits for its own flush");
        context.runOnContext(v -> flushes.get(1).complete());
        await().atMost(Duration.ofSeconds(5)).until(() -> acked.size() == 4);
        assertEquals(2, flushed.get());
    }

    @Test
    void aFullBatchIsFlushedWithoutWaitingForTheInterval() {
        AcksAfterFlush gate = gate(Duration.ofHours(1));
        int[] first = new int[AcksAfterFlush.MAX_HELD - 1];
        for (int i = 0; i < first.length; i++) {
            first[i] = i;
        }
        addOnContext(gate, first);
        await().during(Duration.ofMillis(200)).atMost(Duration.ofSeconds(5)).until(flushes::isEmpty);
        addOnContext(gate, 99);
        await().atMost(Duration.ofSeconds(5)).until(() -> flushes.size() == 1);
        context.runOnContext(v -> flushes.get(0).complete());
        await().atMost(Duration.ofSeconds(5)).until(() -> acked.size() == AcksAfterFlush.MAX_HELD);
    }

    @Test
    void afterAFailedFlushNothingIsAcknowledgedUntilOneSucceeds() {
        AcksAfterFlush gate = gate(Duration.ofMillis(10));
        addOnContext(gate, 1, 2);
        await().atMost(Duration.ofSeconds(5)).until(() -> flushes.size() == 1);
        context.runOnContext(v -> flushes.get(0).fail("the database is gone"));
        await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(5)).until(acked::isEmpty);
        await().atMost(Duration.ofSeconds(5)).until(() -> flushes.size() == 2); // tried again
        context.runOnContext(v -> flushes.get(1).complete());
        await().atMost(Duration.ofSeconds(5)).until(() -> acked.size() == 2);
        assertEquals(1, flushed.get(), "only the flush that succeeded counts");
    }

    @Test
    void withNoIntervalEachAcknowledgementGoesOutAtOnce() {
        AcksAfterFlush gate = gate(Duration.ZERO);
        addOnContext(gate, 1);
        await().atMost(Duration.ofSeconds(5)).until(() -> acked.size() == 1);
        assertEquals(0, flushes.size(), "no flush: the apply session commits synchronously");
    }
}
