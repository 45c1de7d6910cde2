package dev.loomdb.edge.mesh;

import dev.loomdb.edge.flow.Delivery;
import dev.loomdb.edge.telemetry.SyncEvent;
import dev.loomdb.edge.telemetry.SyncEvents;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.mqtt.MqttQoS;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.mqtt.MqttClient;
import io.vertx.mqtt.MqttClientOptions;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import org.jboss.logging.Logger;

/**
 * The node's connections to the broker (MQTT 3.1.1), kept up for as long as sync runs:
 * <ul>
 *   <li>the <em>inbound</em> connection, a persistent session (client id {@code loom-<mesh>-<node-id>})
 *       subscribed to the mesh's changes, acknowledging each message by hand once it is handled;
 *   <li>the <em>outbound</em> connection ({@code <client id>-out}, clean session, no subscriptions),
 *       which publishes with QoS 1 and reports each publication done only when its PUBACK arrives.
 * </ul>
 * Two connections, because a broker writes its PUBACKs on the connection that also carries the
 * deliveries to that client: behind large deliveries, a broker may delay or even drop them (the
 * embedded Moquette drops what it cannot write at once), and publications would wait for nothing.
 * Everything runs on one Vert.x context, so its state needs no locks.
 */
public final class MeshLink {

    private static final Logger LOG = Logger.getLogger(MeshLink.class);

    private static final long CONNECT_TIMEOUT_MILLIS = 10_000;

    private final Vertx vertx;
    private final Context context;
    private final MeshSettings settings;
    private final Consumer<Delivery> deliveries;
    private final SyncEvents events;
    private final Map<Integer, Promise<Void>> awaitingAck = new HashMap<>();
    private final Set<Integer> earlyAcks = new HashSet<>();
    private MqttClient inbound;
    private MqttClient outbound;
    private volatile boolean inboundUp;
    private volatile boolean outboundUp;
    private volatile boolean running;
    private boolean reported;
    /** The server (index into settings.servers()) each connection uses or tries next. */
    private int inboundAt;

    private int outboundAt;
    private byte[] presenceOnline;
    private byte[] presenceOffline;
    private volatile List<String> former = List.of();
    /** The broker should hold this node's session: it connected before (on an earlier run or in this one). */
    private volatile boolean sessionExpected;

    private volatile Runnable subscribed = () -> {};

    /** What each message becomes on the wire, by topic: compressed, encrypted, signed, or as it is. */
    private final java.util.function.BiFunction<String, byte[], byte[]> outgoing;

    /** {@code context}: the event loop both connections and every callback of this link run on. */
    public MeshLink(
            Vertx vertx,
            Context context,
            MeshSettings settings,
            Consumer<Delivery> deliveries,
            SyncEvents events,
            java.util.function.BiFunction<String, byte[], byte[]> outgoing) {
        this.outgoing = outgoing;
        this.vertx = vertx;
        this.events = events;
        this.context = context;
        this.settings = settings;
        this.deliveries = deliveries;
    }

    public void start() {
        running = true;
        context.runOnContext(v -> {
            connectInbound();
            connectOutbound();
        });
    }

    /** Both connections are up: the node receives and can publish. */
    public boolean isConnected() {
        return inboundUp && outboundUp;
    }

    /**
     * Filters an earlier run may have left in this node's persistent session and that it must no
     * longer receive (types it stopped following): unsubscribed before subscribing, on the first connection
     * (the session then no longer holds them). {@code subscribed} runs once the broker holds this run's
     * filters. Set before {@link #start()}.
     */
    public void replaceFilters(List<String> former, Runnable subscribed) {
        this.former = List.copyOf(former);
        this.subscribed = subscribed;
    }

    /** This node connected to the broker on an earlier run: the broker should still hold its session. */
    public void expectSession() {
        sessionExpected = true;
    }

    /** The topic filters this node is subscribed to while connected. */
    public List<String> subscriptions() {
        return inboundUp ? settings.filters() : List.of();
    }

