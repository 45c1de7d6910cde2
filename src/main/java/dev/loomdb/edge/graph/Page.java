package dev.loomdb.edge.graph;

import java.util.List;

/** One page of a listing; {@code next} is the {@code after} value of the next page, null on the last. */
public record Page<T>(List<T> items, String next) {}
