package dev.loomdb.edge.statesync;

import dev.loomdb.edge.flow.Change;
import dev.loomdb.edge.flow.Hlc;
import dev.loomdb.edge.flow.Scope;
import dev.loomdb.edge.flow.TypeSet;
import io.vertx.core.Future;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import org.jboss.logging.Logger;

/**
 * The digests anti-entropy compares, computed by PostgreSQL from the rows themselves, so that they
 * cannot drift from the data: a 64-bit hash of each row's whole state (MD5 of its columns, so every
 * PostgreSQL version computes the same), combined with XOR, which ignores order. Rows fall into
 * 4,096 leaves per kind by the MD5 of their id, 64 leaves to a group. By default PostgreSQL keeps
 * each row's hash and leaf in stored generated columns ({@code row_hash}, {@code leaf}) as it writes
 * the row, so that a digest adds up stored numbers instead of hashing the graph's text: a write costs
 * a little more, a digest far less ({@code loom.sync.anti-entropy.stored-hashes}, docs/benchmarks.md):
 * <pre>
 *   kind (node, edge)  →  64 groups  →  64 leaves each  →  rows
 * </pre>
 * Tombstones are rows like any other, so a delete takes part in every digest.
 *
 * <p>The summary (one hash and count per kind) is what a round in sync costs; it is kept while
 * nothing changed here ({@code generation}: changes captured, applied or purged), and computed
 * again at least every {@link #RECOMPUTE_EVERY} uses.
 */
public final class StateDigests {

    private static final Logger LOG = Logger.getLogger(StateDigests.class);

    public static final int GROUPS = 64;
    public static final int LEAVES_PER_GROUP = 64;
    static final int RECOMPUTE_EVERY = 10;

    /** The text each row's hash is taken of: its columns joined by U+001F, booleans as t/f (immutable, for a stored column). */
    private static final String NODE_ROW = "id || E'\\x1f' || type || E'\\x1f' || properties::text || E'\\x1f'"
            + " || property_clocks::text || E'\\x1f' || hlc::text || E'\\x1f' || version::text || E'\\x1f' || origin"
            + " || E'\\x1f' || CASE WHEN tombstone THEN 't' ELSE 'f' END";

    private static final String EDGE_ROW = "id || E'\\x1f' || type || E'\\x1f' || source_id || E'\\x1f' || target_id"
            + " || E'\\x1f' || properties::text || E'\\x1f' || property_clocks::text || E'\\x1f' || hlc::text"
            + " || E'\\x1f' || version::text || E'\\x1f' || origin || E'\\x1f' || CASE WHEN tombstone THEN 't' ELSE 'f' END";
    private static final String LEAF = "('x' || substr(md5(id), 1, 3))::bit(12)::int";

    private static String hashOf(String row) {
        return "('x' || substr(md5(" + row + "), 1, 16))::bit(64)::bigint";
    }

    private static final String NODE_COLUMNS =
            "id, type, NULL AS source_id, NULL AS target_id, properties::text AS properties, hlc, version,"
                    + " origin, tombstone, property_clocks::text AS property_clocks, base_hlc";
    private static final String EDGE_COLUMNS =
            "id, type, source_id, target_id, properties::text AS properties, hlc, version, origin, tombstone,"
                    + " property_clocks::text AS property_clocks, base_hlc";

    /** One hash and one row count: of a kind, a group or a leaf. */
    public record Digest(long hash, long count) {
        public static final Digest EMPTY = new Digest(0, 0);
    }

    /** Both kinds' digests. */
    public record Summary(Digest nodes, Digest edges) {
        public Digest of(Change.Kind kind) {
            return kind == Change.Kind.NODE ? nodes : edges;
        }
    }

    private final Pool pool;
    private final LongSupplier generation;
    private final boolean stored;
    private final String nodeHash;
    private final String edgeHash;
    private final String leaf;
    /** Rows dropped by {@link #drop}: they change the digests as a purge does. */
    private final AtomicLong dropped = new AtomicLong();

    private final Map<Scope, Cached> cached = new HashMap<>();

    private record Cached(Summary summary, long generation, int uses) {}

    /**
     * @param stored whether PostgreSQL keeps each row's hash and leaf in stored columns ({@link #prepare});
     *     else they are computed from the rows on every digest
     */
    public StateDigests(Pool pool, LongSupplier generation, boolean stored) {
        this.pool = pool;
        this.generation = generation;
        this.stored = stored;
        this.nodeHash = stored ? "row_hash" : hashOf(NODE_ROW);
        this.edgeHash = stored ? "row_hash" : hashOf(EDGE_ROW);
        this.leaf = stored ? "leaf" : LEAF;
    }

