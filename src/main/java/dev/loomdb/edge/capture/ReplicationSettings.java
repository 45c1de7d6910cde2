package dev.loomdb.edge.capture;

import java.time.Duration;

/** Where and how the replication stream reads the graph's changes. */
public record ReplicationSettings(
        String jdbcUrl,
        String user,
        String password,
        String slot,
        String publication,
        String schema,
        Duration confirmInterval) {}