    /**
     * What this node says of itself on its retained presence topic while its outbound connection is
     * up ({@code online}), and what the broker says for it when the connection dies ({@code offline},
     * the connection's will). Set before {@link #start()}.
     */
    public void presence(byte[] online, byte[] offline) {
        context.runOnContext(v -> {
            boolean changed = presenceOnline != null;
            this.presenceOnline = outgoing.apply(settings.presenceTopic(), online);
            this.presenceOffline = outgoing.apply(settings.presenceTopic(), offline);
            if (changed && outboundUp) {
                send(settings.presenceTopic(), presenceOnline, true)
                        .onFailure(e -> LOG.debugf("Could not publish this node's presence: %s", e.getMessage()));
            }
        });
    }

    /** Publishes with QoS 1, retained; the future completes on the broker's acknowledgement. */
    public Future<Void> publishRetained(String topic, byte[] payload) {
        return publish(topic, payload, true);
    }

    /** Publishes with QoS 1; the future completes when the broker has acknowledged the message. */
    public Future<Void> publish(String topic, byte[] payload) {
        return publish(topic, payload, false);
    }

    private Future<Void> publish(String topic, byte[] payload, boolean retain) {
        return send(topic, outgoing.apply(topic, payload), retain);
    }

    /** Publishes a message as it is (signed already). */
    private Future<Void> send(String topic, byte[] payload, boolean retain) {
        Promise<Void> acked = Promise.promise();
        context.runOnContext(v -> {
            if (!outboundUp || outbound == null) {
                acked.fail("not connected to the MQTT broker at "
                        + settings.servers().get(outboundAt));
                return;
            }
            outbound.publish(topic, Buffer.buffer(payload), MqttQoS.AT_LEAST_ONCE, false, retain)
                    .onSuccess(packetId -> {
                        if (earlyAcks.remove(packetId)) {
                            acked.tryComplete();
                        } else {
                            awaitingAck.put(packetId, acked);
                        }
                    })
                    .onFailure(acked::tryFail);
        });
        return acked.future();
    }

    /** The server after {@code at} in loom.mqtt.servers (the same one when there is one). */
    private int next(int at) {
        return (at + 1) % settings.servers().size();
    }

    /** The broker server the node receives from (or tries next). */
    public String server() {
        return settings.servers().get(inboundAt).toString();
    }

    private MqttClientOptions options(String clientId, boolean cleanSession, MeshSettings.Server server) {
        MqttClientOptions options = new MqttClientOptions()
                .setClientId(clientId)
                .setCleanSession(cleanSession)
                .setKeepAliveInterval(30)
                .setAutoKeepAlive(true)
                .setMaxInflightQueue(settings.maxInflight() + 16)
                .setMaxMessageSize(settings.maxMessageSize())
                .setAckTimeout(30);
        options.setAutoAck(false);
        settings.username().ifPresent(options::setUsername);
        settings.password().ifPresent(options::setPassword);
        MeshSettings.Tls tls = settings.tls();
        if (server.tls()) {
            options.setSsl(true);
            options.setHostnameVerificationAlgorithm(tls.verifyHost() ? "HTTPS" : "");
            tls.trustStore().ifPresent(path -> {
                String password = tls.trustStorePassword().orElse("");
                if (path.endsWith(".p12") || path.endsWith(".pfx")) {
                    options.setTrustOptions(
                            new io.vertx.core.net.PfxOptions().setPath(path).setPassword(password));
                } else if (path.endsWith(".jks")) {
                    options.setTrustOptions(
                            new io.vertx.core.net.JksOptions().setPath(path).setPassword(password));
                } else {
                    options.setTrustOptions(new io.vertx.core.net.PemTrustOptions().addCertPath(path));
                }
            });
            tls.keyStore().ifPresent(path -> {
                String password = tls.keyStorePassword().orElse("");
                options.setKeyCertOptions(
                        path.endsWith(".jks")
                                ? new io.vertx.core.net.JksOptions()
                                        .setPath(path)
                                        .setPassword(password)
                                : new io.vertx.core.net.PfxOptions()
                                        .setPath(path)
                                        .setPassword(password));
            });
        }
        return options;
    }

