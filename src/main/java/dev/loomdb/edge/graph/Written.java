package dev.loomdb.edge.graph;

/** The result of a PUT: the stored value, and whether it did not exist before (201) or was replaced (200). */
public record Written<T>(T value, boolean created) {}
