package dev.loomdb.edge.it;

import io.netty.handler.codec.mqtt.MqttQoS;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.mqtt.MqttClient;
import io.vertx.mqtt.MqttClientOptions;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/** A raw MQTT client for tests: watches topics and publishes hand-made messages. */
public final class MqttProbe implements AutoCloseable {

    public record Message(String topic, byte[] payload) {
        public String text() {
            return new String(payload, StandardCharsets.UTF_8);
        }
    }

    private final Vertx vertx = Vertx.vertx();
    private final io.vertx.core.Context context = vertx.getOrCreateContext();
    private final String host;
    private final int port;
    private final String filter;
    private MqttClient client;
    private final List<Message> messages = new CopyOnWriteArrayList<>();

    public MqttProbe(String host, int port, String filter) throws Exception {
        this.host = host;
        this.port = port;
        this.filter = filter;
        connect();
    }

    private void connect() throws Exception {
        client = MqttClient.create(vertx, new MqttClientOptions().setClientId("probe-" + Infra.suffix())
                .setCleanSession(true).setMaxMessageSize(16 * 1024 * 1024).setMaxInflightQueue(10_000));
        client.publishHandler(m -> messages.add(new Message(m.topicName(), m.payload().getBytes())));
        client.connect(port, host).toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        if (filter != null) {
            client.subscribe(filter, 1).toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        }
    }

    public List<Message> messages() {
        return List.copyOf(messages);
    }

    /** The messages seen, each distinct payload once. */
    public List<Message> distinctMessages() {
        java.util.Map<String, Message> distinct = new java.util.LinkedHashMap<>();
        for (Message m : messages) {
            distinct.putIfAbsent(m.topic() + "\n" + m.text(), m);
        }
        return List.copyOf(distinct.values());
    }

    public List<Message> on(String topic) {
        return messages.stream().filter(m -> m.topic().equals(topic)).toList();
    }

    /** Publishes with QoS 1 from the client's own event loop (the client is not thread-safe); waits until it is sent. */
    public void publish(String topic, byte[] payload) throws Exception {
        for (int attempt = 1; ; attempt++) {
            try {
                publishOnce(topic, payload);
                return;
            } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
                if (attempt == 5) {
                    throw e;
                }
                // the broker dropped or stalled the connection: a real client reconnects and sends again
                MqttClient stale = client;
                context.runOnContext(v -> stale.disconnect());
                connect();
            }
        }
    }

    private void publishOnce(String topic, byte[] payload) throws Exception {
        java.util.concurrent.CompletableFuture<Integer> done = new java.util.concurrent.CompletableFuture<>();
        context.runOnContext(v -> client.publish(topic, Buffer.buffer(payload), MqttQoS.AT_LEAST_ONCE, false, false)
                .onComplete(ar -> {
                    if (ar.succeeded()) {
                        done.complete(ar.result());
                    } else {
                        done.completeExceptionally(ar.cause());
                    }
                }));
        done.get(10, TimeUnit.SECONDS);
    }

    @Override
    public void close() {
        try {
            client.disconnect().toCompletionStage().toCompletableFuture().get(5, TimeUnit.SECONDS);
        } catch (Exception ignored) {
            // the broker may already be gone
        }
        vertx.close();
    }
}
