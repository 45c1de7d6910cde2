package dev.loomdb.edge.apply;

import dev.loomdb.edge.flow.Change;
import io.vertx.sqlclient.Tuple;
import java.util.List;

/**
 * An envelope's node or edge states as the parallel arrays {@code loom.apply_nodes} and
 * {@code loom.apply_edges} take: one element per row, so that one statement applies them all.
 */
final class StateArrays {

    static final String APPLY_NODES = "SELECT * FROM loom.apply_nodes($1::text[], $2::text[], $3::text[],"
            + " $4::text[], $5::bigint[], $6::bigint[], $7::text[], $8::boolean[], $9::bigint[])";

    static final String APPLY_EDGES = "SELECT * FROM loom.apply_edges($1::text[], $2::text[], $3::text[],"
            + " $4::text[], $5::text[], $6::text[], $7::bigint[], $8::bigint[], $9::text[], $10::boolean[],"
            + " $11::bigint[])";

    /** As {@link #APPLY_NODES}, for rows mostly new (a peer's inserts, state sync): by a plain INSERT unless one is stored. */
    static final String APPLY_NEW_NODES = APPLY_NODES.replace("loom.apply_nodes(", "loom.apply_new_nodes(");

    /** As {@link #APPLY_EDGES}, for rows mostly new (a peer's inserts, state sync): by a plain INSERT unless one is stored. */
    static final String APPLY_NEW_EDGES = APPLY_EDGES.replace("loom.apply_edges(", "loom.apply_new_edges(");

    private StateArrays() {}

    static Tuple nodes(List<Change> changes) {
        int n = changes.size();
        String[] id = new String[n],
                type = new String[n],
                properties = new String[n],
                clocks = new String[n],
                origin = new String[n];
        Long[] hlc = new Long[n], version = new Long[n], base = new Long[n];
        Boolean[] tombstone = new Boolean[n];
        for (int i = 0; i < n; i++) {
            Change c = changes.get(i);
            id[i] = c.id();
            type[i] = c.type();
            properties[i] = c.properties();
            clocks[i] = c.propertyClocks();
            hlc[i] = c.hlc().value();
            version[i] = c.version();
            origin[i] = c.origin();
            tombstone[i] = c.tombstone();
            base[i] = c.baseHlc().value();
        }
        return Tuple.tuple(List.of(id, type, properties, clocks, hlc, version, origin, tombstone, base));
    }

    static Tuple edges(List<Change> changes) {
        int n = changes.size();
        String[] id = new String[n],
                type = new String[n],
                source = new String[n],
                target = new String[n],
                properties = new String[n],
                clocks = new String[n],
                origin = new String[n];
        Long[] hlc = new Long[n], version = new Long[n], base = new Long[n];
        Boolean[] tombstone = new Boolean[n];
        for (int i = 0; i < n; i++) {
            Change c = changes.get(i);
            id[i] = c.id();
            type[i] = c.type();
            source[i] = c.source();
            target[i] = c.target();
            properties[i] = c.properties();
            clocks[i] = c.propertyClocks();
            hlc[i] = c.hlc().value();
            version[i] = c.version();
            origin[i] = c.origin();
            tombstone[i] = c.tombstone();
            base[i] = c.baseHlc().value();
        }
        return Tuple.tuple(
                List.of(id, type, source, target, properties, clocks, hlc, version, origin, tombstone, base));
    }
}
