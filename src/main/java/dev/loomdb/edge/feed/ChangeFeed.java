package dev.loomdb.edge.feed;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.util.RawValue;
import dev.loomdb.edge.history.ChangeHistory;
import io.vertx.core.Vertx;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.TreeMap;
import java.util.concurrent.CompletionStage;
import org.jboss.logging.Logger;

/**
 * The change feed: reads {@code loom.change_history} in order and hands each entry to a {@link Sender}
 * (the {@code loom-feed} channel), at most {@code maxInFlight} unacknowledged at a time. Its position —
 * the last entry acknowledged with every earlier one — is kept in {@code loom.sync_state}, so a restart
 * resends from there (at least once), and the history keeps what the feed has not yet sent.
 *
 * <p>A downstream that refuses or fails a message stops the feed, never the mesh: it goes back to its
 * position and sends again after a pause that doubles up to 30 s. A hole in the history's numbering is
 * waited for ({@code gapWait}: a transaction still committing) and then passed over and counted (a
 * rolled-back entry, or one the history dropped beyond {@code loom.feed.max-backlog}).
 *
 * <p>Runs on one Vert.x context: its state is touched from that context only.
 */
public final class ChangeFeed {

    private static final Logger LOG = Logger.getLogger(ChangeFeed.class);
    private static final Duration MAX_RETRY = Duration.ofSeconds(30);
    private static final int PAGE = 500;

    /** Where the feed's entries go; the stage completes when the entry is acknowledged downstream. */
    public interface Sender {
        CompletionStage<Void> send(long seq, String json, String routingKey);
    }

    /** What the feed reports on the status endpoint. */
    public record Status(
            long position,
            long read,
            int inFlight,
            long sent,
            long acknowledged,
            long failures,
            long skipped,
            String lastError) {}

    private final Vertx vertx;
    private final Pool pool;
    private final ObjectMapper mapper;
    private final String nodeId;
    private final Sender sender;
    private final int maxInFlight;
    private final Duration pollInterval;
    private final Duration gapWait;
    private final Duration retryInterval;
    private final Duration ackTimeout;

    private io.vertx.core.Context context;
    /** Acknowledged with every entry before it. */
    private long position;
    /** The last entry handed to the sender. */
    private long read;
    /** Where an entry not yet acknowledged with every earlier one is. */
    private enum State {
        SENT,
        ACKNOWLEDGED,
        FAILED
    }

    /** Entries sent and not yet acknowledged with every earlier one. */
    private final TreeMap<Long, State> inFlight = new TreeMap<>();
    /** Counts the times the feed went back to its position: answers to sends before it are ignored. */
    private long epoch;
    /** When each entry still unanswered was sent (System.nanoTime). */
    private final TreeMap<Long, Long> sentAt = new TreeMap<>();

    private long holeSince;
    private boolean polling;
    private boolean failed;
    private Duration nextRetry;
    private boolean positionDirty;
    private boolean stopped;
    private long timer = -1;

    private volatile long sent;
    private volatile long acknowledged;
    private volatile long failures;
    private volatile long skipped;
    private volatile String lastError;
    private volatile Status status = new Status(0, 0, 0, 0, 0, 0, 0, null);

    public ChangeFeed(
            Vertx vertx,
            Pool pool,
            ObjectMapper mapper,
            String nodeId,
            Sender sender,
            int maxInFlight,
            Duration pollInterval,
            Duration gapWait,
            Duration retryInterval,
            Duration ackTimeout) {
        this.vertx = vertx;
        this.pool = pool;
        this.mapper = mapper;
        this.nodeId = nodeId;
        this.sender = sender;
        this.maxInFlight = maxInFlight;
        this.pollInterval = pollInterval;
        this.gapWait = gapWait;
        this.retryInterval = retryInterval;
        this.ackTimeout = ackTimeout;
        this.nextRetry = retryInterval;
    }

