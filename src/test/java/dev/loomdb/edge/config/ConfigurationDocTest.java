package dev.loomdb.edge.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.smallrye.config.WithDefault;
import io.smallrye.config.WithName;
import io.smallrye.config.WithParentName;
import java.io.IOException;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The configuration reference ({@code docs/configuration.md}) is checked against the code: every key
 * of {@link LoomConfig} has a row, every {@code loom.*} row is a key of the code, a row's default is
 * the code's {@code @WithDefault}, and its environment variable is the key's.
 */
class ConfigurationDocTest {

    private static final Pattern ROW =
            Pattern.compile("^\\| `(loom\\.[^`]+)` \\| `([A-Z0-9_<>]+)` \\| ([^|]*) \\|", Pattern.MULTILINE);

    @Test
    void everyKeyOfTheCodeIsDocumentedWithItsDefault() throws IOException {
        Map<String, String> code = new TreeMap<>();
        keys("loom", LoomConfig.class, code);
        Map<String, String> documented = new TreeMap<>();
        Map<String, String> variables = new TreeMap<>();
        Matcher row = ROW.matcher(Files.readString(Path.of("docs/configuration.md")));
        while (row.find()) {
            // a map's key is written for what it names ("<type>", "<name>"): the code knows it as "<type>"
            String key = row.group(1).replaceAll("\"<[a-z-]+>\"", "\"<type>\"");
            documented.put(key, row.group(3).trim());
            variables.put(key, row.group(2));
        }
        assertEquals(code.keySet(), documented.keySet(), "keys of LoomConfig vs rows of docs/configuration.md");
        code.forEach((key, defaultValue) -> {
            if (defaultValue != null && !defaultValue.startsWith("${")) {
                assertTrue(
                        documented.get(key).contains("`" + defaultValue + "`"),
                        key + ": the code's default is " + defaultValue + ", the docs say " + documented.get(key));
            }
        });
        variables.forEach((key, variable) -> {
            if (!key.contains("\"")) {
                assertEquals(key.toUpperCase().replaceAll("[.-]", "_"), variable, "environment variable of " + key);
            }
        });
    }

    /** The keys under {@code prefix} of a mapping interface, with their defaults (null when none). */
    private static void keys(String prefix, Class<?> mapping, Map<String, String> into) {
        for (Method method : mapping.getDeclaredMethods()) {
            if (method.isDefault()
                    || method.isSynthetic()
                    || java.lang.reflect.Modifier.isStatic(method.getModifiers())) {
                continue;
            }
            String name = method.isAnnotationPresent(WithName.class)
                    ? method.getAnnotation(WithName.class).value()
                    : method.getName().replaceAll("([a-z0-9])([A-Z])", "$1-$2").toLowerCase();
            String key = method.isAnnotationPresent(WithParentName.class) ? prefix : prefix + "." + name;
            Class<?> type = method.getReturnType();
            if (Map.class.isAssignableFrom(type)) {
                into.put(key + ".\"<type>\"", null);
            } else if (type.isInterface() && type.getEnclosingClass() != null) {
                keys(key, type, into);
            } else {
                WithDefault value = method.getAnnotation(WithDefault.class);
                into.put(key, value == null ? null : value.value());
            }
        }
    }
}
