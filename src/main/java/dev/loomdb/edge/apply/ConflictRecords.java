package dev.loomdb.edge.apply;

import dev.loomdb.edge.flow.Change;
import io.vertx.core.Future;
import io.vertx.pgclient.PgConnection;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowSet;
import io.vertx.sqlclient.Tuple;
import java.util.ArrayList;
import java.util.List;
import org.jboss.logging.Logger;

/**
 * With {@code loom.conflict.auto-resolve=false}: an incoming state concurrent with the stored one
 * ({@code loom.concurrent}) is kept in {@code loom.conflicts} with both versions, once per state,
 * inside the applying transaction; the merge trigger leaves the stored row as it is. A write based on
 * both sides of an open conflict closes it.
 */
final class ConflictRecords {

    private static final Logger LOG = Logger.getLogger(ConflictRecords.class);

    /** Parameters: id, type, properties, clocks, hlc, version, origin, tombstone, base hlc. */
    private static final String RECORD_NODE = """
            INSERT INTO loom.conflicts (kind, entity_id, local, remote)
            SELECT 'node', t.id,
                   jsonb_build_object('type', t.type, 'properties', t.properties, 'hlc', t.hlc::text, 'version', t.version,
                                      'origin', t.origin, 'tombstone', t.tombstone),
                   jsonb_build_object('type', $2::text, 'properties', $3::text::jsonb,
                                      'propertyClocks', loom.effective_clocks($3::text::jsonb, $4::text::jsonb, $5::bigint,
                                                                              $7::text),
                                      'hlc', $5::bigint::text, 'version', $6::bigint, 'origin', $7::text,
                                      'tombstone', $8::boolean)
            FROM loom.nodes t
            WHERE t.id = $1 AND loom.concurrent(t.origin, t.hlc, t.base_hlc, $7::text, $5::bigint, $9::bigint)
              AND NOT EXISTS (SELECT 1 FROM loom.conflicts c WHERE c.kind = 'node' AND c.entity_id = $1
                              AND c.resolved_at IS NULL AND c.remote ->> 'hlc' = $5::bigint::text
                              AND c.remote ->> 'origin' = $7::text)
            RETURNING id, entity_id""";

    /** Parameters: id, type, source, target, properties, clocks, hlc, version, origin, tombstone, base hlc. */
    private static final String RECORD_EDGE = """
            INSERT INTO loom.conflicts (kind, entity_id, local, remote)
            SELECT 'edge', t.id,
                   jsonb_build_object('type', t.type, 'source', t.source_id, 'target', t.target_id,
                                      'properties', t.properties, 'hlc', t.hlc::text, 'version', t.version,
                                      'origin', t.origin, 'tombstone', t.tombstone),
                   jsonb_build_object('type', $2::text, 'source', $3::text, 'target', $4::text,
                                      'properties', $5::text::jsonb,
                                      'propertyClocks', loom.effective_clocks($5::text::jsonb, $6::text::jsonb, $7::bigint,
                                                                              $9::text),
                                      'hlc', $7::bigint::text, 'version', $8::bigint, 'origin', $9::text,
                                      'tombstone', $10::boolean)
            FROM loom.edges t
            WHERE t.id = $1 AND loom.concurrent(t.origin, t.hlc, t.base_hlc, $9::text, $7::bigint, $11::bigint)
              AND NOT EXISTS (SELECT 1 FROM loom.conflicts c WHERE c.kind = 'edge' AND c.entity_id = $1
                              AND c.resolved_at IS NULL AND c.remote ->> 'hlc' = $7::bigint::text
                              AND c.remote ->> 'origin' = $9::text)
            RETURNING id, entity_id""";

    /** A write based on both sides of an open conflict resolves it here too. */
    private static final String CLOSE_RESOLVED = """
            UPDATE loom.conflicts SET resolved_at = now(), resolution = 'resolved on ' || $3::text
            WHERE kind = $1::text AND entity_id = $2::text AND resolved_at IS NULL
              AND (local ->> 'hlc')::bigint <= $4::bigint AND (remote ->> 'hlc')::bigint <= $4::bigint""";

    private ConflictRecords() {}

    /** conflict-detected: logged, and added to {@code found}; the conflict waits in loom.conflicts. */
    static Future<Void> record(
            PgConnection conn, Change.Kind kind, List<Change> changes, List<Applied.Conflict> found) {
        List<Tuple> tuples = new ArrayList<>(changes.size());
        for (Change c : changes) {
            tuples.add(
                    kind == Change.Kind.NODE
                            ? Tuple.tuple(List.of(
                                    c.id(),
                                    c.type(),
                                    c.properties(),
                                    c.propertyClocks(),
                                    c.hlc().value(),
                                    c.version(),
                                    c.origin(),
                                    c.tombstone(),
                                    c.baseHlc().value()))
                            : Tuple.tuple(List.of(
                                    c.id(),
                                    c.type(),
                                    c.source(),
                                    c.target(),
                                    c.properties(),
                                    c.propertyClocks(),
                                    c.hlc().value(),
                                    c.version(),
                                    c.origin(),
                                    c.tombstone(),
                                    c.baseHlc().value())));
        }
        String sql = kind == Change.Kind.NODE ? RECORD_NODE : RECORD_EDGE;
        return conn.preparedQuery(sql).executeBatch(tuples).map(rows -> {
            int i = 0;
            for (RowSet<Row> set = rows; set != null && i < changes.size(); set = set.next(), i++) {
                for (Row row : set) {
                    Change change = changes.get(i);
                    found.add(new Applied.Conflict(row.getLong("id"), change));
                    LOG.warnf(
                            "conflict-detected: %s from %s is concurrent with the local state; kept aside as"
                                    + " conflict %d (GET /api/conflicts)",
                            change.id(), change.origin(), row.getLong("id"));
                }
            }
            return null;
        });
    }

    /** Closes the open conflicts that these changes were based on both sides of. */
    static Future<Void> closeResolved(PgConnection conn, List<Change> changes) {
        List<Tuple> closes = new ArrayList<>(changes.size());
        for (Change c : changes) {
            closes.add(Tuple.of(
                    c.kind().wireName(), c.id(), c.origin(), c.baseHlc().value()));
        }
        return conn.preparedQuery(CLOSE_RESOLVED).executeBatch(closes).mapEmpty();
    }
}
