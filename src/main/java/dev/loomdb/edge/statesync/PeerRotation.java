package dev.loomdb.edge.statesync;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeSet;

/**
 * Which peer a node compares its state with in a round of anti-entropy: one peer per round, never
 * all of them. The nodes of the mesh (this one and the peers online) are sorted by id; in round
 * {@code r} the node at place {@code i} takes the node at place {@code (i + 1 + r mod (n - 1)) mod n}.
 * For a given round this maps places one to one, so when nodes agree on the membership each node
 * starts one comparison and answers exactly one: a round costs the mesh O(n), and after n - 1
 * rounds every node has compared with every other.
 */
public final class PeerRotation {

    private PeerRotation() {}

    public static Optional<String> choose(String self, java.util.Collection<String> online, long round) {
        TreeSet<String> members = new TreeSet<>(online);
        members.add(self);
        if (members.size() < 2) {
            return Optional.empty();
        }
        List<String> sorted = new ArrayList<>(members);
        int n = sorted.size();
        int i = sorted.indexOf(self);
        int step = 1 + (int) Math.floorMod(round, (long) (n - 1));
        return Optional.of(sorted.get((i + step) % n));
    }
}
