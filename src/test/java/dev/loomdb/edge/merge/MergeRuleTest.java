package dev.loomdb.edge.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loomdb.edge.merge.MergeRule.Strategy;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The choice of strategy; what it decides is tested on PostgreSQL's merge trigger (MergeLawsIT). */
class MergeRuleTest {

    @Test
    void strategiesAreReadAsTheyAreConfigured() {
        assertEquals(Strategy.HIGHEST_VERSION, Strategy.parse("loom.conflict.strategy", " Highest-Version "));
        assertEquals(Strategy.MERGE, Strategy.parse("loom.conflict.strategy", "merge"));
    }

    @Test
    void theSessionIsToldTheMeshStrategyAndEachTypesOwn() {
        MergeRule rule = new MergeRule(
                Strategy.LAST_WRITE_WINS, Map.of("O'Brien \"x\"", Strategy.HIGHEST_VERSION, "A", Strategy.MERGE));
        assertEquals("last-write-wins", rule.strategyName());
        assertEquals(Map.of("A", "merge", "O'Brien \"x\"", "highest-version"), rule.typeStrategyNames());
        assertEquals("last-write-wins (A=merge, O'Brien \"x\"=highest-version)", rule.toString());
    }

    @Test
    void unknownStrategyNamesTheSetting() {
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> Strategy.parse("loom.conflict.strategy", "newest"));
        assertTrue(e.getMessage().contains("loom.conflict.strategy"));
    }
}
