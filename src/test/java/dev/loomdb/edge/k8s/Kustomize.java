package dev.loomdb.edge.k8s;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;

/**
 * The part of kustomize that {@code k8s/} uses, to render a kustomization for the manifests' tests:
 * {@code resources} (files and kustomization directories), {@code configMapGenerator} (files), {@code
 * images} (new tags), {@code labels} (added to metadata) and {@code patches} (strategic merge: maps merge,
 * lists of objects merge by {@code name}). Generated ConfigMaps keep their names (kustomize adds a content
 * hash to them and to every reference, which changes nothing these tests check). A field the renderer
 * does not know fails the test rather than being ignored.
 */
final class Kustomize {

    private static final List<String> KNOWN =
            List.of("apiVersion", "kind", "resources", "configMapGenerator", "images", "labels", "patches");

    private Kustomize() {}

    /** The documents of {@code dir}'s kustomization, rendered. */
    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> render(Path dir) throws IOException {
        Map<String, Object> kustomization =
                (Map<String, Object>) load(dir.resolve("kustomization.yaml")).get(0);
        for (String field : kustomization.keySet()) {
            if (!KNOWN.contains(field)) {
                throw new IllegalStateException(dir + "/kustomization.yaml: '" + field + "' is not rendered here");
            }
        }
        List<Map<String, Object>> out = new ArrayList<>();
        for (Object resource : (List<Object>) kustomization.getOrDefault("resources", List.of())) {
            Path path = dir.resolve(resource.toString()).normalize();
            out.addAll(Files.isDirectory(path) ? render(path) : load(path));
        }
        for (Map<String, Object> generator :
                (List<Map<String, Object>>) kustomization.getOrDefault("configMapGenerator", List.of())) {
            Map<String, Object> data = new LinkedHashMap<>();
            for (Object file : (List<Object>) generator.getOrDefault("files", List.of())) {
                String[] keyAndPath = file.toString().split("=", 2);
                Path path = dir.resolve(keyAndPath[keyAndPath.length - 1]).normalize();
                String key = keyAndPath.length == 2
                        ? keyAndPath[0]
                        : path.getFileName().toString();
                data.put(key, Files.readString(path)); // a missing file fails here, as in kustomize
            }
            Map<String, Object> configMap = new LinkedHashMap<>();
            configMap.put("apiVersion", "v1");
            configMap.put("kind", "ConfigMap");
            configMap.put("metadata", new LinkedHashMap<>(Map.of("name", generator.get("name"))));
            configMap.put("data", data);
            out.add(configMap);
        }
        for (Object patch : (List<Object>) kustomization.getOrDefault("patches", List.of())) {
            Map<String, Object> spec = (Map<String, Object>) patch;
            for (Map<String, Object> change : load(dir.resolve(spec.get("path").toString()))) {
                Map<String, Object> target = find(out, (String) change.get("kind"), name(change));
                if (target == null) {
                    throw new IllegalStateException("patch " + spec.get("path") + " targets " + change.get("kind") + "/"
                            + name(change) + ", which the kustomization does not have");
                }
                merge(target, change);
            }
        }
        for (Map<String, Object> image : (List<Map<String, Object>>) kustomization.getOrDefault("images", List.of())) {
            for (Map<String, Object> doc : out) {
                for (Map<String, Object> container : containers(doc)) {
                    if (container.get("image").toString().split(":")[0].equals(image.get("name"))) {
                        container.put("image", image.get("name") + ":" + image.get("newTag"));
                    }
                }
            }
        }
        for (Map<String, Object> label : (List<Map<String, Object>>) kustomization.getOrDefault("labels", List.of())) {
            for (Map<String, Object> doc : out) {
                Map<String, Object> metadata = (Map<String, Object>) doc.get("metadata");
                Map<String, Object> labels =
                        (Map<String, Object>) metadata.computeIfAbsent("labels", k -> new LinkedHashMap<>());
                labels.putAll((Map<String, Object>) label.get("pairs"));
            }
        }
        return out;
    }

    /** Every document of a YAML file. */
    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> load(Path file) throws IOException {
        List<Map<String, Object>> docs = new ArrayList<>();
        for (Object doc : new Yaml(new LoaderOptions()).loadAll(Files.readString(file))) {
            if (doc != null) {
                docs.add((Map<String, Object>) doc);
            }
        }
        return docs;
    }

    @SuppressWarnings("unchecked")
    static String name(Map<String, Object> doc) {
        return (String) ((Map<String, Object>) doc.get("metadata")).get("name");
    }

    static Map<String, Object> find(List<Map<String, Object>> docs, String kind, String name) {
        return docs.stream()
                .filter(d -> kind.equals(d.get("kind")) && name.equals(name(d)))
                .findFirst()
                .orElse(null);
    }

    /** The containers of a workload's pod template (none for other kinds). */
    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> containers(Map<String, Object> doc) {
        Map<String, Object> template = template(doc);
        if (template == null) {
            return List.of();
        }
        return (List<Map<String, Object>>) ((Map<String, Object>) template.get("spec")).get("containers");
    }

    /** A workload's pod template, or null. */
    @SuppressWarnings("unchecked")
    static Map<String, Object> template(Map<String, Object> doc) {
        if (!(doc.get("kind") instanceof String kind
                && List.of("Deployment", "StatefulSet", "DaemonSet").contains(kind))) {
            return null;
        }
        return (Map<String, Object>) ((Map<String, Object>) doc.get("spec")).get("template");
    }

    /** A strategic merge of {@code patch} into {@code target}. */
    @SuppressWarnings("unchecked")
    private static void merge(Map<String, Object> target, Map<String, Object> patch) {
        for (Map.Entry<String, Object> entry : patch.entrySet()) {
            Object have = target.get(entry.getKey());
            Object give = entry.getValue();
            if (have instanceof Map && give instanceof Map) {
                merge((Map<String, Object>) have, (Map<String, Object>) give);
            } else if (have instanceof List && give instanceof List && isNamed((List<Object>) give)) {
                List<Object> list = (List<Object>) have;
                for (Object item : (List<Object>) give) {
                    Map<String, Object> named = (Map<String, Object>) item;
                    Map<String, Object> same = list.stream()
                            .map(o -> (Map<String, Object>) o)
                            .filter(o -> named.get("name").equals(o.get("name")))
                            .findFirst()
                            .orElse(null);
                    if (same == null) {
                        list.add(named);
                    } else {
                        merge(same, named);
                    }
                }
            } else {
                target.put(entry.getKey(), give);
            }
        }
    }

    private static boolean isNamed(List<Object> list) {
        return !list.isEmpty() && list.stream().allMatch(o -> o instanceof Map<?, ?> m && m.containsKey("name"));
    }
}