    /**
     * Adds the stored columns ({@code row_hash}, {@code leaf}) to both tables when they are wanted and
     * missing (PostgreSQL rewrites each table once), or drops them when they are not wanted.
     */
    public Future<Void> prepare() {
        return pool.query("SELECT count(*) FROM information_schema.columns WHERE table_schema = 'loom'"
                        + " AND table_name IN ('nodes', 'edges') AND column_name IN ('row_hash', 'leaf')")
                .execute()
                .compose(rows -> {
                    long present = rows.iterator().next().getLong(0);
                    if (stored && present < 4) {
                        LOG.infof(
                                "Adding stored row hashes to the graph tables (loom.sync.anti-entropy.stored-hashes=true):"
                                        + " PostgreSQL rewrites loom.nodes and loom.edges once");
                        return pool.query(
                                        addColumns("loom.nodes", NODE_ROW) + "; " + addColumns("loom.edges", EDGE_ROW))
                                .execute()
                                .<Void>mapEmpty();
                    }
                    if (!stored && present > 0) {
                        LOG.infof("Dropping the stored row hashes (loom.sync.anti-entropy.stored-hashes=false)");
                        return pool.query("ALTER TABLE loom.nodes DROP COLUMN IF EXISTS row_hash, DROP COLUMN IF EXISTS"
                                        + " leaf; ALTER TABLE loom.edges DROP COLUMN IF EXISTS row_hash, DROP COLUMN IF"
                                        + " EXISTS leaf")
                                .execute()
                                .<Void>mapEmpty();
                    }
                    return Future.succeededFuture();
                });
    }

    private static String addColumns(String table, String row) {
        return "ALTER TABLE " + table + " ADD COLUMN IF NOT EXISTS row_hash bigint GENERATED ALWAYS AS (" + hashOf(row)
                + ") STORED, ADD COLUMN IF NOT EXISTS leaf smallint GENERATED ALWAYS AS (" + LEAF + ") STORED";
    }

    private String hash(Change.Kind kind) {
        return kind == Change.Kind.NODE ? nodeHash : edgeHash;
    }

    private static String table(Change.Kind kind) {
        return kind == Change.Kind.NODE ? "loom.nodes" : "loom.edges";
    }

    /**
     * The SQL condition that keeps the rows of {@code types} (a type list is the statement's parameter
     * {@code $param}, added to {@code arguments}); {@code TRUE} for every type.
     */
    static String condition(TypeSet types, int param, List<Object> arguments) {
        if (types.isAll()) {
            return "TRUE";
        }
        if (types.isEmpty()) {
            return "FALSE";
        }
        arguments.add(types.types().toArray(String[]::new));
        return (types.except() ? "NOT " : "") + "(type = ANY($" + param + "))";
    }

    private Future<io.vertx.sqlclient.RowSet<Row>> run(String sql, List<Object> arguments) {
        return arguments.isEmpty()
                ? pool.query(sql).execute()
                : pool.preparedQuery(sql).execute(Tuple.wrap(new ArrayList<>(arguments)));
    }

    /** Both kinds' hash and count in {@code scope}: what two nodes in sync compare, and all they compare. */
    public synchronized Future<Summary> summary(Scope scope) {
        long now = generation.getAsLong() + dropped.get();
        Cached last = cached.get(scope);
        if (last != null && now == last.generation() && last.uses() + 1 < RECOMPUTE_EVERY) {
            cached.put(scope, new Cached(last.summary(), now, last.uses() + 1));
            return Future.succeededFuture(last.summary());
        }
        List<Object> arguments = new ArrayList<>();
        String nodes = condition(scope.nodes(), 1, arguments);
        String edges = condition(scope.edges(), arguments.size() + 1, arguments);
        return run(
                        "SELECT (SELECT row(coalesce(bit_xor(" + nodeHash + "), 0), count(*))::text FROM loom.nodes"
                                + " WHERE " + nodes + "), (SELECT row(coalesce(bit_xor(" + edgeHash
                                + "), 0), count(*))::text"
                                + " FROM loom.edges WHERE " + edges + ")",
                        arguments)
                .map(rows -> {
                    Row row = rows.iterator().next();
                    Summary summary = new Summary(digest(row.getString(0)), digest(row.getString(1)));
                    synchronized (this) {
                        cached.put(scope, new Cached(summary, now, 0));
                        if (cached.size() > 64) {
                            cached.keySet().removeIf(s -> s != scope);
                        }
                    }
                    return summary;
                });
    }

    private static Digest digest(String record) {
        String[] parts = record.substring(1, record.length() - 1).split(",");
        return new Digest(Long.parseLong(parts[0]), Long.parseLong(parts[1]));
    }

    /** The 64 groups of a kind, of the rows of {@code types}. */
    public Future<Digest[]> groups(Change.Kind kind, TypeSet types) {
        List<Object> arguments = new ArrayList<>();
        String where = condition(types, 1, arguments);
        return run(
                        "SELECT " + leaf + " >> 6, bit_xor(" + hash(kind) + "), count(*) FROM " + table(kind)
                                + " WHERE " + where + " GROUP BY 1",
                        arguments)
                .map(rows -> {
                    Digest[] groups = new Digest[GROUPS];
                    java.util.Arrays.fill(groups, Digest.EMPTY);
                    for (Row row : rows) {
                        groups[row.getInteger(0)] = new Digest(row.getLong(1), row.getLong(2));
                    }
                    return groups;
                });
    }

