package dev.loomdb.edge.bench;

import dev.loomdb.edge.it.Infra;
import dev.loomdb.edge.it.NodeProcess;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongFunction;
import org.HdrHistogram.Histogram;
import org.junit.jupiter.api.Test;

/**
 * The REST API against plain SQL: {@code PUT} and {@code GET /api/nodes/{id}} from
 * {@value #CONCURRENCY} clients on kept-alive connections, against the same upsert and SELECT over JDBC
 * from as many threads, in rounds that alternate the two; with the CPU every process used per request.
 * A node syncing as usual (capture on, publishing to the broker). {@code mvn -Pbench verify
 * -Dit.test=RestBench}; figures in {@code target/bench/results.json|md|svg}.
 *
 * <p>The JDBC side runs in this JVM, warm from the start; the node's request path is compiled by its
 * JIT only under load, which takes longer than one round (a minute on two cores). Each kind of request
 * is therefore sent until its rate stops rising ({@link #warmUp}) before the rounds: the figures
 * compare two warm paths, as a node serving a dashboard runs.
 */
class RestBench {

    private static final boolean QUICK = BenchResults.QUICK;
    private static final int ROUNDS = 3;
    private static final Duration TIME = QUICK ? Duration.ofSeconds(3) : Duration.ofSeconds(8);
    private static final int CONCURRENCY = 8;
    /** Warm-up: windows of this length until one is no faster than {@link #STEADY} × the best before it. */
    private static final Duration WARM_WINDOW = Duration.ofSeconds(QUICK ? 2 : 4);

    private static final double STEADY = 1.05;
    private static final int WARM_WINDOWS_MIN = 3;
    private static final int WARM_WINDOWS_MAX = QUICK ? 6 : 25;
    private static final int KEYS = 500;
    private static final String BODY = "{\"type\":\"Bench\",\"properties\":{\"v\":1}}";
    private static final String CLIENT = "the benchmark's clients (this JVM)";

    private final Path root = Infra.workDir("rest-bench");
    private final String suffix = Infra.suffix();
    private final AtomicLong sequence = new AtomicLong();
    private NodeProcess node;

    @Test
    void restAgainstJdbc() throws Exception {
        System.out.printf(
                "%nREST benchmark (%s mode, %s), figure / baseline / ratio%n",
                QUICK ? "quick" : "full",
                Infra.external() ? "machine PostgreSQL 15 + Mosquitto" : "embedded PostgreSQL + broker");
        node = NodeProcess.create(
                root, "rest-" + suffix, "bench-" + suffix, Infra.brokerHost(), Infra.brokerPort(), !Infra.external());
        Vertx vertx = Vertx.vertx();
        try {
            node.start().awaitReady();
            HttpClient http = vertx.createHttpClient(new HttpClientOptions()
                    .setDefaultHost("127.0.0.1")
                    .setDefaultPort(node.httpPort())
                    .setKeepAlive(true)
                    .setMaxPoolSize(CONCURRENCY));
            run(http);
        } finally {
            vertx.close().toCompletionStage().toCompletableFuture().get();
            node.close();
        }
    }

