package dev.loomdb.edge.k8s;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The manifests of {@code k8s/}: the base and each overlay rendered ({@link Kustomize}) and checked —
 * kinds and their API versions, selectors that match the labels they select, Services that reach a
 * port their pods have, probes on the endpoints the node serves, every {@code LOOM_*} and {@code
 * QUARKUS_*} variable a real configuration key (docs/configuration.md, itself checked against the
 * code), mounts of volumes that exist, the profile a node is pointed at present in the ConfigMap
 * mounted there, one image and one port for the node everywhere.
 */
class K8sManifestsTest {

    private static final Map<String, String> API_VERSIONS = Map.of(
            "StatefulSet", "apps/v1",
            "DaemonSet", "apps/v1",
            "Deployment", "apps/v1",
            "Service", "v1",
            "ConfigMap", "v1",
            "PodDisruptionBudget", "policy/v1",
            "NetworkPolicy", "networking.k8s.io/v1");
    private static final Set<String> HEALTH = Set.of("/q/health/ready", "/q/health/live", "/q/health/started");

    static Stream<String> kustomizations() {
        return Stream.of("k8s/base", "k8s/overlays/small-mesh", "k8s/overlays/large-mesh");
    }

    @ParameterizedTest
    @MethodSource("kustomizations")
    @SuppressWarnings("unchecked")
    void renderedManifestsAreConsistent(String dir) throws IOException {
        assertEquals(
                "8080",
                applicationProperties().getProperty("quarkus.http.port"),
                "application.properties' quarkus.http.port is the manifests' 8080");
        List<Map<String, Object>> docs = Kustomize.render(Path.of(dir));
        assertFalse(docs.isEmpty(), dir);
        Set<String> seen = new HashSet<>();
        for (Map<String, Object> doc : docs) {
            String kind = (String) doc.get("kind");
            String where = dir + ": " + kind + "/" + Kustomize.name(doc);
            assertTrue(API_VERSIONS.containsKey(kind), where + ": a kind these manifests should not have");
            assertEquals(API_VERSIONS.get(kind), doc.get("apiVersion"), where);
            assertTrue(seen.add(kind + "/" + Kustomize.name(doc)), where + " twice");
        }
        List<Map<String, Object>> workloads =
                docs.stream().filter(d -> Kustomize.template(d) != null).toList();
        assertTrue(workloads.stream().anyMatch(w -> isNode(w)), dir + ": no LoomDB Edge node");

        for (Map<String, Object> workload : workloads) {
            String where = dir + ": " + workload.get("kind") + "/" + Kustomize.name(workload);
            Map<String, Object> spec = (Map<String, Object>) workload.get("spec");
            Map<String, Object> selector =
                    (Map<String, Object>) ((Map<String, Object>) spec.get("selector")).get("matchLabels");
            assertTrue(labels(workload).entrySet().containsAll(selector.entrySet()), where + ": selector " + selector);
            if (!"DaemonSet".equals(workload.get("kind"))) {
                assertTrue(spec.containsKey("replicas"), where);
            }
            if ("StatefulSet".equals(workload.get("kind"))) {
                String service = (String) spec.get("serviceName");
                assertTrue(Kustomize.find(docs, "Service", service) != null, where + ": no Service " + service);
            }
            checkPod(dir, where, docs, workload);
        }
        for (Map<String, Object> doc : docs) {
            String where = dir + ": " + doc.get("kind") + "/" + Kustomize.name(doc);
            Map<String, Object> spec = (Map<String, Object>) doc.get("spec");
            switch ((String) doc.get("kind")) {
                case "Service" -> {
                    Map<String, Object> selector = (Map<String, Object>) spec.get("selector");
                    List<Map<String, Object>> selected = selects(workloads, selector);
                    assertFalse(selected.isEmpty(), where + ": selects no pod " + selector);
                    for (Map<String, Object> port : (List<Map<String, Object>>) spec.get("ports")) {
                        Object target = port.getOrDefault("targetPort", port.get("port"));
                        assertTrue(
                                selected.stream().anyMatch(w -> portsOf(w).contains(target.toString())),
                                where + ": no selected pod has port " + target);
                    }
                }
                case "PodDisruptionBudget" ->
                    assertFalse(
                            selects(workloads, matchLabels(spec.get("selector")))
                                    .isEmpty(),
                            where + ": selects no pod");
                case "NetworkPolicy" -> {
                    assertFalse(
                            selects(workloads, matchLabels(spec.get("podSelector")))
                                    .isEmpty(),
                            where + ": selects no pod");
                    for (String direction : List.of("ingress", "egress")) {
                        for (Map<String, Object> rule :
                                (List<Map<String, Object>>) spec.getOrDefault(direction, List.of())) {
                            for (Map<String, Object> peer : (List<Map<String, Object>>)
                                    rule.getOrDefault(direction.equals("ingress") ? "from" : "to", List.of())) {
                                if (peer.containsKey("podSelector") && !dir.endsWith("base")) {
                                    assertFalse(
                                            selects(workloads, matchLabels(peer.get("podSelector")))
                                                    .isEmpty(),
                                            where + ": a rule for pods that do not exist: " + peer);
                                }
                            }
                        }
                    }
                }
                default -> {}
            }
        }
    }

