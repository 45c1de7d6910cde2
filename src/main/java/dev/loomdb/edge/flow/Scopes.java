package dev.loomdb.edge.flow;

/**
 * What a node takes from the mesh and what it gives: {@code follows} from {@code loom.sync.node-types}
 * and {@code loom.sync.edge-types}, {@code publishes} from {@code loom.sync.publish.*}.
 */
public record Scopes(Scope follows, Scope publishes) {

    public static final Scopes ALL = new Scopes(Scope.ALL, Scope.ALL);

    /**
     * The part of the graph two nodes keep the same by anti-entropy: what both follow and both publish
     * (a type one of them keeps to itself, or does not receive, differs between them by design).
     */
    public Scope sharedWith(Scope peerFollows, Scope peerPublishes) {
        return follows.intersect(publishes).intersect(peerFollows).intersect(peerPublishes);
    }
}
