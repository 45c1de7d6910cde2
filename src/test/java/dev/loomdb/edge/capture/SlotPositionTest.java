package dev.loomdb.edge.capture;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.loomdb.edge.flow.Lsn;
import org.junit.jupiter.api.Test;

class SlotPositionTest {

    @Test
    void theLagsAgeIsTheOldestUnacknowledgedCommit() {
        SlotPosition position = new SlotPosition();
        java.time.Instant t1 = java.time.Instant.parse("2026-11-24T10:00:00Z");
        java.time.Instant t2 = t1.plusSeconds(5);
        position.register(new Lsn(10), t1);
        position.register(new Lsn(20), t2);
        assertEquals(java.util.Optional.of(t1), position.oldestPendingCommit());
        position.acknowledge(new Lsn(10));
        assertEquals(java.util.Optional.of(t2), position.oldestPendingCommit());
        position.acknowledge(new Lsn(20));
        assertEquals(java.util.Optional.empty(), position.oldestPendingCommit());
    }

    @Test
    void confirmsOnlyAContiguousAcknowledgedPrefix() {
        SlotPosition position = new SlotPosition();
        position.register(new Lsn(10));
        position.register(new Lsn(20));
        position.register(new Lsn(30));

        position.acknowledge(new Lsn(20));
        position.acknowledge(new Lsn(30));
        assertEquals(Lsn.ZERO, position.confirmable(), "the first transaction is not acknowledged yet");

        position.acknowledge(new Lsn(10));
        assertEquals(new Lsn(30), position.confirmable());
        assertEquals(0, position.pendingCount());
    }

    @Test
    void idleStreamMovesOnlyWhenNothingIsPending() {
        SlotPosition position = new SlotPosition();
        position.register(new Lsn(10));
        position.idleAt(new Lsn(50));
        assertEquals(Lsn.ZERO, position.confirmable());

        position.acknowledge(new Lsn(10));
        position.idleAt(new Lsn(50));
        assertEquals(new Lsn(50), position.confirmable());
        assertEquals(new Lsn(10), position.transactionsConfirmable(), "idle moves are not transactions");
    }

    @Test
    void neverMovesBackwards() {
        SlotPosition position = new SlotPosition();
        position.idleAt(new Lsn(50));
        position.register(new Lsn(40));
        position.acknowledge(new Lsn(40));
        assertEquals(new Lsn(50), position.confirmable());
    }
}