    /**
     * The bytes of a received message, without a second copy where the MQTT client's buffer is one array of
     * exactly those bytes (an unpooled heap buffer of the message's own, as it hands them over). A delivery
     * keeps its message until acknowledged (the acknowledgement needs it), so a copy held every queued
     * message twice: a burst of 235 KB envelopes ran a receiver with a 48 MiB heap out of memory.
     */
    static byte[] payloadBytes(Buffer payload) {
        io.netty.buffer.ByteBuf buf = payload.getByteBuf();
        if (buf.hasArray()
                && buf.arrayOffset() == 0
                && buf.readerIndex() == 0
                && buf.readableBytes() == buf.array().length) {
            return buf.array();
        }
        return payload.getBytes();
    }

    private void connectInbound() {
        if (!running) {
            return;
        }
        MeshSettings.Server server = settings.servers().get(inboundAt);
        MqttClient attempt = MqttClient.create(vertx, options(settings.clientId(), false, server));
        attempt.publishHandler(message ->
                deliveries.accept(new Delivery(message.topicName(), payloadBytes(message.payload()), message::ack)));
        attempt.closeHandler(v -> inboundLost(attempt));
        attempt.exceptionHandler(this::inboundError);
        establish(
                attempt,
                server,
                "inbound",
                true,
                () -> {
                    inboundAt = next(inboundAt);
                    connectInbound();
                },
                () -> {
                    inbound = attempt;
                    inboundUp = true;
                    former = List.of(); // the session no longer holds them
                    Runnable done = subscribed;
                    subscribed = () -> {};
                    done.run();
                    LOG.infof(
                            "Connected to the MQTT broker at %s as %s, subscribed to %s",
                            server, settings.clientId(), settings.filters());
                    reportConnection();
                });
    }

    private void inboundError(Throwable e) {
        boolean tooLong = e instanceof TooLongFrameException || e.getCause() instanceof TooLongFrameException;
        if (!tooLong) {
            LOG.debugf("MQTT connection error (inbound): %s", e.getMessage());
            return;
        }
        LOG.errorf(
                "The broker delivered a message larger than this node's loom.mqtt.max-message-size (%d bytes): %s."
                        + " The connection closes, and the broker delivers it again after each reconnection, so"
                        + " nothing after it arrives. Use the same loom.mqtt.max-message-size on every node of the"
                        + " mesh: a node splits what it publishes to fit its own.",
                settings.maxMessageSize(), e.getMessage());
    }

    private void connectOutbound() {
        if (!running) {
            return;
        }
        MeshSettings.Server server = settings.servers().get(outboundAt);
        MqttClientOptions outOptions = options(settings.clientId() + "-out", true, server);
        if (presenceOffline != null) {
            outOptions
                    .setWillFlag(true)
                    .setWillTopic(settings.presenceTopic())
                    .setWillMessageBytes(Buffer.buffer(presenceOffline))
                    .setWillQoS(MqttQoS.AT_LEAST_ONCE.value())
                    .setWillRetain(true);
        }
        MqttClient attempt = MqttClient.create(vertx, outOptions);
        attempt.publishCompletionHandler(this::acknowledged);
        attempt.publishCompletionExpirationHandler(packetId -> failAck(packetId, "no PUBACK from the broker in time"));
        attempt.closeHandler(v -> outboundLost(attempt));
        attempt.exceptionHandler(e -> LOG.debugf("MQTT connection error (outbound): %s", e.getMessage()));
        establish(
                attempt,
                server,
                "outbound",
                false,
                () -> {
                    outboundAt = next(outboundAt);
                    connectOutbound();
                },
                () -> {
                    outbound = attempt;
                    outboundUp = true;
                    if (presenceOnline != null) {
                        send(settings.presenceTopic(), presenceOnline, true)
                                .onFailure(
                                        e -> LOG.debugf("Could not publish this node's presence: %s", e.getMessage()));
                    }
                    reportConnection();
                });
    }

