package dev.loomdb.edge.apply;

import dev.loomdb.edge.flow.Hlc;
import dev.loomdb.edge.telemetry.Counters;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;
import java.time.Duration;
import org.jboss.logging.Logger;

/**
 * Removes tombstones whose clock is older than the retention. Local housekeeping: the removal is
 * not synced (capture ignores real deletes), and every node purges by the same clock horizon.
 */
public final class TombstonePurge {

    private static final Logger LOG = Logger.getLogger(TombstonePurge.class);

    private final Pool pool;
    private final Duration retention;
    private final Counters counters;

    public TombstonePurge(Pool pool, Duration retention, Counters counters) {
        this.pool = pool;
        this.retention = retention;
        this.counters = counters;
    }

    public Uni<Long> purge() {
        long horizon = Hlc.horizon(retention).value();
        return pool.withTransaction(conn -> conn.query("SET LOCAL loom.purge = 'on'")
                        .execute()
                        .chain(() -> conn.preparedQuery("DELETE FROM loom.nodes WHERE tombstone AND hlc < $1")
                                .execute(Tuple.of(horizon)))
                        .chain(nodes -> conn.preparedQuery("DELETE FROM loom.edges WHERE tombstone AND hlc < $1")
                                .execute(Tuple.of(horizon))
                                .map(edges -> (long) nodes.rowCount() + edges.rowCount())))
                .invoke(count -> {
                    if (count > 0) {
                        counters.add(Counters.PURGED, count);
                        LOG.infof("Purged %d tombstones older than %s (loom.tombstone.retention)", count, retention);
                    }
                })
                .onFailure()
                .invoke(e -> LOG.warnf("Purging tombstones failed: %s; trying again later", e.getMessage()))
                .onFailure()
                .recoverWithItem(0L);
    }
}