    private void run(HttpClient http) throws Exception {
        String warm = "w" + sequence.incrementAndGet() + "-";
        warmUp("PUT", () -> httpLoad(http, HttpMethod.PUT, i -> "/api/nodes/" + warm + i, BODY, WARM_WINDOW));
        warmUp("GET", () -> httpLoad(http, HttpMethod.GET, i -> "/api/nodes/" + warm + (i % KEYS), null, WARM_WINDOW));

        Figures apiWrites = new Figures();
        Figures apiReads = new Figures();
        Figures sqlWrites = new Figures();
        Figures sqlReads = new Figures();
        for (int r = 0; r < ROUNDS; r++) {
            String prefix = "r" + sequence.incrementAndGet() + "-";
            apiWrites.measure(r, () -> httpLoad(http, HttpMethod.PUT, i -> "/api/nodes/" + prefix + i, BODY, TIME));
            apiReads.measure(
                    r,
                    () -> httpLoad(
                            http,
                            HttpMethod.GET,
                            i -> "/api/nodes/" + prefix
                                    + ThreadLocalRandom.current().nextInt(KEYS),
                            null,
                            TIME));
            String sqlPrefix = "q" + sequence.incrementAndGet() + "-";
            sqlWrites.measure(
                    r,
                    () -> sqlLoad(
                            "INSERT INTO loom.nodes (id, type, properties) VALUES (?, 'Bench', '{\"v\":1}')"
                                    + " ON CONFLICT (id) DO UPDATE SET type = EXCLUDED.type,"
                                    + " properties = EXCLUDED.properties",
                            sqlPrefix,
                            false));
            sqlReads.measure(
                    r,
                    () -> sqlLoad(
                            "SELECT id, type, properties, version, hlc, origin FROM loom.nodes WHERE id = ?"
                                    + " AND NOT tombstone",
                            sqlPrefix,
                            true));
        }
        String c = " (" + CONCURRENCY + " concurrent)";
        BenchResults.add(
                "REST PUT /api/nodes/{id}, writes/s" + c,
                apiWrites.rate,
                sqlWrites.rate,
                "same upsert over JDBC",
                "ops/s",
                "goal: ratio >= 0.8");
        BenchResults.add("REST PUT p99, ms" + c, apiWrites.p99, sqlWrites.p99, "same upsert over JDBC", "ms", "");
        BenchResults.add(
                "REST PUT: CPU per request, all processes, core-µs",
                apiWrites.cpuPerRequest(),
                sqlWrites.cpuPerRequest(),
                "same upsert over JDBC",
                "core-µs",
                "");
        BenchResults.add(
                "REST GET /api/nodes/{id}, reads/s" + c,
                apiReads.rate,
                sqlReads.rate,
                "same SELECT over JDBC",
                "ops/s",
                "goal: ratio >= 0.6");
        BenchResults.add("REST GET p99, ms" + c, apiReads.p99, sqlReads.p99, "same SELECT over JDBC", "ms", "");
        BenchResults.add(
                "REST GET: CPU per request, all processes, core-µs",
                apiReads.cpuPerRequest(),
                sqlReads.cpuPerRequest(),
                "same SELECT over JDBC",
                "core-µs",
                "");
        BenchResults.cpu("REST GET /api/nodes/{id}", apiReads.usage, apiReads.requests());
        BenchResults.cpu("REST GET: the same SELECT over JDBC", sqlReads.usage, sqlReads.requests());
        BenchResults.cpu("REST PUT /api/nodes/{id}", apiWrites.usage, apiWrites.requests());
        BenchResults.cpu("REST PUT: the same upsert over JDBC", sqlWrites.usage, sqlWrites.requests());
    }

    private interface Load {
        /** [requests/s, p99 ms, requests]. */
        double[] run() throws Exception;
    }

    /** Sends {@code load} in windows until its rate stops rising; prints each window's rate. */
    private static void warmUp(String what, Load load) throws Exception {
        double best = 0;
        StringBuilder rates = new StringBuilder();
        for (int w = 1; w <= WARM_WINDOWS_MAX; w++) {
            double rate = load.run()[0];
            rates.append(String.format(Locale.ROOT, " %.0f", rate));
            if (w >= WARM_WINDOWS_MIN && rate <= best * STEADY) {
                break;
            }
            best = Math.max(best, rate);
        }
        System.out.printf("REST warm-up, %s, requests/s per %d s window:%s%n", what, WARM_WINDOW.toSeconds(), rates);
    }

    /** One kind of request over the rounds: its rate, p99 and the CPU every process used. */
    private final class Figures {
        final double[] rate = new double[ROUNDS];
        final double[] p99 = new double[ROUNDS];
        final double[] count = new double[ROUNDS];
        final CpuMeter.Usage[] usage = new CpuMeter.Usage[ROUNDS];

        void measure(int round, Load load) throws Exception {
            double[] result;
            try (CpuMeter meter = CpuMeter.start(servers(), processes())) {
                result = load.run();
                usage[round] = meter.stop();
            }
            rate[round] = result[0];
            p99[round] = result[1];
            count[round] = result[2];
        }

        double[] cpuPerRequest() {
            double[] micros = new double[ROUNDS];
            for (int r = 0; r < ROUNDS; r++) {
                micros[r] = usage[r].totalSeconds() * 1e6 / count[r];
            }
            return micros;
        }

        /** The median round's request count, the denominator of the CPU breakdown. */
        long requests() {
            return (long) BenchResults.median(count);
        }
    }

    private List<CpuMeter.Server> servers() {
        return List.of(new CpuMeter.Server(node::sql, db -> db.equals(node.database()) ? "node" : null));
    }

