package dev.loomdb.edge.embedded;

import io.netty.handler.codec.mqtt.MqttConnectReturnCode;
import io.netty.handler.codec.mqtt.MqttQoS;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.JksOptions;
import io.vertx.core.net.PfxOptions;
import io.vertx.mqtt.MqttAuth;
import io.vertx.mqtt.MqttEndpoint;
import io.vertx.mqtt.MqttServer;
import io.vertx.mqtt.MqttServerOptions;
import io.vertx.mqtt.MqttTopicSubscription;
import io.vertx.mqtt.MqttWill;
import io.vertx.mqtt.messages.MqttPublishMessage;
import io.vertx.mqtt.messages.MqttSubscribeMessage;
import io.vertx.mqtt.messages.MqttUnsubscribeMessage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;
import org.jboss.logging.Logger;

/**
 * The node's own embedded MQTT 3.1.1 broker: the protocol from Vert.x' MQTT server, the broker (sessions,
 * subscriptions, routing, retained messages, wills, queues) here, on one event loop. A QoS 1 message is
 * written to the broker's {@link BrokerLog} before it is acknowledged to its publisher, so a node killed
 * at any moment loses nothing its broker acknowledged, with no repair at the next start. Persistent
 * sessions (clean session off) keep their subscriptions and queued messages across reconnects and
 * restarts, up to a {@link QueueLimit} each and for {@code sessionExpiry} while away.
 *
 * <p>What it does not do: QoS 2 publishes are accepted (PUBREC, PUBCOMP) and delivered at QoS 1 at most,
 * and a QoS 2 publish a client sends again after the broker restarted may be delivered twice; QoS 0
 * messages are not queued for clients that are away; MQTT 5 is refused.
 */
