package dev.loomdb.edge.feed;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loomdb.edge.config.LoomConfig;
import dev.loomdb.edge.telemetry.SyncEventJson;
import dev.loomdb.edge.telemetry.SyncEvents;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.subscription.BackPressureStrategy;
import io.smallrye.mutiny.subscription.Cancellable;
import io.smallrye.mutiny.subscription.MultiEmitter;
import io.smallrye.reactive.messaging.annotations.Broadcast;
import io.smallrye.reactive.messaging.rabbitmq.OutgoingRabbitMQMetadata;
import io.vertx.core.Vertx;
import io.vertx.mutiny.sqlclient.Pool;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicLong;
import org.eclipse.microprofile.reactive.messaging.Message;
import org.eclipse.microprofile.reactive.messaging.Metadata;
import org.eclipse.microprofile.reactive.messaging.Outgoing;
import org.jboss.logging.Logger;

/**
 * The node's Reactive Messaging channels. {@code loom-feed}: the change feed ({@link ChangeFeed}), one
 * JSON message per change, at least once and in the order recorded. {@code loom-events}: every sync
 * event, as on {@code GET /api/sync/events}, dropped (and counted) when its downstream lags. Code packaged
 * with the node reads them with {@code @Incoming}; a connector sends them on by configuration alone
 * ({@code mp.messaging.outgoing.loom-feed.connector=smallrye-rabbitmq}, or {@code smallrye-mqtt}).
 */
@ApplicationScoped
public class FeedChannels {

    private static final Logger LOG = Logger.getLogger(FeedChannels.class);
    /** The most changes out at a time (loom.feed.max-in-flight at most). */
    static final int BUFFER = 1000;

    /** Where the loom-feed channel's subscriber takes messages from; null until one subscribes. */
    private volatile MultiEmitter<? super Message<String>> feedOut;
    /** Where the loom-events channel's subscriber takes messages from; null until one subscribes. */
    private volatile MultiEmitter<? super Message<String>> eventsOut;

    /** The change feed's channel (its subscribers: a connector, code with {@code @Incoming("loom-feed")}). */
    @Outgoing("loom-feed")
    @Broadcast
    public Multi<Message<String>> feedChannel() {
        // the feed bounds what is out (loom.feed.max-in-flight): the buffer never holds more
        return Multi.createFrom().emitter(out -> feedOut = out, BackPressureStrategy.BUFFER);
    }

    /** The sync events' channel. */
    @Outgoing("loom-events")
    @Broadcast
    public Multi<Message<String>> eventsChannel() {
        return Multi.createFrom().emitter(out -> eventsOut = out, BackPressureStrategy.BUFFER);
    }

    @Inject
    LoomConfig config;

    @Inject
    Vertx vertx;

    @Inject
    Pool pool;

    @Inject
    ObjectMapper mapper;

    @Inject
    SyncEvents events;

    private ChangeFeed feed;
    private Cancellable eventSubscription;
    private final AtomicLong eventsDropped = new AtomicLong();

    void start(@Observes StartupEvent start) {
        LoomConfig.Feed settings = config.feed();
        if (settings.enabled()) {
            if (settings.maxInFlight() < 1 || settings.maxInFlight() > BUFFER) {
                throw new IllegalStateException(
                        "loom.feed.max-in-flight must be between 1 and " + BUFFER + ", not " + settings.maxInFlight());
            }
            feed = new ChangeFeed(
                    vertx,
                    pool,
                    mapper,
                    config.nodeId(),
                    this::sendChange,
                    settings.maxInFlight(),
                    settings.pollInterval(),
                    settings.gapWait(),
                    settings.retryInterval(),
                    settings.ackTimeout());
            feed.start();
        } else {
            // a feed turned off no longer holds history entries back
            pool.query("DELETE FROM loom.sync_state WHERE name = '"
                            + dev.loomdb.edge.history.ChangeHistory.FEED_POSITION + "'")
                    .execute()
                    .subscribe()
                    .with(
                            rows -> {
                                if (rows.rowCount() > 0) {
                                    LOG.info(
                                            "The change feed is off (loom.feed.enabled=false): its position is forgotten");
                                }
                            },
                            e -> LOG.debugf("Could not forget the change feed's position: %s", e.getMessage()));
        }
        if (settings.events()) {
            eventSubscription = events.stream()
                    .subscribe()
                    .with(
                            event -> {
                                MultiEmitter<? super Message<String>> out = eventsOut;
                                if (out == null || out.requested() <= 0) { // nobody reading, or behind
                                    eventsDropped.incrementAndGet();
                                    return;
                                }
                                out.emit(Message.of(
                                        SyncEventJson.render(mapper, event),
                                        Metadata.of(OutgoingRabbitMQMetadata.builder()
                                                .withRoutingKey(event.kind().wireName())
                                                .withContentType("application/json")
                                                .build())));
                            },
                            e -> LOG.warnf("The loom-events channel stopped: %s", e.getMessage()));
            LOG.info("Sync events are sent on the loom-events channel (loom.feed.events=true)");
        }
    }

    void stop(@Observes ShutdownEvent stop) {
        if (feed != null) {
            feed.stop();
        }
        if (eventSubscription != null) {
            eventSubscription.cancel();
        }
    }

    private CompletionStage<Void> sendChange(long seq, String json, String routingKey) {
        CompletableFuture<Void> answer = new CompletableFuture<>();
        Message<String> message = Message.of(
                json,
                Metadata.of(OutgoingRabbitMQMetadata.builder()
                        .withRoutingKey(routingKey)
                        .withContentType("application/json")
                        .withDeliveryMode(2) // persistent: kept by a durable queue over a broker restart
                        .withMessageId(config.nodeId() + "/" + seq)
                        .build()),
                () -> {
                    answer.complete(null);
                    return CompletableFuture.completedFuture(null);
                },
                error -> {
                    answer.completeExceptionally(error);
                    return CompletableFuture.completedFuture(null);
                });
        MultiEmitter<? super Message<String>> out = feedOut;
        if (out == null || out.isCancelled()) {
            return CompletableFuture.failedFuture(new IllegalStateException("nothing reads the loom-feed channel:"
                    + " route it with mp.messaging.outgoing.loom-feed.connector (docs/change-feed.md)"));
        }
        out.emit(message);
        return answer;
    }

    /** The change feed's state, or null when it is off. */
    public ChangeFeed.Status feedStatus() {
        return feed == null ? null : feed.status();
    }

    /** Events not sent on loom-events because its downstream was not asking for more. */
    public long eventsDropped() {
        return eventsDropped.get();
    }
}