    private Map<String, Integer> subscriptionQos() {
        Map<String, Integer> filters = new java.util.LinkedHashMap<>();
        for (String filter : settings.filters()) {
            filters.put(filter, MqttQoS.AT_LEAST_ONCE.value());
        }
        return filters;
    }

    /**
     * A broker that no longer holds this node's session (it expired while the node was away, or the broker
     * lost its store) dropped what it queued for the node: anti-entropy brings it, in the round that
     * follows every connection.
     */
    private void sessionKept(boolean present) {
        if (sessionExpected && !present) {
            LOG.warnf(
                    "The MQTT broker at %s no longer held this node's session (%s): the changes it queued for this"
                            + " node while it was away are gone; anti-entropy brings them in the round that follows"
                            + " this connection (the broker's session expiry: loom.embedded.broker.session-expiry on"
                            + " the embedded broker, persistent_client_expiration on Mosquitto)",
                    settings.servers().get(inboundAt), settings.clientId());
            events.emit(SyncEvent.of(
                    SyncEvent.Kind.SYNC_ERROR,
                    null,
                    "the broker no longer held this node's session; anti-entropy mends"));
        }
        sessionExpected = true;
    }

    private Future<Void> unsubscribeFormer(MqttClient attempt) {
        Future<Void> done = Future.succeededFuture();
        for (String filter : former) {
            done = done.compose(v -> attempt.unsubscribe(filter).mapEmpty());
        }
        return done;
    }

    /** Connects (and subscribes), within a time limit; on failure, tries again after the reconnect interval. */
    private void establish(
            MqttClient attempt,
            MeshSettings.Server server,
            String role,
            boolean subscribe,
            Runnable retry,
            Runnable up) {
        Promise<Void> settled = Promise.promise();
        long timer = vertx.setTimer(CONNECT_TIMEOUT_MILLIS, id -> {
            if (settled.tryFail(
                    "no CONNACK" + (subscribe ? " and SUBACK" : "") + " within " + CONNECT_TIMEOUT_MILLIS + " ms")) {
                LOG.warnf(
                        "The MQTT broker at %s did not complete the %s connection in time; trying again%s",
                        server, role, alternatives(server));
                attempt.disconnect();
                later(retry);
            }
        });
        attempt.connect(server.port(), server.host())
                .compose(connAck -> {
                    if (subscribe) {
                        sessionKept(connAck.isSessionPresent());
                    }
                    return subscribe ? unsubscribeFormer(attempt) : Future.<Void>succeededFuture();
                })
                .compose(v ->
                        subscribe ? attempt.subscribe(subscriptionQos()).mapEmpty() : Future.<Void>succeededFuture())
                .onComplete(ar -> vertx.cancelTimer(timer))
                .onSuccess(x -> {
                    if (settled.tryComplete()) {
                        up.run();
                    }
                })
                .onFailure(e -> {
                    if (!settled.tryFail(e)) {
                        return;
                    }
                    LOG.warnf(
                            "Cannot reach the MQTT broker at %s (%s); trying again in %d ms%s (settings"
                                    + " loom.mqtt.servers, or loom.mqtt.host and loom.mqtt.port%s)",
                            server,
                            e.getMessage(),
                            settings.reconnectInterval().toMillis(),
                            alternatives(server),
                            server.tls()
                                    ? "; TLS: loom.mqtt.tls.trust-store must hold the CA of the broker's certificate,"
                                            + " which must name the host (or loom.mqtt.tls.verify-host=false)"
                                    : "");
                    if (attempt.isConnected()) {
                        attempt.disconnect();
                    }
                    later(retry);
                });
    }

    /** ", at host:port" when loom.mqtt.servers names another server to try next. */
    private String alternatives(MeshSettings.Server server) {
        return settings.servers().size() < 2 ? "" : ", at " + after(server);
    }

