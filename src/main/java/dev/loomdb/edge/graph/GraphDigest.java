package dev.loomdb.edge.graph;

/** A SHA-256 of the whole graph state, with the counts of live nodes, live edges and tombstones. */
public record GraphDigest(String sha256, long nodes, long edges, long tombstones) {}