    @SuppressWarnings("unchecked")
    private void checkPod(String dir, String where, List<Map<String, Object>> docs, Map<String, Object> workload)
            throws IOException {
        Map<String, Object> podSpec =
                (Map<String, Object>) Kustomize.template(workload).get("spec");
        Set<String> volumes = new HashSet<>();
        for (Map<String, Object> volume : (List<Map<String, Object>>) podSpec.getOrDefault("volumes", List.of())) {
            volumes.add((String) volume.get("name"));
            if (volume.get("configMap") instanceof Map<?, ?> configMap) {
                assertTrue(
                        Kustomize.find(docs, "ConfigMap", (String) configMap.get("name")) != null,
                        where + ": no ConfigMap " + configMap.get("name"));
            }
        }
        Map<String, Object> spec = (Map<String, Object>) workload.get("spec");
        for (Map<String, Object> claim :
                (List<Map<String, Object>>) spec.getOrDefault("volumeClaimTemplates", List.of())) {
            volumes.add(Kustomize.name(claim));
        }
        for (Map<String, Object> container : Kustomize.containers(workload)) {
            Set<String> ports = portsOf(container);
            for (Map<String, Object> mount :
                    (List<Map<String, Object>>) container.getOrDefault("volumeMounts", List.of())) {
                assertTrue(volumes.contains(mount.get("name")), where + ": mounts a volume it lacks: " + mount);
            }
            for (String probe : List.of("readinessProbe", "livenessProbe", "startupProbe")) {
                if (container.get(probe) instanceof Map<?, ?> p && p.get("httpGet") instanceof Map<?, ?> get) {
                    assertTrue(ports.contains(get.get("port").toString()), where + ": " + probe + " on " + get);
                    if (isNode(workload)) {
                        assertTrue(HEALTH.contains(get.get("path")), where + ": " + probe + " on " + get.get("path"));
                    }
                }
            }
            if (!isNode(workload)) {
                continue;
            }
            assertTrue(
                    container.get("image").toString().matches("loomdb-edge:0\\.1\\.0"),
                    where + ": " + container.get("image"));
            assertTrue(ports.contains("8080") && ports.contains("http"), where + ": the node listens on 8080 (http)");
            Map<String, Object> annotations = (Map<String, Object>)
                    ((Map<String, Object>) Kustomize.template(workload).get("metadata"))
                            .getOrDefault("annotations", Map.of());
            if (annotations.containsKey("prometheus.io/port")) {
                assertEquals("8080", annotations.get("prometheus.io/port"), where);
                assertEquals("/q/metrics", annotations.get("prometheus.io/path"), where);
            }
            assertTrue(((Map<String, Object>) container.get("resources")).containsKey("limits"), where + ": no limits");
            // out of memory, the JVM exits and the pod restarts: a JVM left up after it takes nothing more
            String javaOptions = ((List<Map<String, Object>>) container.getOrDefault("env", List.of()))
                    .stream()
                            .filter(env -> "JAVA_TOOL_OPTIONS".equals(env.get("name")))
                            .map(env -> String.valueOf(env.get("value")))
                            .findFirst()
                            .orElse("");
            assertTrue(
                    javaOptions.contains("-XX:+ExitOnOutOfMemoryError") && javaOptions.contains("-Xmx"),
                    where + ": JAVA_TOOL_OPTIONS sets the heap and -XX:+ExitOnOutOfMemoryError: " + javaOptions);
            for (Map<String, Object> env : (List<Map<String, Object>>) container.getOrDefault("env", List.of())) {
                String name = (String) env.get("name");
                if (name.startsWith("LOOM_") || name.startsWith("QUARKUS_")) {
                    assertTrue(knownVariable(name), where + ": " + name + " is not a configuration key of the node");
                }
                if (name.equals("QUARKUS_CONFIG_LOCATIONS")) {
                    checkProfileMounted(where, docs, podSpec, container, (String) env.get("value"));
                }
            }
        }
    }

