package dev.loomdb.edge.node;

import dev.loomdb.edge.apply.Inbound;
import dev.loomdb.edge.apply.TombstonePurge;
import dev.loomdb.edge.config.LoomConfig;
import io.smallrye.mutiny.Uni;
import io.vertx.core.Vertx;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.inject.Singleton;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.jboss.logging.Logger;

/**
 * The node's periodic work, on the event loop: every housekeeping interval, parked messages are
 * tried again, counters saved and the WAL the slot retains sampled (with a warning when it grows);
 * heartbeats go through the slot so that an idle graph still confirms progress; old tombstones are
 * purged.
 */
@Singleton
public class Housekeeping {

    private static final Logger LOG = Logger.getLogger(Housekeeping.class);

    private final LoomConfig config;
    private final NodeIdentity identity;
    private final Vertx vertx;
    private final Pool pool;
    private final Inbound inbound;
    private final NodeState state;
    private final TombstonePurge purge;
    private final AtomicLong retainedWal = new AtomicLong();
    private final List<Long> timers = new ArrayList<>();
    private long warnAbove;

    public Housekeeping(
            LoomConfig config,
            NodeIdentity identity,
            Vertx vertx,
            Pool pool,
            Inbound inbound,
            NodeState state,
            TombstonePurge purge) {
        this.config = config;
        this.identity = identity;
        this.vertx = vertx;
        this.pool = pool;
        this.inbound = inbound;
        this.state = state;
        this.purge = purge;
        this.warnAbove = config.capture().walWarningBytes();
    }

    void start() {
        timers.add(vertx.setPeriodic(config.sync().housekeepingInterval().toMillis(), id -> everyInterval()));
        timers.add(vertx.setPeriodic(
                config.tombstone().purgeInterval().toMillis(),
                id -> purge.purge().subscribe().with(count -> {})));
        long heartbeat = config.capture().heartbeatInterval().toMillis();
        if (heartbeat > 0) {
            timers.add(vertx.setPeriodic(
                    heartbeat,
                    id -> pool.query("SELECT pg_logical_emit_message(false, 'loom-heartbeat', '')")
                            .execute()
                            .subscribe()
                            .with(rows -> {}, e -> LOG.debugf("Heartbeat failed: %s", e.getMessage()))));
        }
    }

    void stop() {
        timers.forEach(vertx::cancelTimer);
        timers.clear();
    }

    private void everyInterval() {
        inbound.retryParked();
        state.saveCounters().subscribe().with(v -> {}, e -> LOG.debugf("Saving counters failed: %s", e.getMessage()));
        retainedWalBytes()
                .subscribe()
                .with(this::sampled, e -> LOG.debugf("Reading the replication lag failed: %s", e.getMessage()));
    }

    /** WAL bytes written since the slot's confirmed position (null when the slot is missing). */
    public Uni<Long> retainedWalBytes() {
        return pool.preparedQuery("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint"
                        + " FROM pg_replication_slots WHERE slot_name = $1")
                .execute(Tuple.of(identity.slot()))
                .map(rows -> rows.size() == 0 ? null : rows.iterator().next().getLong(0));
    }

    /** The last sample of {@link #retainedWalBytes()}. */
    public long lastRetainedWalBytes() {
        return retainedWal.get();
    }

    /** Warns when the retained WAL passes the threshold, and again each time it doubles. */
    private void sampled(Long bytes) {
        long now = bytes == null ? 0 : bytes;
        retainedWal.set(now);
        long threshold = config.capture().walWarningBytes();
        if (now >= warnAbove) {
            LOG.warnf(
                    "Replication slot %s retains %d MiB of WAL that this node has not confirmed (the broker is"
                            + " unreachable, or publishing is slower than writing). PostgreSQL keeps it until"
                            + " confirmed; set max_slot_wal_keep_size to bound it (a slot past it is invalidated"
                            + " and its changes must be resent from peers) and check GET /api/sync/status.",
                    identity.slot(), now >> 20);
            warnAbove = Math.max(threshold, now) * 2;
        } else if (now < threshold) {
            warnAbove = threshold;
        }
    }
}
