package dev.loomdb.edge.bench;

import dev.loomdb.edge.it.Infra;
import dev.loomdb.edge.it.StandaloneBroker;
import io.netty.handler.codec.mqtt.MqttQoS;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.mqtt.MqttClient;
import io.vertx.mqtt.MqttClientOptions;
import java.util.Arrays;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Why the mesh publishes with its own Vert.x MQTT client and not through the SmallRye MQTT connector
 * (docs/change-feed.md): QoS 1 messages of 2 KiB to the same broker, three ways, rounds interleaved.
 * <ul>
 *   <li>the connector's way (smallrye-reactive-messaging-mqtt 4.33.0): one message at a time, each
 *       counted as sent when the PUBLISH is written (before the broker's PUBACK);
 *   <li>one at a time, each waiting for its PUBACK (what the connector would need to be safe for the
 *       slot's confirmation);
 *   <li>the mesh's way: up to 64 in flight, each done at its PUBACK.
 * </ul>
 */
class MqttPublishBench {

    private static final int ROUNDS = 5;
    private static final int MESSAGES = BenchResults.QUICK ? 5_000 : 50_000;
    private static final int WINDOW = 64;
    private static final Buffer PAYLOAD = Buffer.buffer(new byte[2048]);

    private enum Way {
        WRITTEN_ONE_AT_A_TIME,
        PUBACK_ONE_AT_A_TIME,
        PUBACK_PIPELINED
    }

    @Test
    void publishRates() throws Exception {
        Vertx vertx = Vertx.vertx();
        StandaloneBroker broker = null;
        try {
            String host = Infra.brokerHost();
            int port = Infra.brokerPort();
            if (!Infra.external()) {
                broker = new StandaloneBroker(Infra.workDir("mqtt-bench")).start();
                port = broker.port();
            }
            double[][] rates = new double[Way.values().length][ROUNDS];
            for (Way way : Way.values()) { // warm-up
                publish(vertx, host, port, way, MESSAGES / 5);
            }
            for (int r = 0; r < ROUNDS; r++) {
                for (Way way : Way.values()) {
                    rates[way.ordinal()][r] = publish(vertx, host, port, way, MESSAGES);
                }
            }
            System.out.printf("%nMQTT publish, QoS 1, 2 KiB: %s%n", Arrays.deepToString(rates));
            double[] connector = rates[Way.WRITTEN_ONE_AT_A_TIME.ordinal()];
            BenchResults.add(
                    "MQTT publish, mesh's way (64 in flight, done at PUBACK), messages/s",
                    rates[Way.PUBACK_PIPELINED.ordinal()],
                    connector,
                    "SmallRye MQTT connector's way (one at a time, done when written)",
                    "messages/s",
                    "the connector's way would also confirm the slot before the broker has the message");
            BenchResults.add(
                    "MQTT publish, one at a time done at PUBACK, messages/s",
                    rates[Way.PUBACK_ONE_AT_A_TIME.ordinal()],
                    connector,
                    "SmallRye MQTT connector's way (one at a time, done when written)",
                    "messages/s",
                    "what the connector would cost if it waited for PUBACK");
        } finally {
            if (broker != null) {
                broker.close();
            }
            vertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
        }
    }

    /** Messages/s from the first PUBLISH to the last one done the given way. */
    private static double publish(Vertx vertx, String host, int port, Way way, int messages) throws Exception {
        MqttClient client = MqttClient.create(
                vertx,
                new MqttClientOptions()
                        .setClientId("bench-" + Infra.suffix())
                        .setCleanSession(true)
                        // the connector's way: let the PUBACKs lag as far as they go (its best case)
                        .setMaxInflightQueue(way == Way.WRITTEN_ONE_AT_A_TIME ? 65_535 : WINDOW)
                        .setAutoKeepAlive(true));
        Semaphore window = new Semaphore(way == Way.PUBACK_PIPELINED ? WINDOW : 1);
        CountDownLatch done = new CountDownLatch(messages);
        client.publishCompletionHandler(packetId -> {
            if (way != Way.WRITTEN_ONE_AT_A_TIME) {
                window.release();
                done.countDown();
            }
        });
        client.connect(port, host).toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
        String topic = "loom/bench-publish/" + way.name().toLowerCase(java.util.Locale.ROOT);
        long start = System.nanoTime();
        for (int i = 0; i < messages; i++) {
            if (!window.tryAcquire(60, TimeUnit.SECONDS)) {
                throw new IllegalStateException("no PUBACK for a minute");
            }
            io.vertx.core.Future<Integer> written = client.publish(topic, PAYLOAD, MqttQoS.AT_LEAST_ONCE, false, false);
            if (way == Way.WRITTEN_ONE_AT_A_TIME) {
                written.onComplete(r -> {
                    window.release();
                    done.countDown();
                });
            }
        }
        if (!done.await(5, TimeUnit.MINUTES)) {
            throw new IllegalStateException(done.getCount() + " messages not done");
        }
        double rate = messages / ((System.nanoTime() - start) / 1e9);
        client.disconnect().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
        return rate;
    }
}
