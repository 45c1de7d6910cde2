package dev.loomdb.edge.apply;

import dev.loomdb.edge.flow.Change;
import java.util.List;

/**
 * What applying one envelope did.
 *
 * @param effective the changes that changed a row here (won, or merged into it)
 * @param superseded how many changes lost to the state already here (older, duplicates)
 * @param conflicts the changes kept aside as conflicts (auto-resolve off), with their conflict ids
 */
public record Applied(List<Change> effective, int superseded, List<Conflict> conflicts) {

    /** A change that was concurrent with the local state, kept in {@code loom.conflicts} under {@code id}. */
    public record Conflict(long id, Change change) {}
}
