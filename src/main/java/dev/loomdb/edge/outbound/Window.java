package dev.loomdb.edge.outbound;

import dev.loomdb.edge.flow.CapturedTransaction;
import dev.loomdb.edge.flow.Change;
import java.util.List;

/**
 * Whole source transactions gathered in one debounce window, and their changes folded to the last
 * state of each node or edge: what goes out as one envelope and is applied as one transaction.
 *
 * @param coalesced how many changes folding removed
 */
public record Window(List<CapturedTransaction> transactions, List<Change> changes, int coalesced) {

    public CapturedTransaction last() {
        return transactions.get(transactions.size() - 1);
    }
}
