package dev.loomdb.edge.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loomdb.edge.merge.MergeRule.Strategy;
import java.util.Map;
import org.junit.jupiter.api.Test;

class MergeRuleTest {

    private final MergeRule mixed =
            new MergeRule(Strategy.LAST_WRITE_WINS, Map.of("COUNTER", Strategy.HIGHEST_VERSION));

    @Test
    void highestVersionPrefersTheMoreEditedStateOverALaterClock() {
        assertTrue(mixed.incomingWins("COUNTER", 3, 100, "a", "COUNTER", 5, 50, "b"));
        assertFalse(mixed.incomingWins("COUNTER", 5, 50, "b", "COUNTER", 3, 100, "a"));
    }

    @Test
    void otherTypesKeepTheMeshStrategy() {
        assertFalse(mixed.incomingWins("AGENT", 3, 100, "a", "AGENT", 5, 50, "b"));
    }

    @Test
    void aChangeOfTypeIsDecidedTheSameWayFromBothSides() {
        boolean oneWay = mixed.incomingWins("COUNTER", 5, 50, "a", "AGENT", 3, 100, "b");
        boolean otherWay = mixed.incomingWins("AGENT", 3, 100, "b", "COUNTER", 5, 50, "a");
        assertTrue(oneWay != otherWay, "exactly one of the two states wins");
    }

    @Test
    void equalVersionsFallBackToTheClock() {
        assertTrue(mixed.incomingWins("COUNTER", 5, 50, "a", "COUNTER", 5, 51, "a"));
    }

    @Test
    void sqlConditionNamesTheOverriddenTypesQuoted() {
        String sql =
                new MergeRule(Strategy.LAST_WRITE_WINS, Map.of("O'Brien", Strategy.HIGHEST_VERSION)).sqlCondition();
        assertTrue(sql.contains("t.type IN ('O''Brien')"), sql);
        assertEquals(LastWriteWins.SQL_CONDITION, MergeRule.lastWriteWins().sqlCondition());
    }

    @Test
    void unknownStrategyNamesTheSetting() {
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> Strategy.parse("loom.conflict.strategy", "newest"));
        assertTrue(e.getMessage().contains("loom.conflict.strategy"));
    }
}