    private Map<Long, String> processes() {
        return Map.of(
                node.process().pid(),
                Infra.external() ? "node JVM" : "node JVM (and the embedded broker)",
                ProcessHandle.current().pid(),
                CLIENT);
    }

    /**
     * [requests/s, p99 ms, requests]: CONCURRENCY clients, each sending its next request when the last
     * answered, for {@code time}, on Vert.x's non-blocking HTTP client (a thread per client would
     * measure the load generator).
     */
    private static double[] httpLoad(
            HttpClient http, HttpMethod method, LongFunction<String> path, String body, Duration time)
            throws Exception {
        AtomicLong next = new AtomicLong();
        long start = System.nanoTime();
        long end = start + time.toNanos();
        List<CompletableFuture<Histogram>> clients = new ArrayList<>();
        for (int t = 0; t < CONCURRENCY; t++) {
            CompletableFuture<Histogram> done = new CompletableFuture<>();
            clients.add(done);
            httpLoop(http, method, path, body, next, end, new Histogram(3), done);
        }
        Histogram all = new Histogram(3);
        for (CompletableFuture<Histogram> client : clients) {
            all.add(client.get(time.toSeconds() + 60, TimeUnit.SECONDS));
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        return new double[] {all.getTotalCount() / seconds, all.getValueAtPercentile(99) / 1000.0, all.getTotalCount()};
    }

    private static void httpLoop(
            HttpClient http,
            HttpMethod method,
            LongFunction<String> path,
            String body,
            AtomicLong next,
            long end,
            Histogram histogram,
            CompletableFuture<Histogram> done) {
        if (System.nanoTime() >= end) {
            done.complete(histogram);
            return;
        }
        long begin = System.nanoTime();
        http.request(method, path.apply(next.getAndIncrement()))
                .compose(request -> {
                    request.putHeader("Content-Type", "application/json");
                    return body == null ? request.send() : request.send(body);
                })
                .compose(response -> response.body().map(b -> response.statusCode()))
                .onComplete(result -> {
                    if (result.failed() || result.result() >= 400) {
                        done.completeExceptionally(new IllegalStateException(method + " failed: "
                                + (result.failed() ? result.cause().getMessage() : result.result())));
                        return;
                    }
                    histogram.recordValue((System.nanoTime() - begin) / 1000);
                    httpLoop(http, method, path, body, next, end, histogram, done);
                });
    }

    private interface Operation {
        void run(long i) throws Exception;
    }

    /** [operations/s, p99 ms, operations] with CONCURRENCY threads for TIME. */
    private static double[] load(Operation operation) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(CONCURRENCY);
        AtomicLong next = new AtomicLong();
        Histogram histogram = new Histogram(3);
        long end = System.nanoTime() + TIME.toNanos();
        List<Future<Histogram>> workers = new ArrayList<>();
        long start = System.nanoTime();
        for (int t = 0; t < CONCURRENCY; t++) {
            workers.add(pool.submit(() -> {
                Histogram own = new Histogram(3);
                while (System.nanoTime() < end) {
                    long begin = System.nanoTime();
                    operation.run(next.getAndIncrement());
                    own.recordValue((System.nanoTime() - begin) / 1000);
                }
                return own;
            }));
        }
        for (Future<Histogram> worker : workers) {
            histogram.add(worker.get());
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        pool.shutdown();
        return new double[] {
            histogram.getTotalCount() / seconds, histogram.getValueAtPercentile(99) / 1000.0, histogram.getTotalCount()
        };
    }

    /** The statement with one parameter, a key: a new one per write, one of the round's KEYS per read. */
    private double[] sqlLoad(String statement, String prefix, boolean read) throws Exception {
        List<Connection> connections = new ArrayList<>();
        ThreadLocal<PreparedStatement> statements = new ThreadLocal<>();
        try {
            return load(i -> {
                PreparedStatement ps = statements.get();
                if (ps == null) {
                    Connection c = node.sql();
                    synchronized (connections) {
                        connections.add(c);
                    }
                    ps = c.prepareStatement(statement);
                    statements.set(ps);
                }
                ps.setString(1, prefix + (read ? ThreadLocalRandom.current().nextInt(KEYS) : i));
                if (read) {
                    try (ResultSet rs = ps.executeQuery()) {
                        if (!rs.next()) {
                            throw new IllegalStateException("no row for a key the round wrote");
                        }
                    }
                } else {
                    ps.executeUpdate();
                }
            });
        } finally {
            for (Connection c : connections) {
                c.close();
            }
        }
    }
}
