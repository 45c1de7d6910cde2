import io.debezium.engine.ChangeEvent;
import io.debezium.engine.DebeziumEngine;
import io.debezium.engine.format.Json;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Debezium's embedded engine capturing one table of a PostgreSQL database through pgoutput, for
 * DebeziumBench: the second in-run peer of the sync benchmarks. Started by the benchmark with the
 * class path of src/bench/debezium/pom.xml ({@code java -cp <that> DebeziumCapture.java host port
 * database user table}), it reads commands on standard input and answers on standard output:
 *
 * <ul>
 *   <li>{@code start <slot>}: a new engine with a new slot and publication, streaming from now
 *       (snapshot.mode=no_data); answers {@code started} when its task runs;
 *   <li>{@code stop}: closes the engine, which drops its slot; answers {@code stopped};
 *   <li>end of input: stops and exits.
 * </ul>
 *
 * While an engine runs it prints {@code count <n>} after every batch its callback has taken: n is the
 * number of change events converted to JSON (Debezium's Json format, schemas off) and handed to the
 * callback since the engine started. The JVM is kept across engines so that the measured rounds run
 * on compiled code, as the node's do.
 */
public final class DebeziumCapture {

    private final String[] server;
    private final AtomicLong count = new AtomicLong();
    private DebeziumEngine<ChangeEvent<String, String>> engine;
    private ExecutorService executor;

    private DebeziumCapture(String[] server) {
        this.server = server;
    }

    public static void main(String[] args) throws Exception {
        DebeziumCapture capture = new DebeziumCapture(args);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            String[] command = line.trim().split(" ");
            switch (command[0]) {
                case "start" -> capture.start(command[1]);
                case "stop" -> {
                    capture.stop();
                    System.out.println("stopped");
                }
                default -> System.out.println("error unknown command " + line);
            }
            System.out.flush();
        }
        capture.stop();
        System.exit(0);
    }

    private void start(String slot) {
        stop();
        count.set(0);
        Properties props = new Properties();
        props.setProperty("name", "bench-" + slot);
        props.setProperty("connector.class", "io.debezium.connector.postgresql.PostgresConnector");
        props.setProperty("offset.storage", "org.apache.kafka.connect.storage.MemoryOffsetBackingStore");
        props.setProperty("offset.flush.interval.ms", "1000");
        props.setProperty("database.hostname", server[0]);
        props.setProperty("database.port", server[1]);
        props.setProperty("database.dbname", server[2]);
        props.setProperty("database.user", server[3]);
        props.setProperty("database.password", "");
        props.setProperty("topic.prefix", "bench");
        props.setProperty("plugin.name", "pgoutput");
        props.setProperty("slot.name", slot);
        props.setProperty("slot.drop.on.stop", "true");
        props.setProperty("publication.name", slot);
        props.setProperty("publication.autocreate.mode", "filtered");
        props.setProperty("table.include.list", server[4]);
        props.setProperty("snapshot.mode", "no_data");
        props.setProperty("converter.schemas.enable", "false");
        Object lock = new Object();
        boolean[] started = {false};
        engine = DebeziumEngine.create(Json.class)
                .using(props)
                .using(new DebeziumEngine.ConnectorCallback() {
                    @Override
                    public void taskStarted() {
                        synchronized (lock) {
                            started[0] = true;
                            lock.notifyAll();
                        }
                    }
                })
                .using((success, message, error) -> {
                    if (!success) {
                        System.out.println("error " + message + (error == null ? "" : ": " + error));
                        System.out.flush();
                    }
                })
                .notifying(this::taken)
                .build();
        executor = Executors.newSingleThreadExecutor();
        executor.execute(engine);
        synchronized (lock) {
            long until = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
            while (!started[0] && System.nanoTime() < until) {
                try {
                    lock.wait(100);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
        System.out.println(started[0] ? "started" : "error the engine's task did not start within 2 minutes");
    }

    private void taken(
            List<ChangeEvent<String, String>> records,
            DebeziumEngine.RecordCommitter<ChangeEvent<String, String>> committer)
            throws InterruptedException {
        long changes = 0;
        for (ChangeEvent<String, String> record : records) {
            if (record.value() != null) {
                changes++;
            }
            committer.markProcessed(record);
        }
        committer.markBatchFinished();
        long total = count.addAndGet(changes);
        synchronized (System.out) {
            System.out.println("count " + total);
            System.out.flush();
        }
    }

    private void stop() {
        if (engine == null) {
            return;
        }
        try {
            engine.close();
            executor.shutdown();
            executor.awaitTermination(1, TimeUnit.MINUTES);
        } catch (Exception e) {
            System.out.println("error stopping: " + e);
        }
        engine = null;
    }
}