    /**
     * Starts from the recorded position, or — the first time — from the newest entry of the history (the
     * feed carries what is recorded from then on).
     */
    public void start() {
        context = vertx.getOrCreateContext();
        context.runOnContext(v -> pool.query("SELECT (SELECT value::bigint FROM loom.sync_state WHERE name = '"
                        + ChangeHistory.FEED_POSITION + "'), (SELECT COALESCE(max(seq), 0) FROM loom.change_history)")
                .execute()
                .subscribe()
                .with(
                        rows -> context.runOnContext(x -> {
                            Row row = rows.iterator().next();
                            boolean known = row.getLong(0) != null;
                            position = known ? row.getLong(0) : row.getLong(1);
                            read = position;
                            LOG.infof(
                                    known
                                            ? "Change feed goes on after entry %d of the change history"
                                            : "Change feed starts after entry %d, the newest of the change history",
                                    position);
                            positionDirty = !known;
                            savePosition();
                            schedule(Duration.ZERO);
                        }),
                        e -> {
                            LOG.errorf("The change feed could not read its position: %s; it retries", e.getMessage());
                            vertx.setTimer(retryInterval.toMillis(), t -> start());
                        }));
        vertx.setPeriodic(
                1000,
                1000,
                t -> context.runOnContext(x -> {
                    savePosition();
                    checkAnswers();
                }));
    }

    public void stop() {
        context.runOnContext(v -> {
            stopped = true;
            savePosition();
        });
    }

    public Status status() {
        return status;
    }

    private void schedule(Duration delay) {
        if (stopped || polling || timer != -1) {
            return;
        }
        if (delay.isZero()) {
            context.runOnContext(v -> poll());
        } else {
            timer = vertx.setTimer(
                    delay.toMillis(),
                    t -> context.runOnContext(v -> {
                        timer = -1;
                        poll();
                    }));
        }
    }

    private void poll() {
        if (stopped || polling) {
            return;
        }
        if (failed) {
            if (inFlight.containsValue(State.SENT)) {
                return; // the last answers come first; each one calls back here
            }
            failed = false;
            epoch++;
            inFlight.clear();
            sentAt.clear();
            read = position;
            LOG.infof("Change feed sends again from after entry %d", position);
        }
        int room = maxInFlight - inFlight.size();
        if (room <= 0) {
            return; // an acknowledgement calls back
        }
        int limit = Math.min(room, PAGE);
        polling = true;
        pool.preparedQuery("SELECT seq, recorded_at, direction, peer_id, commit_time, change::text,"
                        + " coalesce(change ->> 'kind', 'node') || '.' || coalesce(change ->> 'type', '')"
                        + " FROM loom.change_history WHERE seq > $1 ORDER BY seq LIMIT $2")
                .execute(Tuple.of(read, limit))
                .subscribe()
                .with(
                        rows -> context.runOnContext(v -> {
                            polling = false;
                            int taken = 0;
                            boolean hole = false;
                            for (Row row : rows) {
                                long seq = row.getLong(0);
                                if (seq != read + 1 && !passHole(seq)) {
                                    hole = true;
                                    break;
                                }
                                send(row);
                                taken++;
                            }
                            refreshStatus();
                            if (hole) {
                                schedule(Duration.ofMillis(Math.min(100, gapWait.toMillis())));
                            } else if (taken == limit) { // more may be there
                                schedule(Duration.ZERO);
                            } else {
                                schedule(pollInterval);
                            }
                        }),
                        e -> context.runOnContext(v -> {
                            polling = false;
                            lastError = "reading the change history: " + e.getMessage();
                            LOG.warnf("The change feed could not read the change history: %s", e.getMessage());
                            schedule(retryInterval);
                        }));
    }

    /** Whether the entries before {@code seq} are given up: waited for long enough. */
    private boolean passHole(long seq) {
        long now = System.nanoTime();
        if (holeSince == 0) {
            holeSince = now;
            return false;
        }
        if (now - holeSince < gapWait.toNanos()) {
            return false;
        }
        holeSince = 0;
        long missing = seq - read - 1;
        skipped += missing;
        LOG.warnf(
                "Change feed passes over entries %d..%d of the change history, missing after %d ms: rolled back,"
                        + " or dropped by the history while the feed was behind (loom.feed.max-backlog)",
                read + 1, seq - 1, gapWait.toMillis());
        // nothing to acknowledge for them: the position moves past once what came before is acknowledged
        for (long s = read + 1; s < seq; s++) {
            inFlight.put(s, State.ACKNOWLEDGED);
        }
        return true;
    }