    /** The file QUARKUS_CONFIG_LOCATIONS names is a key of the ConfigMap mounted at its directory. */
    @SuppressWarnings("unchecked")
    private static void checkProfileMounted(
            String where,
            List<Map<String, Object>> docs,
            Map<String, Object> podSpec,
            Map<String, Object> container,
            String location) {
        Path file = Path.of(location);
        for (Map<String, Object> mount : (List<Map<String, Object>>) container.get("volumeMounts")) {
            if (!file.getParent().toString().equals(mount.get("mountPath"))) {
                continue;
            }
            for (Map<String, Object> volume : (List<Map<String, Object>>) podSpec.get("volumes")) {
                if (volume.get("name").equals(mount.get("name")) && volume.get("configMap") instanceof Map<?, ?> cm) {
                    Map<String, Object> configMap = Kustomize.find(docs, "ConfigMap", (String) cm.get("name"));
                    Map<String, Object> data = (Map<String, Object>) configMap.get("data");
                    assertTrue(
                            data.containsKey(file.getFileName().toString()), where + ": " + location + " not in " + cm);
                    return;
                }
            }
        }
        fail(where + ": nothing is mounted where QUARKUS_CONFIG_LOCATIONS points: " + location);
    }

    private static boolean isNode(Map<String, Object> workload) {
        return Kustomize.containers(workload).stream()
                .anyMatch(c -> c.get("image").toString().startsWith("loomdb-edge"));
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> labels(Map<String, Object> workload) {
        return (Map<String, Object>)
                ((Map<String, Object>) Kustomize.template(workload).get("metadata")).get("labels");
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> matchLabels(Object selector) {
        return (Map<String, Object>) ((Map<String, Object>) selector).get("matchLabels");
    }

    private static List<Map<String, Object>> selects(
            List<Map<String, Object>> workloads, Map<String, Object> selector) {
        return workloads.stream()
                .filter(w -> labels(w).entrySet().containsAll(selector.entrySet()))
                .toList();
    }

    /** The port names and numbers of a workload's containers, or of one container. */
    @SuppressWarnings("unchecked")
    private static Set<String> portsOf(Map<String, Object> workloadOrContainer) {
        List<Map<String, Object>> containers = Kustomize.template(workloadOrContainer) != null
                ? Kustomize.containers(workloadOrContainer)
                : List.of(workloadOrContainer);
        Set<String> ports = new HashSet<>();
        for (Map<String, Object> container : containers) {
            for (Map<String, Object> port : (List<Map<String, Object>>) container.getOrDefault("ports", List.of())) {
                ports.add(port.get("containerPort").toString());
                if (port.get("name") != null) {
                    ports.add(port.get("name").toString());
                }
            }
        }
        return ports;
    }

    private static Properties applicationProperties() throws IOException {
        Properties properties = new Properties();
        try (var in = Files.newInputStream(Path.of("src/main/resources/application.properties"))) {
            properties.load(in);
        }
        return properties;
    }

    /**
     * A variable of docs/configuration.md's tables ({@code LOOM_API_AUTH_KEYS__<NAME>_} matches any name),
     * or the environment form of a Quarkus key the docs or application.properties name.
     */
    private static boolean knownVariable(String name) {
        return KNOWN_VARIABLES.stream().anyMatch(p -> p.matcher(name).matches());
    }

    private static final List<Pattern> KNOWN_VARIABLES = knownVariables();

    private static List<Pattern> knownVariables() {
        try {
            List<Pattern> known = new ArrayList<>();
            String docs = Files.readString(Path.of("docs/configuration.md"));
            Matcher row = Pattern.compile("(?<![A-Z0-9_])((?:LOOM|QUARKUS)_[A-Z0-9_<>]+)")
                    .matcher(docs);
            while (row.find()) {
                known.add(Pattern.compile(row.group(1).replaceAll("<[A-Z_]+>", "[A-Z0-9_]+")));
            }
            for (String key : applicationProperties().stringPropertyNames()) {
                known.add(Pattern.compile(Pattern.quote(key.toUpperCase().replaceAll("[.\\-\"]", "_"))));
            }
            return List.copyOf(known);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
