package dev.loomdb.edge.merge;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class LastWriteWinsTest {

    @Test
    void laterClockWins() {
        assertTrue(LastWriteWins.incomingWins(10, "z", 11, "a"));
        assertFalse(LastWriteWins.incomingWins(11, "a", 10, "z"));
    }

    @Test
    void equalClocksAreDecidedByNodeIdTheSameWayEverywhere() {
        assertTrue(LastWriteWins.incomingWins(10, "node-a", 10, "node-b"));
        assertFalse(LastWriteWins.incomingWins(10, "node-b", 10, "node-a"));
    }

    @Test
    void theSameStateChangesNothing() {
        assertFalse(LastWriteWins.incomingWins(10, "node-a", 10, "node-a"));
    }
}
