package dev.loomdb.edge.flow;

/**
 * The state of one node or edge after a write: what travels from capture to the mesh and from
 * the mesh into a peer's graph. A delete is a tombstone: {@code tombstone} set, no properties.
 *
 * @param op what the write did: insert, update or delete
 * @param kind node or edge
 * @param properties the properties as a JSON object, in text
 * @param source the edge's source node id, null for a node
 * @param target the edge's target node id, null for a node
 * @param hlc the hybrid logical clock of the write
 * @param version how many writes this row has seen
 * @param origin the id of the node that made the write
 * @param propertyClocks for each property name the row has had, [hlc, origin] of the write that last set or
 *     removed it, as a JSON object in text (used by the merge strategy); a property without an entry has
 *     the change's own [hlc, origin] (a local insert has no entries at all)
 * @param baseHlc the clock of the state this write replaced (0 for a new row): two states are concurrent
 *     when neither was based on the other
 */
public record Change(
        Op op,
        Kind kind,
        String id,
        String type,
        String properties,
        String source,
        String target,
        Hlc hlc,
        long version,
        String origin,
        boolean tombstone,
        String propertyClocks,
        Hlc baseHlc) {

    /** A change whose every property has the change's own clock, without a base. */
    public Change(
            Op op,
            Kind kind,
            String id,
            String type,
            String properties,
            String source,
            String target,
            long hlc,
            long version,
            String origin,
            boolean tombstone) {
        this(op, kind, id, type, properties, source, target, new Hlc(hlc), version, origin, tombstone, "{}", Hlc.ZERO);
    }

    /** A change without a base. */
    public Change(
            Op op,
            Kind kind,
            String id,
            String type,
            String properties,
            String source,
            String target,
            long hlc,
            long version,
            String origin,
            boolean tombstone,
            String propertyClocks) {
        this(
                op,
                kind,
                id,
                type,
                properties,
                source,
                target,
                new Hlc(hlc),
                version,
                origin,
                tombstone,
                propertyClocks,
                Hlc.ZERO);
    }

    public enum Op {
        INSERT,
        UPDATE,
        DELETE;

        public String wireName() {
            return name().toLowerCase();
        }
    }

    public enum Kind {
        NODE,
        EDGE;

        public String wireName() {
            return name().toLowerCase();
        }
    }
}
