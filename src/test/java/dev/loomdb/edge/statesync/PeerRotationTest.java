package dev.loomdb.edge.statesync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** A mesh of many nodes: each round costs n comparisons, and every pair meets within n - 1 rounds. */
class PeerRotationTest {

    private static List<String> mesh(int n) {
        return IntStream.range(0, n).mapToObj(i -> "node-" + i).toList();
    }

    @Test
    void inEveryRoundEachOfAThousandNodesAsksOnePeerAndAnswersExactlyOne() {
        List<String> nodes = mesh(1000);
        for (long round = 0; round < 50; round++) {
            Map<String, Integer> answered = new HashMap<>();
            for (String self : nodes) {
                String peer = PeerRotation.choose(self, nodes, round).orElseThrow();
                assertTrue(!peer.equals(self), "a node never asks itself");
                answered.merge(peer, 1, Integer::sum);
            }
            assertEquals(1000, answered.size(), "every node answers in round " + round);
            assertEquals(Set.of(1), new HashSet<>(answered.values()), "nobody answers twice in round " + round);
        }
    }

    @Test
    void everyPairComparesWithinNMinusOneRounds() {
        List<String> nodes = mesh(40);
        Set<String> pairs = new HashSet<>();
        for (long round = 0; round < 39; round++) {
            for (String self : nodes) {
                String peer = PeerRotation.choose(self, nodes, round).orElseThrow();
                pairs.add(self.compareTo(peer) < 0 ? self + "|" + peer : peer + "|" + self);
            }
        }
        assertEquals(40 * 39 / 2, pairs.size());
    }

    @Test
    void aNodeAloneHasNobodyToAskAndTheListMayIncludeItself() {
        assertEquals(Optional.empty(), PeerRotation.choose("a", List.of(), 3));
        assertEquals(Optional.empty(), PeerRotation.choose("a", List.of("a"), 3));
        assertEquals(Optional.of("b"), PeerRotation.choose("a", List.of("b"), 7));
        Set<String> peersOfA = IntStream.range(0, 4)
                .mapToObj(
                        r -> PeerRotation.choose("a", List.of("b", "c", "d"), r).orElseThrow())
                .collect(Collectors.toSet());
        assertEquals(Set.of("b", "c", "d"), peersOfA);
    }
}
