package dev.loomdb.edge.it;

import io.netty.handler.codec.mqtt.MqttQoS;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.mqtt.MqttClient;
import io.vertx.mqtt.MqttClientOptions;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A raw MQTT client for tests: watches topics and publishes hand-made messages. It waits for each
 * PUBACK, and when the broker drops its connection it reconnects and publishes again what was not
 * acknowledged. A watching probe whose connection the broker closes connects and subscribes again,
 * as the node's own client does (a broker just restarted from its save may close a connection it
 * has just accepted).
 */
public final class MqttProbe implements AutoCloseable {

    public record Message(String topic, byte[] payload) {
        public String text() {
            return new String(payload, StandardCharsets.UTF_8);
        }
    }

    private final Vertx vertx = Vertx.vertx();
    private final Context context = vertx.getOrCreateContext();
    private final String host;
    private final int port;
    private final String filter;
    private final String clientId;
    private final boolean cleanSession;
    private final List<Message> messages = new CopyOnWriteArrayList<>();
    private final Map<Integer, CompletableFuture<Void>> awaitingAck = new ConcurrentHashMap<>();
    private volatile MqttClient client;
    private volatile boolean closing;
    private volatile boolean sessionPresent;
    /** Connections this probe dropped itself: their close is not the broker's doing. */
    private final java.util.Set<MqttClient> retired = ConcurrentHashMap.newKeySet();

    private volatile MqttClient subscribedOn;

    /**
     * Whether the broker acknowledged the subscription of the current connection (SUBACK): only then
     * does the probe see what is published. A broker just restarted may drop a SUBSCRIBE on a
     * connection it closes; the probe then connects and subscribes again.
     */
    public boolean subscribed() {
        return filter != null && subscribedOn != null && subscribedOn == client;
    }

    /** Whether the broker said, on the last connection, that it still held this client's session. */
    public boolean sessionPresent() {
        return sessionPresent;
    }

    public MqttProbe(String host, int port, String filter) throws Exception {
        this(host, port, filter, "probe-" + Infra.suffix(), true);
    }

    /** A probe with a given client id; with {@code cleanSession} false the broker keeps its session and queue. */
    public MqttProbe(String host, int port, String filter, String clientId, boolean cleanSession) throws Exception {
        this.host = host;
        this.port = port;
        this.filter = filter;
        this.clientId = clientId;
        this.cleanSession = cleanSession;
        reconnect(); // connects, trying again when a broker just restarted drops the first connection
    }

    /**
     * One connection: ready once the broker acknowledged the subscription (SUBACK), or the connection
     * when there is none to make. A connection the broker closes before that fails, and is dropped.
     */
    private void connect() throws Exception {
        CompletableFuture<Void> ready = new CompletableFuture<>();
        AtomicReference<MqttClient> made = new AtomicReference<>();
        context.runOnContext(v -> {
            MqttClientOptions options = new MqttClientOptions()
                    .setClientId(clientId)
                    .setCleanSession(cleanSession)
                    .setMaxMessageSize(16 * 1024 * 1024)
                    .setMaxInflightQueue(10_000);
            MqttClient next = MqttClient.create(vertx, options);
            made.set(next);
            next.publishHandler(
                    m -> messages.add(new Message(m.topicName(), m.payload().getBytes())));
            next.subscribeCompletionHandler(ack -> {
                subscribedOn = next;
                client = next;
                ready.complete(null);
            });
            next.closeHandler(x -> {
                if (!ready.isDone()) {
                    ready.completeExceptionally(new IllegalStateException(
                            "the broker closed the connection before it acknowledged the subscription"));
                } else if (filter != null && !closing && !retired.contains(next)) {
                    vertx.setTimer(
                            300,
                            id -> vertx.executeBlocking(() -> {
                                reconnect();
                                return null;
                            }));
                }
            });
            next.publishCompletionHandler(id -> {
                CompletableFuture<Void> acked = awaitingAck.remove(id);
                if (acked != null) {
                    acked.complete(null);
                }
            });
            next.connect(port, host)
                    .compose(ack -> {
                        sessionPresent = ack.isSessionPresent();
                        if (filter == null) {
                            client = next;
                            ready.complete(null);
                            return io.vertx.core.Future.succeededFuture(0);
                        }
                        return next.subscribe(filter, 1);
                    })
                    .onFailure(ready::completeExceptionally);
        });
        try {
            ready.get(10, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException e) {
            MqttClient failed = made.get();
            if (failed != null) {
                retired.add(failed);
                context.runOnContext(v -> {
                    if (failed.isConnected()) {
                        failed.disconnect();
                    }
                });
            }
            throw e;
        }
    }

    public List<Message> messages() {
        return List.copyOf(messages);
    }

    /** The messages seen, each distinct payload once. */
    public List<Message> distinctMessages() {
        Map<String, Message> distinct = new LinkedHashMap<>();
        for (Message m : messages) {
            distinct.putIfAbsent(m.topic() + "\n" + m.text(), m);
        }
        return List.copyOf(distinct.values());
    }

    public List<Message> on(String topic) {
        return messages.stream()
                .filter(m -> m.topic().equals(topic) || m.topic().startsWith(topic + "/"))
                .toList();
    }

    /** Publishes with QoS 1 and waits for the broker's PUBACK, reconnecting and sending again if it drops us. */
    public void publish(String topic, byte[] payload) throws Exception {
        publish(topic, payload, false);
    }

    /** Publishes a retained message with QoS 1 and waits for the broker's PUBACK. */
    public void publishRetained(String topic, byte[] payload) throws Exception {
        publish(topic, payload, true);
    }

    private void publish(String topic, byte[] payload, boolean retain) throws Exception {
        for (int attempt = 1; ; attempt++) {
            try {
                publishOnce(topic, payload, retain);
                return;
            } catch (ExecutionException | TimeoutException e) {
                if (attempt == 5) {
                    throw e;
                }
                reconnect();
            }
        }
    }

    /** Drops the current connection and connects again, for as long as a broker restart may take. */
    private void reconnect() throws Exception {
        MqttClient stale = client;
        if (stale != null) {
            retired.add(stale);
        }
        context.runOnContext(v -> {
            if (stale != null && stale.isConnected()) {
                stale.disconnect();
            }
        });
        for (int attempt = 1; ; attempt++) {
            try {
                connect();
                return;
            } catch (ExecutionException | TimeoutException e) {
                if (attempt == 3) {
                    throw e;
                }
            }
        }
    }

    private void publishOnce(String topic, byte[] payload, boolean retain) throws Exception {
        CompletableFuture<Void> acked = new CompletableFuture<>();
        MqttClient current = client;
        context.runOnContext(v -> current.publish(topic, Buffer.buffer(payload), MqttQoS.AT_LEAST_ONCE, false, retain)
                .onSuccess(id -> awaitingAck.put(id, acked))
                .onFailure(acked::completeExceptionally));
        acked.get(5, TimeUnit.SECONDS);
    }

    @Override
    public void close() {
        closing = true;
        try {
            MqttClient current = client;
            CompletableFuture<Void> gone = new CompletableFuture<>();
            context.runOnContext(v -> current.disconnect().onComplete(x -> gone.complete(null)));
            gone.get(5, TimeUnit.SECONDS);
        } catch (Exception ignored) {
            // the broker may already be gone
        }
        vertx.close();
    }
}