    /** The leaves of the given groups that hold rows of {@code types}, by leaf number (group × 64 + place). */
    public Future<Map<Integer, Digest>> leaves(Change.Kind kind, TypeSet types, List<Integer> groups) {
        List<Object> arguments = new ArrayList<>();
        arguments.add(groups.toArray(Integer[]::new));
        String where = condition(types, 2, arguments);
        return run(
                        "SELECT b, bit_xor(h), count(*) FROM (SELECT " + leaf + " AS b, " + hash(kind) + " AS h FROM "
                                + table(kind) + " WHERE " + where + ") x WHERE b >> 6 = ANY($1) GROUP BY b",
                        arguments)
                .map(rows -> {
                    Map<Integer, Digest> leaves = new HashMap<>();
                    for (Row row : rows) {
                        leaves.put(row.getInteger(0), new Digest(row.getLong(1), row.getLong(2)));
                    }
                    return leaves;
                });
    }

    /** The hash of every row of {@code types} in the given leaves, by id. */
    public Future<Map<String, Long>> rowHashes(Change.Kind kind, TypeSet types, List<Integer> leaves) {
        List<Object> arguments = new ArrayList<>();
        arguments.add(leaves.toArray(Integer[]::new));
        String where = condition(types, 2, arguments);
        return run("SELECT id, row_hash FROM " + table(kind) + " WHERE leaf = ANY($1) AND " + where, arguments)
                .map(rows -> {
                    Map<String, Long> hashes = new HashMap<>();
                    for (Row row : rows) {
                        hashes.put(row.getString(0), row.getLong(1));
                    }
                    return hashes;
                });
    }

    /** The current states of the given rows of {@code types} (tombstones included), as changes to send. */
    public Future<List<Change>> states(Change.Kind kind, TypeSet types, List<String> ids) {
        List<Object> arguments = new ArrayList<>();
        arguments.add(ids.toArray(String[]::new));
        String where = condition(types, 2, arguments);
        return states(kind, "WHERE id = ANY($1) AND " + where, Tuple.wrap(arguments));
    }

    /**
     * Up to {@code limit} rows of {@code types} after {@code after} (null: from the first) in id order:
     * a page of a full transfer.
     */
    public Future<List<Change>> page(Change.Kind kind, TypeSet types, String after, int limit) {
        List<Object> arguments = new ArrayList<>();
        arguments.add(after);
        arguments.add(limit);
        String where = condition(types, 3, arguments);
        return states(
                kind,
                "WHERE ($1::text IS NULL OR id > $1) AND " + where + " ORDER BY id LIMIT $2",
                Tuple.wrap(arguments));
    }

    /** This node's own rows (not applied for a peer) written after {@code hlc}: what a lost slot may not have sent. */
    public Future<List<Change>> ownSince(Change.Kind kind, String origin, Hlc hlc) {
        return states(
                kind, "WHERE origin = $1 AND hlc > $2 AND NOT applied ORDER BY hlc", Tuple.of(origin, hlc.value()));
    }

    /**
     * Removes rows older than {@code horizon} here only, as a purge does (capture ignores it, so it is
     * not synced): what a node back after the retention does with rows its peers deleted and purged.
     */
    public Future<Integer> drop(Change.Kind kind, List<String> ids, Hlc horizon) {
        return pool.withTransaction(conn -> conn.query("SET LOCAL loom.purge = 'on'")
                .execute()
                .compose(v -> conn.preparedQuery("DELETE FROM " + table(kind) + " WHERE id = ANY($1) AND hlc < $2")
                        .execute(Tuple.of(ids.toArray(String[]::new), horizon.value())))
                .map(rows -> {
                    dropped.addAndGet(rows.rowCount());
                    return rows.rowCount();
                }));
    }

    /** The rows of a kind that {@code where} selects, as changes. */
    private Future<List<Change>> states(Change.Kind kind, String where, Tuple arguments) {
        return pool.preparedQuery("SELECT " + columns(kind) + " FROM " + table(kind) + " " + where)
                .execute(arguments)
                .map(rows -> {
                    List<Change> states = new ArrayList<>(rows.size());
                    for (Row row : rows) {
                        states.add(change(kind, row));
                    }
                    return states;
                });
    }

    private static String columns(Change.Kind kind) {
        return kind == Change.Kind.NODE ? NODE_COLUMNS : EDGE_COLUMNS;
    }

    private static Change change(Change.Kind kind, Row row) {
        boolean tombstone = row.getBoolean("tombstone");
        long version = row.getLong("version");
        Change.Op op = tombstone ? Change.Op.DELETE : version > 1 ? Change.Op.UPDATE : Change.Op.INSERT;
        return new Change(
                op,
                kind,
                row.getString("id"),
                row.getString("type"),
                row.getString("properties"),
                row.getString("source_id"),
                row.getString("target_id"),
                new Hlc(row.getLong("hlc")),
                version,
                row.getString("origin"),
                tombstone,
                row.getString("property_clocks"),
                new Hlc(row.getLong("base_hlc")));
    }
}
