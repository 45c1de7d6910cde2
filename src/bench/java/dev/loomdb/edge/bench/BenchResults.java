package dev.loomdb.edge.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The benchmark suite's figures: every benchmark class of one {@code mvn -Pbench verify} run adds
 * its entries here; each addition rewrites {@code target/bench/results.json} (all entries so far),
 * {@code target/bench/results.md} (the table) and {@code target/bench/results.svg} (the chart).
 */
final class BenchResults {

    /**
     * One figure next to its in-run baseline.
     *
     * @param ratio ours / baseline
     * @param spread max − min of ours over the rounds, in {@code unit}
     */
    record Entry(
            String name,
            double ours,
            double baseline,
            String baselineName,
            double ratio,
            String unit,
            double spread,
            int rounds,
            String note) {}

    static final boolean QUICK = Boolean.getBoolean("bench.quick");
    private static final Path DIR = Path.of("target", "bench");
    private static final List<Entry> ENTRIES = new ArrayList<>();
    /** Chart series: name → (x label → value). */
    private static final Map<String, Map<String, Double>> LATENCY = new LinkedHashMap<>();

    private static final Map<String, Double> THROUGHPUT = new LinkedHashMap<>();
    /** Run → (role → core-µs per row). */
    private static final Map<String, Map<String, Double>> CPU = new LinkedHashMap<>();

    private BenchResults() {}

    /** Adds a figure measured over rounds: the median of {@code ours} against the median of {@code baseline}. */
    static synchronized Entry add(
            String name, double[] ours, double[] baseline, String baselineName, String unit, String note) {
        double o = median(ours);
        double b = median(baseline);
        Entry entry = new Entry(name, o, b, baselineName, b == 0 ? 0 : o / b, unit, spread(ours), ours.length, note);
        ENTRIES.add(entry);
        System.out.printf(
                Locale.ROOT,
                "%-44s %12.2f %12.2f %8.3f  %-10s (%s; spread %.2f over %d rounds)%n",
                name,
                entry.ours(),
                entry.baseline(),
                entry.ratio(),
                unit,
                baselineName,
                entry.spread(),
                entry.rounds());
        write();
        return entry;
    }

    /** A latency percentile for the chart: series (e.g. "ours, debounce 0") at x (e.g. "1000/s p99"). */
    static synchronized void latencyPoint(String series, String x, double millis) {
        LATENCY.computeIfAbsent(series, s -> new LinkedHashMap<>()).put(x, millis);
    }

    static synchronized void throughputPoint(String label, double rowsPerSecond) {
        THROUGHPUT.put(label, rowsPerSecond);
    }

    /**
     * Records where the CPU went in the rounds of one run of {@code rows} rows: per role, the median
     * over the rounds of core-µs per row. Returns the total core-µs per row of each round.
     */
    static synchronized double[] cpu(String run, CpuMeter.Usage[] rounds, long rows) {
        Map<String, double[]> byRole = new LinkedHashMap<>(); // a round where a role used nothing counts as 0
        double[] totals = new double[rounds.length];
        for (int r = 0; r < rounds.length; r++) {
            for (Map.Entry<String, Double> role : rounds[r].cpuSeconds().entrySet()) {
                byRole.computeIfAbsent(role.getKey(), k -> new double[rounds.length])[r] = role.getValue() * 1e6 / rows;
            }
            totals[r] = rounds[r].totalSeconds() * 1e6 / rows;
        }
        Map<String, Double> medians = new java.util.TreeMap<>();
        byRole.forEach((role, values) -> medians.put(role, median(values)));
        medians.put("total", median(totals));
        CPU.put(run, medians);
        System.out.printf(Locale.ROOT, "CPU per row, %s (core-µs, median of %d rounds):%n", run, rounds.length);
        medians.forEach((role, micros) -> System.out.printf(Locale.ROOT, "  %-62s %8.2f%n", role, micros));
        write();
        return totals;
    }

    static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        int n = sorted.length;
        return n == 0 ? 0 : n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    static double spread(double[] values) {
        return values.length == 0
                ? 0
                : Arrays.stream(values).max().getAsDouble()
                        - Arrays.stream(values).min().getAsDouble();
    }

    private static void write() {
        try {
            Files.createDirectories(DIR);
            Map<String, Object> json = new LinkedHashMap<>();
            json.put("quick", QUICK);
            json.put("infra", System.getProperty("loom.it.infra", "embedded"));
            json.put(
                    "machine",
                    Runtime.getRuntime().availableProcessors() + " cores, "
                            + Runtime.getRuntime().maxMemory() / (1 << 20) + " MiB max heap (bench JVM)");
            json.put("benchmarks", ENTRIES);
            json.put("latencyMs", LATENCY);
            json.put("throughputRowsPerSecond", THROUGHPUT);
            json.put("cpuMicrosPerRow", CPU);
            new ObjectMapper()
                    .enable(SerializationFeature.INDENT_OUTPUT)
                    .writeValue(DIR.resolve("results.json").toFile(), json);
            StringBuilder md =
                    new StringBuilder("| benchmark | ours | baseline | ratio | unit | baseline is | spread | rounds |\n"
                            + "|---|---|---|---|---|---|---|---|\n");
            for (Entry e : ENTRIES) {
                md.append(String.format(
                        Locale.ROOT,
                        "| %s | %.2f | %.2f | %.3f | %s | %s | %.2f | %d |%n",
                        e.name(),
                        e.ours(),
                        e.baseline(),
                        e.ratio(),
                        e.unit(),
                        e.baselineName(),
                        e.spread(),
                        e.rounds()));
            }
            if (!CPU.isEmpty()) {
                md.append("\nCPU per row, core-µs (median of the rounds), by process:\n\n| process |");
                CPU.keySet().forEach(run -> md.append(' ').append(run).append(" |"));
                md.append("\n|---|").append("---|".repeat(CPU.size())).append('\n');
                java.util.Set<String> roles = new java.util.TreeSet<>();
                CPU.values().forEach(run -> roles.addAll(run.keySet()));
                roles.remove("total");
                List<String> rows = new ArrayList<>(roles);
                rows.add("total"); // last
                for (String role : rows) {
                    md.append("| ").append(role).append(" |");
                    CPU.values()
                            .forEach(run ->
                                    md.append(String.format(Locale.ROOT, " %.2f |", run.getOrDefault(role, 0.0))));
                    md.append('\n');
                }
            }
            Files.writeString(DIR.resolve("results.md"), md);
            Files.writeString(DIR.resolve("results.svg"), BenchChart.svg(LATENCY, THROUGHPUT));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
