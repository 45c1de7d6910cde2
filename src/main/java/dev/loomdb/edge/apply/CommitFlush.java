package dev.loomdb.edge.apply;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.pgclient.PgConnection;

/**
 * Puts on disk every commit made before it, the apply session's asynchronous ones included: one
 * synchronous commit that writes WAL (a transaction that writes nothing is not flushed), on a
 * connection of its own ({@code loom-apply-flush}). {@code loom.sync_state} is in no publication, so
 * capture is not even sent the transaction.
 */
final class CommitFlush {

    private static final String FLUSH = "INSERT INTO loom.sync_state (name, value) VALUES ('apply-flush', now()::text)"
            + " ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value";

    private final Vertx vertx;
    private final PgConnectOptions options;
    private PgConnection connection;

    CommitFlush(Vertx vertx, PgConnectOptions options) {
        this.vertx = vertx;
        this.options = new PgConnectOptions(options)
                .addProperty("application_name", "loom-apply-flush")
                .setCachePreparedStatements(true); // prepared once, not parsed and planned at every flush
    }

    Future<Void> flush() {
        return connection()
                .compose(c -> c.preparedQuery(FLUSH).execute().onFailure(e -> drop(c)))
                .mapEmpty();
    }

    private Future<PgConnection> connection() {
        if (connection != null) {
            return Future.succeededFuture(connection);
        }
        return PgConnection.connect(vertx, options)
                .compose(c -> c.query("SET synchronous_commit = on")
                        .execute()
                        .map(r -> {
                            c.closeHandler(v -> {
                                if (connection == c) {
                                    connection = null;
                                }
                            });
                            connection = c;
                            return c;
                        })
                        .onFailure(e -> c.close()));
    }

    private void drop(PgConnection c) {
        if (connection == c) {
            connection = null;
        }
        c.close();
    }

    Future<Void> close() {
        PgConnection current = connection;
        connection = null;
        return current == null ? Future.succeededFuture() : current.close();
    }
}
