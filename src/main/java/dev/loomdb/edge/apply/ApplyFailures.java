package dev.loomdb.edge.apply;

import io.vertx.pgclient.PgException;

/**
 * How a failed apply is told apart: a failure trying again may cure (retried in place, not the
 * peer's fault), data PostgreSQL refuses (rejected), or anything else (parked; counts against the
 * peer's circuit breaker, as bad data does).
 */
public final class ApplyFailures {

    private ApplyFailures() {}

    /** A connection that broke, a server going down, a deadlock or serialization failure: trying again may work. */
    public static boolean isTransient(Throwable failure) {
        if (failure instanceof PgException pg) {
            String state = pg.getSqlState();
            return state == null
                    || state.startsWith("08")
                    || state.startsWith("53")
                    || state.startsWith("57P")
                    || state.equals("40001")
                    || state.equals("40P01");
        }
        return true;
    }

    /** SQLSTATE classes 22 (data exception) and 23 (integrity constraint violation): retrying will not help. */
    static boolean isBadData(Throwable failure) {
        return failure instanceof PgException pg
                && pg.getSqlState() != null
                && (pg.getSqlState().startsWith("22") || pg.getSqlState().startsWith("23"));
    }

    /** Whether a failure counts against the peer's breaker. */
    public static boolean isPeersFault(Throwable failure) {
        return !isTransient(failure);
    }
}
