package dev.loomdb.edge.bench;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * The highest rate a sync sustains with its lag not growing: a binary search over (0, ceiling] in
 * {@value #STEPS} paced runs. A paced run offers a rate for {@link #TIME} in transactions of a fixed
 * number of upserts, one every rowsPerTransaction/rate seconds; the rate is sustained when the
 * writer kept its schedule (within 10 %) and the lag of the last third of the transactions (commit on
 * the source to the last row of the transaction written on the receiver) is within
 * {@value #LAG_GROWTH_MILLIS} ms of the first third's.
 */
final class SustainedRate {

    /** How long each rate is offered. */
    static final Duration TIME = BenchResults.QUICK ? Duration.ofSeconds(3) : Duration.ofSeconds(8);

    private static final int STEPS = 5;
    /** Lag growth over a paced run that still counts as "not growing" (about 5 % of the rate short over 8 s). */
    private static final long LAG_GROWTH_MILLIS = 250;

    private static final AtomicLong SEQUENCE = new AtomicLong();

    /** One side of a search: where it writes and where the rows arrive. */
    record Sync(String who, SyncLoad.SqlSource source, String table, SyncLoad.SqlSource target, String targetTable) {}

    private SustainedRate() {}

    /** The highest rate (rows/s) {@code sync} sustains in transactions of {@code rowsPerTransaction} upserts. */
    static double search(Sync sync, double ceiling, int rowsPerTransaction) throws Exception {
        double low = 0;
        double high = ceiling;
        for (int step = 0; step < STEPS; step++) {
            double rate = (low + high) / 2;
            PacedRun run = pacedRun(sync, "s" + SEQUENCE.incrementAndGet() + "x-", rate, rowsPerTransaction);
            System.out.printf(
                    Locale.ROOT,
                    "  %s at %,.0f rows/s%s: %s, lag %.0f ms early, %.0f ms late -> %s%n",
                    sync.who(),
                    rate,
                    rowsPerTransaction == 1 ? " in one-row commits" : "",
                    run.onSchedule() ? "writer on schedule" : "writer behind",
                    run.earlyLagMillis(),
                    run.lateLagMillis(),
                    run.sustained() ? "sustained" : "not sustained");
            if (run.sustained()) {
                low = rate;
            } else {
                high = rate;
            }
        }
        return low;
    }

    /** What a paced run showed: whether the writer kept its schedule, and the receiver's lag early and late. */
    private record PacedRun(boolean onSchedule, double earlyLagMillis, double lateLagMillis) {
        boolean sustained() {
            return onSchedule && lateLagMillis <= earlyLagMillis + LAG_GROWTH_MILLIS;
        }
    }

    private static PacedRun pacedRun(Sync sync, String prefix, double rate, int perTransaction) throws Exception {
        int transactions = (int) Math.max(6, Math.round(rate * TIME.toMillis() / 1000.0 / perTransaction));
        long interval = (long) (perTransaction * 1e9 / rate);
        long[] committed = new long[transactions]; // epoch µs
        long start = System.nanoTime();
        try (Connection sql = sync.source().get();
                PreparedStatement upsert = sql.prepareStatement(SyncLoad.UPSERT.formatted(sync.table()))) {
            for (int t = 0; t < transactions; t++) {
                long wait = start + t * interval - System.nanoTime();
                if (wait > 0) {
                    LockSupport.parkNanos(wait);
                }
                upsert.setString(1, prefix);
                upsert.setInt(2, t * perTransaction + 1);
                upsert.setInt(3, (t + 1) * perTransaction);
                upsert.executeUpdate();
                committed[t] = SyncLoad.micros(Instant.now());
            }
        }
        long planned = transactions * interval;
        boolean onSchedule = System.nanoTime() - start <= planned + planned / 10;
        SyncLoad.awaitRow(sync.target(), sync.targetTable(), prefix + ((long) transactions * perTransaction));
        SyncLoad.awaitCount(sync.target(), sync.targetTable(), prefix, (long) transactions * perTransaction);
        long[] applied = new long[transactions]; // epoch µs of the last row of each transaction
        try (Connection sql = sync.target().get();
                PreparedStatement query = sql.prepareStatement("SELECT"
                        + " (substring(id FROM ?)::int - 1) / " + perTransaction
                        + ", max((extract(epoch FROM bench_applied_at) * 1000000)::bigint)"
                        + " FROM " + sync.targetTable() + " WHERE id LIKE ? GROUP BY 1")) {
            query.setInt(1, prefix.length() + 1);
            query.setString(2, prefix + "%");
            try (ResultSet rs = query.executeQuery()) {
                while (rs.next()) {
                    applied[rs.getInt(1)] = rs.getLong(2);
                }
            }
        }
        double[] lags = new double[transactions];
        for (int t = 0; t < transactions; t++) {
            if (applied[t] == 0) {
                throw new IllegalStateException("transaction " + t + " of " + prefix + " did not arrive");
            }
            lags[t] = (applied[t] - committed[t]) / 1000.0;
        }
        int third = transactions / 3;
        return new PacedRun(
                onSchedule,
                BenchResults.median(Arrays.copyOfRange(lags, 0, third)),
                BenchResults.median(Arrays.copyOfRange(lags, transactions - third, transactions)));
    }
}
