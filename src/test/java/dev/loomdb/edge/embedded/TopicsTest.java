package dev.loomdb.edge.embedded;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** MQTT 3.1.1's topic filters (section 4.7), as the embedded broker matches them. */
class TopicsTest {

    @ParameterizedTest(name = "{0} matches {1}: {2}")
    @CsvSource({
        "loom/m/changes/#, loom/m/changes/a/node/T, true",
        "loom/m/changes/#, loom/m/changes, true",
        "loom/m/changes/#, loom/m/change, false",
        "loom/m/changes/+/node/T, loom/m/changes/a/node/T, true",
        "loom/m/changes/+/node/T, loom/m/changes/a/edge/T, false",
        "loom/m/changes/+/node/T, loom/m/changes/a/b/node/T, false",
        "loom/+, loom/, true",
        "loom/+, loom, false",
        "+/+, /x, true",
        "#, loom/x, true",
        "#, $SYS/x, false",
        "+/x, $SYS/x, false",
        "$SYS/#, $SYS/x, true",
        "a/b, a/b, true",
        "a/b, a/bc, false",
        "a/bc, a/b, false",
        "a/b, a/b/c, false",
        "a/b/c, a/b, false",
        "a/+/c, a//c, true",
    })
    void filtersMatchTopicsLevelByLevel(String filter, String topic, boolean matches) {
        assertEquals(matches, Topics.matches(filter, topic));
    }

    @ParameterizedTest(name = "{0} is a valid filter: {1}")
    @CsvSource({
        "a/#, true",
        "#, true",
        "+, true",
        "a/+/b, true",
        "a/#/b, false",
        "a#, false",
        "a/b+, false",
        "'', false"
    })
    void wildcardsFillWholeLevels(String filter, boolean valid) {
        assertEquals(valid, Topics.validFilter(filter));
    }
}
