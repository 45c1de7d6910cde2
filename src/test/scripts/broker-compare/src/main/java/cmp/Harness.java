package cmp;

import java.nio.file.*;
import java.util.*;
import java.util.concurrent.*;
import java.util.concurrent.atomic.*;
import org.eclipse.paho.client.mqttv3.*;
import org.eclipse.paho.client.mqttv3.persist.MemoryPersistence;

/**
 * One run of one embedded broker (moquette, hivemq or loom, the node's own) in its own JVM, for run.sh: {@code throughput N}
 * (start time, N QoS 1 messages to a persistent subscriber, RSS), {@code fill N} (a persistent subscriber
 * goes away, N messages are acknowledged, then the process halts like a kill -9) and {@code drain} (the
 * broker starts again from its data and the subscriber counts what it gets).
 */
public class Harness {
    static Runnable stopper;

    static long startBroker(String kind, Path data, int port) throws Exception {
        long t0 = System.nanoTime();
        if (kind.equals("loom")) {
            // the node's own broker, from the node's classes (run.sh puts them on the class path)
            Class<?> broker = Class.forName("dev.loomdb.edge.embedded.LoomBroker");
            Class<?> security = Class.forName("dev.loomdb.edge.embedded.BrokerSecurity");
            Class<?> limit = Class.forName("dev.loomdb.edge.embedded.QueueLimit");
            Object started = broker.getMethod("start", String.class, int.class, Path.class, int.class,
                            java.time.Duration.class, java.time.Duration.class, limit, security)
                    .invoke(null, "127.0.0.1", port, data, 1 << 20, java.time.Duration.ofSeconds(1),
                            java.time.Duration.ofDays(7),
                            limit.getConstructor(int.class, long.class).newInstance(1_000_000, Long.MAX_VALUE),
                            security.getField("OPEN").get(null));
            stopper = () -> {
                try {
                    ((AutoCloseable) started).close();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            };
        } else if (kind.equals("moquette")) {
            Properties p = new Properties();
            p.setProperty("host", "127.0.0.1");
            p.setProperty("port", Integer.toString(port));
            p.setProperty("websocket_port", "disabled");
            p.setProperty("telemetry_enabled", "false");
            p.setProperty("allow_anonymous", "true");
            p.setProperty("persistence_enabled", "true");
            p.setProperty("data_path", data.toString());
            p.setProperty("autosave_interval", System.getProperty("autosave", "30")); // the node: loom.embedded.broker.autosave-interval
            p.setProperty("persistent_queue_type", "h2");
            io.moquette.broker.Server s = new io.moquette.broker.Server();
            s.startServer(new io.moquette.broker.config.MemoryConfig(p));
            stopper = s::stopServer;
        } else {
            Path conf = data.resolve("conf");
            Files.createDirectories(conf);
            Files.createDirectories(data.resolve("ext"));
            Files.createDirectories(data.resolve("data"));
            Files.writeString(conf.resolve("config.xml"), "<hivemq><listeners><tcp-listener><port>" + port
                    + "</port><bind-address>127.0.0.1</bind-address></tcp-listener></listeners>"
                    + "<overload-protection><enabled>false</enabled></overload-protection><anonymous-usage-statistics><enabled>false</enabled></anonymous-usage-statistics></hivemq>");
            com.hivemq.embedded.EmbeddedHiveMQ h = com.hivemq.embedded.EmbeddedHiveMQ.builder()
                    .withConfigurationFolder(conf)
                    .withDataFolder(data.resolve("data"))
                    .withExtensionsFolder(data.resolve("ext"))
                    .build();
            h.start().join();
            stopper = () -> h.stop().join();
        }
        return (System.nanoTime() - t0) / 1_000_000;
    }

    static MqttAsyncClient client(int port, String id, boolean clean, List<String> got) throws Exception {
        MqttAsyncClient c = new MqttAsyncClient("tcp://127.0.0.1:" + port, id, new MemoryPersistence());
        MqttConnectOptions o = new MqttConnectOptions();
        o.setCleanSession(clean);
        o.setMaxInflight(1000);
        o.setAutomaticReconnect(false);
        if (got != null) {
            c.setCallback(new MqttCallback() {
                public void connectionLost(Throwable t) {}
                public void messageArrived(String topic, MqttMessage m) { got.add(new String(m.getPayload())); }
                public void deliveryComplete(IMqttDeliveryToken t) {}
            });
        }
        c.connect(o).waitForCompletion(10_000);
        return c;
    }

    static long rssKb() throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) return Long.parseLong(line.replaceAll("\\D", ""));
        }
        return -1;
    }

    public static void main(String[] a) throws Exception {
        String kind = a[0], phase = a[2];
        Path data = Path.of(a[1]);
        int port = 18830 + List.of("moquette", "hivemq", "loom").indexOf(kind);
        Files.createDirectories(data);
        long startMs = startBroker(kind, data, port);
        List<String> got = Collections.synchronizedList(new ArrayList<>());
        if (phase.equals("throughput")) {
            int n = Integer.parseInt(a[3]);
            MqttAsyncClient sub = client(port, "sub", false, got);
            sub.subscribe("t/#", 1).waitForCompletion(10_000);
            MqttAsyncClient pub = client(port, "pub", true, null);
            byte[] payload = new byte[500];
            Arrays.fill(payload, (byte) 'x');
            long t0 = System.nanoTime();
            Semaphore window = new Semaphore(500);
            for (int i = 0; i < n; i++) {
                window.acquire();
                pub.publish("t/x", payload, 1, false, null, new IMqttActionListener() {
                    public void onSuccess(IMqttToken t) { window.release(); }
                    public void onFailure(IMqttToken t, Throwable e) { window.release(); }
                });
            }
            while (got.size() < n && System.nanoTime() - t0 < 120_000_000_000L) Thread.sleep(5);
            double secs = (System.nanoTime() - t0) / 1e9;
            System.gc();
            System.out.printf("%s start_ms=%d msgs=%d secs=%.2f rate=%.0f/s rss_mb=%d%n", kind, startMs, got.size(), secs, got.size() / secs, rssKb() / 1024);
            sub.disconnect().waitForCompletion();
            pub.disconnect().waitForCompletion();
            stopper.run();
            System.exit(0);
        } else if (phase.equals("fill")) {
            int n = Integer.parseInt(a[3]);
            MqttAsyncClient sub = client(port, "away", false, null);
            sub.subscribe("t/#", 1).waitForCompletion(10_000);
            sub.disconnect().waitForCompletion();
            MqttAsyncClient pub = client(port, "pub", true, null);
            for (int i = 0; i < n; i++) {
                pub.publish("t/x", ("m" + i).getBytes(), 1, false).waitForCompletion(10_000); // acknowledged
            }
            System.out.printf("%s published_and_acknowledged=%d, now killed%n", kind, n);
            Runtime.getRuntime().halt(9);
        } else if (phase.equals("drain")) {
            MqttAsyncClient sub = client(port, "away", false, got);
            long t0 = System.nanoTime();
            int last = -1;
            while (System.nanoTime() - t0 < 15_000_000_000L) {
                Thread.sleep(1000);
                if (got.size() == last) break;
                last = got.size();
            }
            System.out.printf("%s after kill -9 delivered=%d distinct=%d%n", kind, got.size(), new HashSet<>(got).size());
            stopper.run();
            System.exit(0);
        }
    }
}
