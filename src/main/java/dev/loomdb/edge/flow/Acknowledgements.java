package dev.loomdb.edge.flow;

/**
 * Where the outbound stage reports that a captured transaction is safe: published and acknowledged
 * by the broker, or needing no publication. Capture confirms a position to the replication slot only
 * once every transaction up to it has been reported here.
 */
public interface Acknowledgements {

    /** Everything in the transaction ending at this LSN is safe. */
    void acknowledge(Lsn endLsn);
}
