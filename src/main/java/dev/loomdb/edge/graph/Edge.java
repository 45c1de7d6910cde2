package dev.loomdb.edge.graph;

import dev.loomdb.edge.flow.Hlc;

/** An edge of the graph as stored, with its sync metadata; {@code properties} is a JSON object in text. */
public record Edge(
        String id,
        String type,
        String source,
        String target,
        String properties,
        long version,
        Hlc hlc,
        String origin) {}
