package dev.loomdb.edge.bench;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/** Draws the suite's chart as SVG: latency percentiles per offered load (log scale), and throughputs. */
final class BenchChart {

    private static final String[] COLORS = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"};

    private BenchChart() {}

    static String svg(Map<String, Map<String, Double>> latency, Map<String, Double> throughput) {
        int width = 960;
        int height = 760;
        StringBuilder svg = new StringBuilder();
        svg.append(String.format(
                Locale.ROOT,
                "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d'"
                        + " font-family='sans-serif' font-size='12'>%n<rect width='100%%' height='100%%' fill='white'/>%n",
                width,
                height));
        latencyPanel(svg, latency, 60, 40, width - 100, 320);
        throughputPanel(svg, throughput, 60, 450, width - 100, 260);
        return svg.append("</svg>\n").toString();
    }

    private static void latencyPanel(
            StringBuilder svg, Map<String, Map<String, Double>> series, int x0, int y0, int w, int h) {
        svg.append(text(
                x0,
                y0 - 15,
                "Propagation latency (commit on the writer → committed on the receiver), ms, log" + " scale",
                "bold"));
        Set<String> xs = new LinkedHashSet<>();
        series.values().forEach(points -> xs.addAll(points.keySet()));
        List<String> labels = new ArrayList<>(xs);
        if (labels.isEmpty()) {
            return;
        }
        double min = 0.01;
        double max = 10;
        for (Map<String, Double> points : series.values()) {
            for (double v : points.values()) {
                max = Math.max(max, v);
            }
        }
        double logMin = Math.log10(min);
        double logMax = Math.ceil(Math.log10(max));
        svg.append(axes(x0, y0, w, h));
        for (int p = (int) logMin; p <= logMax; p++) {
            double y = y0 + h - (p - logMin) / (logMax - logMin) * h;
            svg.append(String.format(
                    Locale.ROOT, "<line x1='%d' y1='%.1f' x2='%d' y2='%.1f' stroke='#ddd'/>%n", x0, y, x0 + w, y));
            svg.append(text(
                    x0 - 45,
                    (int) y + 4,
                    new java.math.BigDecimal(Math.pow(10, p))
                            .round(new java.math.MathContext(1))
                            .stripTrailingZeros()
                            .toPlainString(),
                    null));
        }
        int groups = labels.size();
        int seriesCount = series.size();
        double groupWidth = (double) w / groups;
        double barWidth = groupWidth * 0.8 / Math.max(1, seriesCount);
        int s = 0;
        for (Map.Entry<String, Map<String, Double>> entry : series.entrySet()) {
            String color = COLORS[s % COLORS.length];
            for (int g = 0; g < groups; g++) {
                Double v = entry.getValue().get(labels.get(g));
                if (v == null) {
                    continue;
                }
                double top = y0 + h - (Math.log10(Math.max(min, v)) - logMin) / (logMax - logMin) * h;
                double x = x0 + g * groupWidth + groupWidth * 0.1 + s * barWidth;
                svg.append(String.format(
                        Locale.ROOT,
                        "<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' fill='%s'>"
                                + "<title>%s %s: %.2f ms</title></rect>%n",
                        x,
                        top,
                        barWidth - 1,
                        y0 + h - top,
                        color,
                        entry.getKey(),
                        labels.get(g),
                        v));
            }
            svg.append(String.format(
                    Locale.ROOT,
                    "<rect x='%d' y='%d' width='10' height='10' fill='%s'/>%n",
                    x0 + 10 + s * 200,
                    y0 + h + 38,
                    color));
            svg.append(text(x0 + 24 + s * 200, y0 + h + 47, entry.getKey(), null));
            s++;
        }
        for (int g = 0; g < groups; g++) {
            svg.append(text((int) (x0 + g * groupWidth + 4), y0 + h + 16, labels.get(g), null));
        }
    }

    private static void throughputPanel(StringBuilder svg, Map<String, Double> bars, int x0, int y0, int w, int h) {
        svg.append(text(x0, y0 - 15, "Throughput, rows/s (higher is better)", "bold"));
        if (bars.isEmpty()) {
            return;
        }
        double max =
                bars.values().stream().mapToDouble(Double::doubleValue).max().orElse(1);
        svg.append(axes(x0, y0, w, h));
        double barHeight = (double) h / bars.size();
        int i = 0;
        for (Map.Entry<String, Double> bar : bars.entrySet()) {
            double len = bar.getValue() / max * (w - 260);
            double y = y0 + i * barHeight + barHeight * 0.15;
            svg.append(String.format(
                    Locale.ROOT,
                    "<rect x='%d' y='%.1f' width='%.1f' height='%.1f' fill='%s'/>%n",
                    x0 + 250,
                    y,
                    len,
                    barHeight * 0.7,
                    COLORS[i % COLORS.length]));
            svg.append(text(x0 + 5, (int) (y + barHeight * 0.45), bar.getKey(), null));
            svg.append(text(
                    (int) (x0 + 255 + len),
                    (int) (y + barHeight * 0.45),
                    String.format(Locale.ROOT, "%,.0f", bar.getValue()),
                    null));
            i++;
        }
    }

    private static String axes(int x0, int y0, int w, int h) {
        return String.format(
                Locale.ROOT,
                "<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='black'/>%n"
                        + "<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='black'/>%n",
                x0,
                y0,
                x0,
                y0 + h,
                x0,
                y0 + h,
                x0 + w,
                y0 + h);
    }

    private static String text(int x, int y, String content, String weight) {
        String escaped = content.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
        return String.format(
                Locale.ROOT,
                "<text x='%d' y='%d'%s>%s</text>%n",
                x,
                y,
                weight == null ? "" : " font-weight='" + weight + "'",
                escaped);
    }
}
