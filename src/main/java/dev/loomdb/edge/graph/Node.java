package dev.loomdb.edge.graph;

import dev.loomdb.edge.flow.Hlc;

/** A node of the graph as stored, with its sync metadata; {@code properties} is a JSON object in text. */
public record Node(String id, String type, String properties, long version, Hlc hlc, String origin) {}
