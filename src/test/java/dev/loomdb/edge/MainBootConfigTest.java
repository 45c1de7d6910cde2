package dev.loomdb.edge;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.loomdb.edge.config.LoomConfig;
import org.junit.jupiter.api.Test;

/**
 * The configuration Main reads before Quarkus starts (to start the embedded services) maps every key of
 * {@link LoomConfig} with that reader's converters alone: a type only Quarkus converts stops every node at start.
 */
class MainBootConfigTest {

    @Test
    void theBootConfigurationMapsEveryKeyWithItsDefault() {
        LoomConfig loom = Main.bootConfig().getConfigMapping(LoomConfig.class);
        assertEquals("loom", loom.embedded().broker().engine());
        assertEquals(64L << 20, loom.embedded().broker().maxQueuedBytes());
        assertEquals(100_000, loom.embedded().broker().maxQueued());
    }
}