    private void send(Row row) {
        long seq = row.getLong(0);
        holeSince = 0;
        read = seq;
        inFlight.put(seq, State.SENT);
        sentAt.put(seq, System.nanoTime());
        sent++;
        long sentIn = epoch;
        String direction = row.getString(2);
        String change = row.getString(5);
        ObjectNode json = mapper.createObjectNode();
        json.put("node", nodeId);
        json.put("seq", seq);
        json.put("recordedAt", row.getOffsetDateTime(1).toInstant().toString());
        json.put("direction", direction);
        json.put("peer", row.getString(3));
        OffsetDateTime commit = row.getOffsetDateTime(4);
        if (commit != null) {
            json.put("commitTime", commit.toInstant().toString());
        }
        json.putRawValue("change", new RawValue(change));
        CompletionStage<Void> answer;
        try {
            answer = sender.send(seq, json.toString(), row.getString(6)); // <kind>.<type>, e.g. node.Sensor
        } catch (RuntimeException e) {
            answer = java.util.concurrent.CompletableFuture.failedFuture(e);
        }
        answer.whenComplete((ok, error) -> context.runOnContext(v -> answered(sentIn, seq, error)));
    }

    private void answered(long sentIn, long seq, Throwable error) {
        if (sentIn != epoch || inFlight.get(seq) != State.SENT) {
            return; // an answer to a send before the feed went back to its position
        }
        sentAt.remove(seq);
        if (error != null) {
            failures++;
            lastError = error.getMessage() == null ? error.toString() : error.getMessage();
            inFlight.put(seq, State.FAILED);
            if (!failed) {
                pauseAfterFailure("failed entry " + seq + " (" + lastError + ")");
            }
        } else {
            inFlight.put(seq, State.ACKNOWLEDGED);
            acknowledged++;
            while (!inFlight.isEmpty() && inFlight.firstEntry().getValue() == State.ACKNOWLEDGED) {
                position = inFlight.pollFirstEntry().getKey();
                positionDirty = true;
            }
            if (!failed) {
                nextRetry = retryInterval;
                schedule(Duration.ZERO);
            }
        }
        if (failed && timer == -1 && !inFlight.containsValue(State.SENT)) {
            schedule(Duration.ZERO); // the pause is over and the last answer came: send again
        }
        refreshStatus();
    }

    /**
     * A downstream that neither acknowledges nor refuses (a connection lost with the messages on it) is
     * given {@code ackTimeout}; then what is out counts as failed and is sent again.
     */
    private void checkAnswers() {
        if (stopped || failed || sentAt.isEmpty()) {
            return;
        }
        long waited = System.nanoTime() - sentAt.firstEntry().getValue();
        if (waited < ackTimeout.toNanos()) {
            return;
        }
        long seq = sentAt.firstKey();
        failures++;
        lastError = "no answer for entry " + seq + " within " + ackTimeout.toMillis() + " ms";
        epoch++; // late answers to what is out now are ignored
        inFlight.clear();
        sentAt.clear();
        pauseAfterFailure("has not answered entry " + seq + " in " + ackTimeout.toMillis() + " ms");
        refreshStatus();
    }

    /** Stops sending, and sends again from the position after a pause that doubles up to {@link #MAX_RETRY}. */
    private void pauseAfterFailure(String what) {
        failed = true;
        LOG.warnf(
                "The change feed's downstream %s; the feed sends again from after entry %d in %d ms (the mesh goes on)",
                what, position, nextRetry.toMillis());
        Duration wait = nextRetry;
        Duration doubled = nextRetry.multipliedBy(2);
        nextRetry = doubled.compareTo(MAX_RETRY) > 0 ? MAX_RETRY : doubled;
        if (timer != -1) {
            vertx.cancelTimer(timer);
            timer = -1;
        }
        schedule(wait);
    }

    private void savePosition() {
        if (!positionDirty) {
            return;
        }
        positionDirty = false;
        long saving = position;
        pool.preparedQuery("INSERT INTO loom.sync_state (name, value) VALUES ($1, $2) ON CONFLICT (name)"
                        + " DO UPDATE SET value = EXCLUDED.value, updated_at = now()")
                .execute(Tuple.of(ChangeHistory.FEED_POSITION, Long.toString(saving)))
                .subscribe()
                .with(
                        r -> {},
                        e -> context.runOnContext(v -> {
                            positionDirty = true;
                            LOG.warnf("The change feed could not save its position: %s", e.getMessage());
                        }));
    }

    private void refreshStatus() {
        status = new Status(position, read, inFlight.size(), sent, acknowledged, failures, skipped, lastError);
    }
}
