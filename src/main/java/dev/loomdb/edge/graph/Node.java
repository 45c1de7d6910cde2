package dev.loomdb.edge.graph;

/** A node of the graph as stored, with its sync metadata; {@code properties} is a JSON object in text. */
public record Node(String id, String type, String properties, long version, long hlc, String origin) {}