    /** The server of loom.mqtt.servers after {@code server}. */
    private MeshSettings.Server after(MeshSettings.Server server) {
        return settings.servers().get(next(settings.servers().indexOf(server)));
    }

    private void inboundLost(MqttClient which) {
        if (which != inbound) {
            return;
        }
        inboundUp = false;
        inbound = null;
        MeshSettings.Server was = settings.servers().get(inboundAt);
        inboundAt = next(inboundAt); // a lost server may be gone: the next of loom.mqtt.servers first
        lost("inbound", was, this::connectInbound);
    }

    private void outboundLost(MqttClient which) {
        if (which != outbound) {
            return;
        }
        outboundUp = false;
        outbound = null;
        for (Integer packetId : List.copyOf(awaitingAck.keySet())) {
            failAck(packetId, "the connection to the broker closed before its PUBACK");
        }
        earlyAcks.clear();
        MeshSettings.Server was = settings.servers().get(outboundAt);
        outboundAt = next(outboundAt);
        lost("outbound", was, this::connectOutbound);
    }

    private void lost(String role, MeshSettings.Server was, Runnable reconnect) {
        reportConnection();
        if (running) {
            LOG.warnf(
                    "Lost the %s connection to the MQTT broker at %s; reconnecting%s. Unacknowledged changes will be"
                            + " sent again.",
                    role, was, settings.servers().size() < 2 ? "" : " to " + after(was));
            later(reconnect);
        }
    }

    /** sync-connected when both connections are up, sync-disconnected when one of them goes. */
    private void reportConnection() {
        boolean now = isConnected();
        if (now && !reported) {
            reported = true;
            events.emit(SyncEvent.of(
                    SyncEvent.Kind.SYNC_CONNECTED,
                    null,
                    "connected to the MQTT broker at " + settings.servers().get(inboundAt)));
        } else if (!now && reported) {
            reported = false;
            events.emit(SyncEvent.of(
                    SyncEvent.Kind.SYNC_DISCONNECTED,
                    null,
                    running
                            ? "disconnected from the MQTT broker at "
                                    + settings.servers().get(inboundAt)
                            : "sync stopped"));
        }
    }

    private void later(Runnable action) {
        if (running) {
            vertx.setTimer(
                    Math.max(1, settings.reconnectInterval().toMillis()),
                    id -> context.runOnContext(v -> action.run()));
        }
    }

    private void acknowledged(int packetId) {
        Promise<Void> promise = awaitingAck.remove(packetId);
        if (promise != null) {
            promise.tryComplete();
        } else {
            earlyAcks.add(packetId);
        }
    }

    private void failAck(int packetId, String reason) {
        Promise<Void> promise = awaitingAck.remove(packetId);
        if (promise != null) {
            promise.tryFail(reason);
        }
    }

    /** Disconnects cleanly; the persistent session keeps what the broker still holds for this node. */
    public Future<Void> stop() {
        running = false;
        Promise<Void> done = Promise.promise();
        context.runOnContext(v -> {
            MqttClient in = inbound;
            MqttClient out = outbound;
            inbound = null;
            outbound = null;
            inboundUp = false;
            outboundUp = false;
            reportConnection();
            Future<Void> closing = Future.succeededFuture();
            if (out != null && out.isConnected() && presenceOffline != null) {
                Promise<Void> said = Promise.promise();
                out.publish(settings.presenceTopic(), Buffer.buffer(presenceOffline), MqttQoS.AT_MOST_ONCE, false, true)
                        .onComplete(ar -> said.tryComplete());
                closing = said.future();
            }
            for (MqttClient client : new MqttClient[] {in, out}) {
                if (client != null && client.isConnected()) {
                    closing = closing.compose(x -> client.disconnect().otherwiseEmpty());
                }
            }
            closing.onComplete(ar -> done.tryComplete());
        });
        return done.future();
    }
}