public final class LoomBroker implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(LoomBroker.class);
    /** QoS 1 messages sent to one client and not yet acknowledged, at most. */
    static final int WINDOW = 128;

    /** How often sessions away longer than the expiry are looked for, at most. */
    private static final long EXPIRY_CHECK_MILLIS = 60_000;

    private final Duration sessionExpiry;
    private final QueueLimit limit;
    private final Map<String, byte[]> users;
    private final Vertx vertx;
    private final Context context;
    private final BrokerLog log;
    private final Map<String, BrokerSession> sessions = new LinkedHashMap<>();
    private final Map<String, byte[]> retained;
    private long nextSeq;
    private long dropped;
    private volatile BrokerStats stats;
    private MqttServer server;
    private boolean closed;

    /** One network connection of a session. */
    static final class Connection {
        final MqttEndpoint endpoint;
        final BrokerSession session;
        boolean disconnected;

        Connection(MqttEndpoint endpoint, BrokerSession session) {
            this.endpoint = endpoint;
            this.session = session;
        }

        /**
         * Sends a PUBLISH; false when the connection is closing (Vert.x refuses to write to it before its close
         * handler has run): what is in flight is then queued again when that handler runs.
         */
        boolean send(String topic, byte[] payload, MqttQoS qos, boolean dup, boolean retain, int packetId) {
            try {
                if (qos == MqttQoS.AT_MOST_ONCE) {
                    endpoint.publish(topic, Buffer.buffer(payload), qos, false, retain);
                } else {
                    endpoint.publish(topic, Buffer.buffer(payload), qos, dup, retain, packetId);
                }
                return true;
            } catch (IllegalStateException closing) {
                return false;
            }
        }
    }

    private LoomBroker(Duration sessionExpiry, QueueLimit limit, Map<String, String> users, BrokerLog.Opened opened) {
        this.sessionExpiry = sessionExpiry;
        this.limit = limit;
        this.users = new LinkedHashMap<>();
        users.forEach((user, password) -> this.users.put(user, sha256(password)));
        this.log = opened.log();
        BrokerLog.Snapshot snapshot = opened.snapshot();
        this.retained = snapshot.retained;
        this.nextSeq = snapshot.nextSeq;
        for (BrokerLog.SavedSession saved : snapshot.sessions.values()) {
            BrokerSession session = new BrokerSession(saved.clientId, true);
            session.subscriptions.putAll(saved.subscriptions);
            session.lastSeen = saved.lastSeen;
            saved.queue
                    .values()
                    .forEach(message -> session.restore(new BrokerSession.Queued(message, true, false, false)));
            sessions.put(session.clientId, session);
        }
        this.vertx = Vertx.vertx(new VertxOptions()
                .setEventLoopPoolSize(1)
                .setWorkerPoolSize(1)
                .setInternalBlockingPoolSize(1)
                // a log forced to a slow SD card may hold the loop for a while: not worth a warning
                .setMaxEventLoopExecuteTime(10)
                .setMaxEventLoopExecuteTimeUnit(TimeUnit.SECONDS));
        this.context = vertx.getOrCreateContext();
    }

    /**
     * Starts the broker on {@code host:port} with its log in {@code dataDir}; {@code syncInterval} is how often
     * the log is put on the disk (a killed process loses nothing; a power cut at most this).
     */
    public static LoomBroker start(
            String host,
            int port,
            Path dataDir,
            int maxMessageSize,
            Duration syncInterval,
            Duration sessionExpiry,
            QueueLimit limit,
            BrokerSecurity security) {
        PortCheck.requireFree(host, port, "MQTT broker", "loom.embedded.broker.port");
        MqttServerOptions options = new MqttServerOptions()
                .setHost(host)
                .setPort(port)
                .setMaxMessageSize(maxMessageSize)
                .setAutoClientId(true);
        if (security.keyStore().isPresent()) {
            Path store = security.keyStore().get();
            if (!Files.isReadable(store)) {
                throw new EmbeddedStartException("loom.embedded.broker.tls.key-store: cannot read " + store);
            }
            options.setSsl(true);
            if (store.toString().endsWith(".jks")) {
                options.setKeyCertOptions(
                        new JksOptions().setPath(store.toString()).setPassword(security.keyStorePassword()));
            } else {
                options.setKeyCertOptions(
                        new PfxOptions().setPath(store.toString()).setPassword(security.keyStorePassword()));
            }
        }
        BrokerLog.Opened opened;
        try {
            opened = BrokerLog.open(dataDir);
        } catch (IOException | RuntimeException e) {
            throw new EmbeddedStartException(
                    "the embedded MQTT broker could not read its log in " + dataDir + ": " + e.getMessage()
                            + " (setting loom.embedded.broker.data-dir)",
                    e);
        }
        LoomBroker broker = new LoomBroker(sessionExpiry, limit, security.users(), opened);
        try {
            broker.onContext(() -> {
                broker.server = MqttServer.create(broker.vertx, options).endpointHandler(broker::connect);
                return broker.server.listen().toCompletionStage().toCompletableFuture();
            });
            long syncMillis = Math.max(1000, syncInterval.toMillis());
            broker.onContext(() -> {
                broker.vertx.setPeriodic(syncMillis, id -> broker.sync());
                broker.vertx.setPeriodic(
                        Math.max(500, Math.min(EXPIRY_CHECK_MILLIS, sessionExpiry.toMillis() / 2)),
                        id -> broker.expireSessions());
                broker.expireSessions();
                broker.refreshStats();
                broker.vertx.setPeriodic(STATS_MILLIS, id -> broker.refreshStats());
                return CompletableFuture.completedFuture(null);
            });
        } catch (RuntimeException e) {
            broker.close();
            throw new EmbeddedStartException(
                    "the embedded MQTT broker did not start on " + host + ":" + port + ": " + e.getMessage(), e);
        }
        BrokerLog.Snapshot snapshot = opened.snapshot();
        LOG.infof(
                "Embedded MQTT broker is listening on %s:%d with its log in %s (%d sessions, %d queued messages,"
                        + " %d retained read back); it keeps the session of a client away for %s"
                        + " (loom.embedded.broker.session-expiry), at most %d queued messages and %d MiB each",
                host,
                port,
                dataDir.toAbsolutePath(),
                snapshot.sessions.size(),
                snapshot.sessions.values().stream()
                        .mapToInt(s -> s.queue.size())
                        .sum(),
                snapshot.retained.size(),
                sessionExpiry.toSeconds() % 86_400 == 0
                        ? sessionExpiry.toDays() + "d"
                        : sessionExpiry.toSeconds() + "s",
                limit.messages(),
                limit.bytes() >> 20);
        return broker;
    }

    /** How often {@link #stats} is taken anew. */
    private static final long STATS_MILLIS = 1000;

    private void refreshStats() {
        if (!closed) {
            stats = BrokerStats.of(sessions.values(), dropped, retained.size(), log.size(), System.currentTimeMillis());
        }
    }

    /** What the broker holds, as of at most a second ago (read from any thread). */
    public BrokerStats stats() {
        return stats;
    }

    /** Messages dropped from the queues of clients that stayed away too long, since the start. */
    public long dropped() {
        return onContext(() -> CompletableFuture.completedFuture(dropped));
    }

    /** How many messages are queued (sent or not) for a client's session; 0 if it has none. */
    public int queued(String clientId) {
        return onContext(() -> {
            BrokerSession session = sessions.get(clientId);
            return CompletableFuture.completedFuture(
                    session == null ? 0 : session.queue.size() + session.inflight.size());
        });
    }

    /** Whether the broker holds a session of this client (connected, or persistent and away). */
    public boolean hasSession(String clientId) {
        return onContext(() -> CompletableFuture.completedFuture(sessions.containsKey(clientId)));
    }

    /** Runs {@code action} on the broker's event loop and waits for what it completes. */
    private <T> T onContext(Supplier<CompletableFuture<T>> action) {
        CompletableFuture<T> result = new CompletableFuture<>();
        context.runOnContext(v -> {
            try {
                action.get().whenComplete((value, error) -> {
                    if (error != null) {
                        result.completeExceptionally(error);
                    } else {
                        result.complete(value);
                    }
                });
            } catch (RuntimeException e) {
                result.completeExceptionally(e);
            }
        });
        try {
            return result.get(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
        } catch (TimeoutException e) {
            throw new IllegalStateException("the embedded MQTT broker did not answer within 30 s", e);
        }
    }

    // --- connections ---------------------------------------------------------------------------------

    private void connect(MqttEndpoint endpoint) {
        if (endpoint.protocolVersion() > 4) {
            endpoint.reject(MqttConnectReturnCode.CONNECTION_REFUSED_UNACCEPTABLE_PROTOCOL_VERSION);
            return;
        }
        if (!users.isEmpty() && !authorised(endpoint.auth())) {
            LOG.warnf("Refused an MQTT client from %s: unknown user or wrong password", endpoint.remoteAddress());
            endpoint.reject(MqttConnectReturnCode.CONNECTION_REFUSED_BAD_USER_NAME_OR_PASSWORD);
            return;
        }
        String clientId = endpoint.clientIdentifier();
        BrokerSession existing = sessions.get(clientId);
        if (existing != null && existing.connection != null) {
            // the same client again (a node restarted before its old connection timed out): the old one goes,
            // without its will, which would otherwise say "offline" after the new connection said "online"
            Connection old = existing.connection;
            existing.connection = null;
            existing.requeueInflight();
            old.disconnected = true;
            old.endpoint.close();
        }
        BrokerSession session;
        boolean present = false;
        if (endpoint.isCleanSession()) {
            if (existing != null && existing.persistent) {
                log.drop(clientId);
                log.flush();
            }
            session = new BrokerSession(clientId, false);
        } else if (existing != null && existing.persistent) {
            session = existing;
            present = true;
        } else {
            session = new BrokerSession(clientId, true);
            log.session(clientId);
            log.flush();
        }
        sessions.put(clientId, session);
        Connection connection = new Connection(endpoint, session);
        session.connection = connection;
        session.received.clear();
        endpoint.publishAutoAck(false);
        endpoint.subscriptionAutoAck(false);
        endpoint.publishHandler(message -> publish(connection, message));
        endpoint.publishReleaseHandler(id -> {
            session.received.remove(id);
            endpoint.publishComplete(id);
        });
        endpoint.publishAcknowledgeHandler(id -> acknowledged(session, id));
        endpoint.subscribeHandler(message -> subscribe(connection, message));
        endpoint.unsubscribeHandler(message -> unsubscribe(connection, message));
        endpoint.disconnectHandler(v -> connection.disconnected = true);
        endpoint.closeHandler(v -> closed(connection));
        endpoint.exceptionHandler(e -> LOG.debugf("MQTT client %s: %s", clientId, e.getMessage()));
        endpoint.accept(present);
        pump(session);
    }

    private boolean authorised(MqttAuth auth) {
        if (auth == null || auth.getUsername() == null || auth.getPassword() == null) {
            return false;
        }
        byte[] expected = users.get(auth.getUsername());
        return expected != null && MessageDigest.isEqual(expected, sha256(auth.getPassword()));
    }

    private void closed(Connection connection) {
        BrokerSession session = connection.session;
        if (closed || session.connection != connection) {
            return; // taken over by a newer connection of the same client
        }
        session.connection = null;
        session.requeueInflight();
        session.lastSeen = System.currentTimeMillis();
        if (session.persistent) {
            log.seen(session.clientId, session.lastSeen);
        } else {
            sessions.remove(session.clientId);
        }
        MqttWill will = connection.endpoint.will();
        if (!connection.disconnected && will != null && will.isWillFlag()) {
            route(will.getWillTopic(), will.getWillMessageBytes(), will.getWillQos(), will.isWillRetain());
        }
        log.flush();
    }

    // --- publishing ----------------------------------------------------------------------------------

    private void publish(Connection connection, MqttPublishMessage message) {
        String topic = message.topicName();
        if (!Topics.validName(topic)) {
            LOG.warnf(
                    "MQTT client %s published to the invalid topic '%s': disconnected",
                    connection.session.clientId, topic);
            connection.endpoint.close();
            return;
        }
        int qos = message.qosLevel().value();
        if (qos == 2 && !connection.session.received.add(message.messageId())) {
            connection.endpoint.publishReceived(message.messageId()); // sent again before PUBREL: once is enough
            return;
        }
        route(topic, message.payload().getBytes(), qos, message.isRetain());
        if (qos == 1) {
            connection.endpoint.publishAcknowledge(message.messageId());
        } else if (qos == 2) {
            connection.endpoint.publishReceived(message.messageId());
        }
    }

    /** Delivers a message to every session that subscribed to its topic; what is queued is in the log on return. */
    private void route(String topic, byte[] payload, int qos, boolean retain) {
        if (retain) {
            if (payload.length == 0) {
                retained.remove(topic);
            } else {
                retained.put(topic, payload);
            }
            log.retain(topic, payload);
        }
        BrokerLog.Message message = null;
        List<BrokerSession> queued = new ArrayList<>();
        List<String> persistent = new ArrayList<>();
        for (BrokerSession session : sessions.values()) {
            int granted = session.qosFor(topic);
            if (granted < 0) {
                continue;
            }
            if (Math.min(qos, granted) == 0) {
                if (session.connection != null) {
                    session.connection.send(topic, payload, MqttQoS.AT_MOST_ONCE, false, false, 0);
                }
                continue;
            }
            if (message == null) {
                message = new BrokerLog.Message(nextSeq++, topic, payload);
            }
            queued.add(session);
            if (session.persistent) {
                persistent.add(session.clientId);
            }
        }
        if (!persistent.isEmpty()) {
            log.message(message, persistent);
        }
        for (BrokerSession session : queued) {
            enqueue(session, new BrokerSession.Queued(message, session.persistent, false, false));
        }
    }

    private void enqueue(BrokerSession session, BrokerSession.Queued queued) {
        List<BrokerSession.Queued> gone = session.add(queued, limit);
        for (BrokerSession.Queued oldest : gone) {
            if (oldest.logged()) {
                log.ack(session.clientId, oldest.message().seq());
            }
            dropped++;
        }
        if (!gone.isEmpty() && session.startsOverflowing()) {
            LOG.warnf(
                    "MQTT client %s %s and the messages queued for it reached the most the embedded broker keeps"
                            + " (%d messages, %d MiB: loom.embedded.broker.max-queued, max-queued-bytes): the oldest"
                            + " are dropped from now on; for a LoomDB node, anti-entropy brings it what it missed",
                    session.clientId,
                    session.connection == null ? "is away" : "reads too slowly",
                    limit.messages(),
                    limit.bytes() >> 20);
        }
        pump(session);
    }

    /** Sends what is queued for a connected session, up to {@link #WINDOW} unacknowledged. */
    private void pump(BrokerSession session) {
        Connection connection = session.connection;
        if (connection == null) {
            return;
        }
        while (session.inflight.size() < WINDOW && !session.queue.isEmpty()) {
            BrokerSession.Queued next = session.queue.poll();
            int id = session.packetId();
            session.inflight.put(id, next); // sent again on the next connection if this one is closing
            if (!connection.send(
                    next.message().topic(),
                    next.message().payload(),
                    MqttQoS.AT_LEAST_ONCE,
                    next.dup(),
                    next.retain(),
                    id)) {
                break;
            }
        }
        session.settle(limit);
    }

    private void acknowledged(BrokerSession session, int packetId) {
        BrokerSession.Queued done = session.acknowledged(packetId);
        if (done != null && done.logged()) {
            log.ack(session.clientId, done.message().seq());
        }
        pump(session);
    }

    // --- subscriptions -------------------------------------------------------------------------------

    private void subscribe(Connection connection, MqttSubscribeMessage message) {
        BrokerSession session = connection.session;
        List<MqttQoS> granted = new ArrayList<>();
        Map<String, Integer> added = new LinkedHashMap<>();
        for (MqttTopicSubscription subscription : message.topicSubscriptions()) {
            String filter = subscription.topicName();
            if (!Topics.validFilter(filter)) {
                granted.add(MqttQoS.FAILURE);
                continue;
            }
            int qos = Math.min(1, subscription.qualityOfService().value());
            session.subscriptions.put(filter, qos);
            added.put(filter, qos);
            if (session.persistent) {
                log.subscribe(session.clientId, filter, qos);
            }
            granted.add(MqttQoS.valueOf(qos));
        }
        log.flush();
        connection.endpoint.subscribeAcknowledge(message.messageId(), granted);
        for (Map.Entry<String, byte[]> kept : retained.entrySet()) {
            int qos = -1;
            for (Map.Entry<String, Integer> filter : added.entrySet()) {
                if (Topics.matches(filter.getKey(), kept.getKey())) {
                    qos = Math.max(qos, filter.getValue());
                }
            }
            if (qos == 0) {
                connection.send(kept.getKey(), kept.getValue(), MqttQoS.AT_MOST_ONCE, false, true, 0);
            } else if (qos == 1) {
                // not in the log: a client that comes back subscribes again and is sent it again
                enqueue(
                        session,
                        new BrokerSession.Queued(
                                new BrokerLog.Message(-1, kept.getKey(), kept.getValue()), false, true, false));
            }
        }
    }

    private void unsubscribe(Connection connection, MqttUnsubscribeMessage message) {
        BrokerSession session = connection.session;
        for (String filter : message.topics()) {
            if (session.subscriptions.remove(filter) != null && session.persistent) {
                log.unsubscribe(session.clientId, filter);
            }
        }
        log.flush();
        connection.endpoint.unsubscribeAcknowledge(message.messageId());
    }

    // --- upkeep --------------------------------------------------------------------------------------

    private void sync() {
        if (closed) {
            return;
        }
        log.force();
        if (log.wantsCompaction()) {
            compact();
        }
    }

    private void compact() {
        long before = log.size();
        List<BrokerLog.SavedSession> live = new ArrayList<>();
        for (BrokerSession session : sessions.values()) {
            if (!session.persistent) {
                continue;
            }
            BrokerLog.SavedSession saved = new BrokerLog.SavedSession(session.clientId);
            saved.subscriptions.putAll(session.subscriptions);
            saved.lastSeen = session.connection == null ? session.lastSeen : 0;
            for (BrokerSession.Queued queued : session.inflight.values()) {
                if (queued.logged()) {
                    saved.queue.put(queued.message().seq(), queued.message());
                }
            }
            for (BrokerSession.Queued queued : session.queue) {
                if (queued.logged()) {
                    saved.queue.put(queued.message().seq(), queued.message());
                }
            }
            live.add(saved);
        }
        try {
            log.rewrite(live, retained);
            LOG.debugf("Embedded MQTT broker's log compacted from %d to %d bytes", before, log.size());
        } catch (IOException e) {
            LOG.errorf(
                    "The embedded MQTT broker could not compact its log: %s (it keeps growing until it can)",
                    e.getMessage());
        }
    }

    private void expireSessions() {
        long now = System.currentTimeMillis();
        Iterator<BrokerSession> all = sessions.values().iterator();
        while (all.hasNext()) {
            BrokerSession session = all.next();
            if (session.connection == null && now - session.lastSeen > sessionExpiry.toMillis()) {
                LOG.infof(
                        "MQTT client %s has been away longer than %s (loom.embedded.broker.session-expiry): its session"
                                + " and %d queued messages are dropped",
                        session.clientId, sessionExpiry, session.queue.size());
                all.remove();
                if (session.persistent) {
                    log.drop(session.clientId);
                }
            }
        }
        log.flush();
    }

    private static byte[] sha256(String text) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        try {
            onContext(() -> {
                closed = true;
                return server == null
                        ? CompletableFuture.completedFuture(null)
                        : server.close().toCompletionStage().toCompletableFuture();
            });
        } catch (RuntimeException e) {
            LOG.warnf("Stopping the embedded MQTT broker: %s", e.getMessage());
        }
        try {
            onContext(() -> {
                log.close();
                return CompletableFuture.completedFuture(null);
            });
        } catch (RuntimeException e) {
            LOG.warnf("Closing the embedded MQTT broker's log: %s", e.getMessage());
        }
        vertx.close()
                .toCompletionStage()
                .toCompletableFuture()
                .orTimeout(10, TimeUnit.SECONDS)
                .exceptionally(e -> null)
                .join();
        LOG.info("Embedded MQTT broker stopped");
    }
}
