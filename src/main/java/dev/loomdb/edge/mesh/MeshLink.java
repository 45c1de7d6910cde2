package dev.loomdb.edge.mesh;

import dev.loomdb.edge.telemetry.SyncEvent;
import dev.loomdb.edge.telemetry.SyncEvents;
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
 * The node's one MQTT connection (MQTT 3.1.1, persistent session): publishes with QoS 1 and
 * reports each publication done only when the broker's PUBACK arrives; receives the mesh's
 * messages with manual acknowledgement; reconnects for as long as the node runs. Everything runs
 * on one Vert.x context, so its state needs no locks.
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
    private MqttClient client;
    private volatile boolean connected;
    private volatile boolean running;

    public MeshLink(Vertx vertx, MeshSettings settings, Consumer<Delivery> deliveries, SyncEvents events) {
        this.vertx = vertx;
        this.events = events;
        this.context = vertx.getOrCreateContext();
        this.settings = settings;
        this.deliveries = deliveries;
    }

    public void start() {
        running = true;
        context.runOnContext(v -> connect());
    }

    public boolean isConnected() {
        return connected;
    }

    /** The topic filters this node is subscribed to while connected. */
    public List<String> subscriptions() {
        return connected ? List.of(settings.changesFilter()) : List.of();
    }

    /** Publishes with QoS 1; the future completes when the broker has acknowledged the message. */
    public Future<Void> publish(String topic, byte[] payload) {
        Promise<Void> acked = Promise.promise();
        context.runOnContext(v -> {
            if (!connected || client == null) {
                acked.fail("not connected to the MQTT broker at " + settings.host() + ":" + settings.port());
                return;
            }
            client.publish(topic, Buffer.buffer(payload), MqttQoS.AT_LEAST_ONCE, false, false)
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

    private void connect() {
        if (!running) {
            return;
        }
        MqttClientOptions options = new MqttClientOptions()
                .setClientId(settings.clientId())
                .setCleanSession(false)
                .setKeepAliveInterval(30)
                .setAutoKeepAlive(true)
                .setMaxInflightQueue(settings.maxInflight() + 16)
                .setMaxMessageSize(settings.maxMessageSize())
                .setAckTimeout(30);
        options.setAutoAck(false);
        settings.username().ifPresent(options::setUsername);
        settings.password().ifPresent(options::setPassword);
        MqttClient attempt = MqttClient.create(vertx, options);
        attempt.publishCompletionHandler(this::acknowledged);
        attempt.publishCompletionExpirationHandler(packetId -> failAck(packetId, "no PUBACK from the broker in time"));
        attempt.publishHandler(message -> deliveries.accept(
                new Delivery(message.topicName(), message.payload().getBytes(), message::ack)));
        attempt.closeHandler(v -> disconnected(attempt));
        attempt.exceptionHandler(e -> LOG.debugf("MQTT connection error: %s", e.getMessage()));
        Promise<Void> settled = Promise.promise();
        long timer = vertx.setTimer(CONNECT_TIMEOUT_MILLIS, id -> {
            if (settled.tryFail("no CONNACK and SUBACK within " + CONNECT_TIMEOUT_MILLIS + " ms")) {
                LOG.warnf("The MQTT broker at %s:%d did not complete the connection in time; trying again",
                        settings.host(), settings.port());
                attempt.disconnect();
                scheduleReconnect();
            }
        });
        attempt.connect(settings.port(), settings.host())
                .compose(connAck -> attempt.subscribe(settings.changesFilter(), MqttQoS.AT_LEAST_ONCE.value()))
                .onComplete(ar -> vertx.cancelTimer(timer))
                .onSuccess(packetId -> {
                    if (!settled.tryComplete()) {
                        return;
                    }
                    client = attempt;
                    connected = true;
                    LOG.infof("Connected to the MQTT broker at %s:%d as %s, subscribed to %s", settings.host(),
                            settings.port(), settings.clientId(), settings.changesFilter());
                    events.emit(SyncEvent.of(SyncEvent.Kind.SYNC_CONNECTED, null, "connected to the MQTT broker at "
                            + settings.host() + ":" + settings.port()));
                })
                .onFailure(e -> {
                    if (!settled.tryFail(e)) {
                        return;
                    }
                    LOG.warnf("Cannot reach the MQTT broker at %s:%d (%s); trying again in %d ms (settings"
                            + " loom.mqtt.host and loom.mqtt.port)", settings.host(), settings.port(), e.getMessage(),
                            settings.reconnectInterval().toMillis());
                    if (attempt.isConnected()) {
                        attempt.disconnect();
                    }
                    scheduleReconnect();
                });
    }

    private void disconnected(MqttClient which) {
        if (which != client) {
            return;
        }
        connected = false;
        client = null;
        for (Integer packetId : List.copyOf(awaitingAck.keySet())) {
            failAck(packetId, "the connection to the broker closed before its PUBACK");
        }
        earlyAcks.clear();
        events.emit(SyncEvent.of(SyncEvent.Kind.SYNC_DISCONNECTED, null, "disconnected from the MQTT broker at "
                + settings.host() + ":" + settings.port()));
        if (running) {
            LOG.warnf("Lost the MQTT broker at %s:%d; reconnecting. Unacknowledged changes will be sent again.",
                    settings.host(), settings.port());
            scheduleReconnect();
        }
    }

    private void scheduleReconnect() {
        if (running) {
            vertx.setTimer(Math.max(1, settings.reconnectInterval().toMillis()), id -> context.runOnContext(v -> connect()));
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
            MqttClient current = client;
            client = null;
            if (connected) {
                connected = false;
                events.emit(SyncEvent.of(SyncEvent.Kind.SYNC_DISCONNECTED, null, "sync stopped"));
            }
            if (current != null && current.isConnected()) {
                current.disconnect().onComplete(ar -> done.tryComplete());
            } else {
                done.tryComplete();
            }
        });
        return done.future();
    }
}
