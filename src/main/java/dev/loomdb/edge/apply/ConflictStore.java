package dev.loomdb.edge.apply;

import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.SqlConnection;
import io.vertx.mutiny.sqlclient.Tuple;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The conflicts kept aside in {@code loom.conflicts} when {@code loom.conflict.auto-resolve} is false:
 * the open ones, and their resolution — an ordinary local write of the chosen state, stamped later than
 * both states (so it syncs to every peer and wins there), with every conflict of that entity it settles
 * closed in the same transaction. The REST layer ({@code /api/conflicts}) speaks HTTP; this speaks SQL.
 */
public final class ConflictStore {

    /** A conflict as recorded: both states in their wire form (JSON text). */
    public record Open(long id, String kind, String entityId, String detectedAt, String local, String remote) {}

    /** How a conflict is resolved: keep the local state, take the remote one, or write given properties. */
    public enum Resolution {
        LOCAL,
        REMOTE,
        CUSTOM
    }

    /** The state a resolution writes, read by the caller from the recorded states (JSON). */
    public record Chosen(String type, String properties, boolean tombstone, String source, String target) {}

    /** Chooses the state to write from the recorded local and remote states (JSON text). */
    @FunctionalInterface
    public interface Chooser {
        Chosen choose(String local, String remote);
    }

    /** There is no conflict of that id. */
    public static final class NotFound extends RuntimeException {
        NotFound(long id) {
            super("There is no conflict " + id + ".");
        }
    }

    /** The conflict was resolved before. */
    public static final class AlreadyResolved extends RuntimeException {
        AlreadyResolved(long id) {
            super("Conflict " + id + " is already resolved.");
        }
    }

    private final Pool pool;

    public ConflictStore(Pool pool) {
        this.pool = pool;
    }

    /** The open conflicts, oldest first. */
    public Uni<List<Open>> open() {
        return pool.query("SELECT id, kind, entity_id, detected_at::text, local::text, remote::text FROM loom.conflicts"
                        + " WHERE resolved_at IS NULL ORDER BY id")
                .execute()
                .map(rows -> {
                    List<Open> open = new ArrayList<>();
                    for (Row row : rows) {
                        open.add(new Open(
                                row.getLong(0),
                                row.getString(1),
                                row.getString(2),
                                row.getString(3),
                                row.getString(4),
                                row.getString(5)));
                    }
                    return open;
                });
    }

    /**
     * Resolves conflict {@code id} in one transaction: writes what {@code chooser} picks, stamped at least
     * {@code max(local hlc, remote hlc)}, and closes it with every open conflict of the entity it settles.
     * Returns the entity's id. Fails with {@link NotFound} or {@link AlreadyResolved}.
     */
    public Uni<String> resolve(long id, Resolution resolution, HlcOf hlcOf, Chooser chooser) {
        return pool.withTransaction(conn -> conn.preparedQuery(
                        "SELECT kind, entity_id, local::text, remote::text, resolved_at IS NOT NULL"
                                + " FROM loom.conflicts WHERE id = $1 FOR UPDATE")
                .execute(Tuple.of(id))
                .chain(rows -> {
                    if (rows.size() == 0) {
                        throw new NotFound(id);
                    }
                    Row row = rows.iterator().next();
                    if (row.getBoolean(4)) {
                        throw new AlreadyResolved(id);
                    }
                    String kind = row.getString(0);
                    String entityId = row.getString(1);
                    long later = Math.max(hlcOf.hlc(row.getString(2)), hlcOf.hlc(row.getString(3)));
                    Chosen chosen = chooser.choose(row.getString(2), row.getString(3));
                    return write(conn, kind, entityId, chosen, later)
                            .chain(() -> conn.preparedQuery("UPDATE loom.conflicts SET resolved_at = now(),"
                                            + " resolution = $2 WHERE kind = $3 AND entity_id = $4 AND resolved_at IS NULL"
                                            + " AND (id = $1 OR ((local ->> 'hlc')::bigint <= $5"
                                            + " AND (remote ->> 'hlc')::bigint <= $5))")
                                    .execute(Tuple.tuple(List.of(
                                            id,
                                            resolution.name().toLowerCase(java.util.Locale.ROOT),
                                            kind,
                                            entityId,
                                            later))))
                            .map(done -> entityId);
                }));
    }

    /** The hybrid clock of a recorded state (JSON text). */
    @FunctionalInterface
    public interface HlcOf {
        long hlc(String state);
    }

    /** The resolution as a local write, stamped later than both states. */
    private static Uni<Void> write(SqlConnection conn, String kind, String entityId, Chosen chosen, long later) {
        String sql = kind.equals("node")
                ? "UPDATE loom.nodes SET type = $2, properties = $3::text::jsonb, tombstone = $4 WHERE id = $1"
                : "UPDATE loom.edges SET type = $2, properties = $3::text::jsonb, tombstone = $4,"
                        + " source_id = coalesce($5, source_id), target_id = coalesce($6, target_id) WHERE id = $1";
        Tuple params = kind.equals("node")
                ? Tuple.of(entityId, chosen.type(), chosen.properties(), chosen.tombstone())
                : Tuple.tuple(Arrays.asList(
                        entityId,
                        chosen.type(),
                        chosen.properties(),
                        chosen.tombstone(),
                        chosen.source(),
                        chosen.target()));
        return conn.query("SELECT set_config('loom.min_hlc', '" + later + "', true)")
                .execute()
                .chain(() -> conn.preparedQuery(sql).execute(params))
                .replaceWithVoid();
    }
}
