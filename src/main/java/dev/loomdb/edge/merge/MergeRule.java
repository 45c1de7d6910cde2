package dev.loomdb.edge.merge;

import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * Which strategy decides two states of a node or edge (the seed's conflictResolution): chosen here
 * from the configuration, decided in PostgreSQL by the merge trigger ({@code loom.merge_state} in
 * R__30_merge.sql), which the apply session is told the strategy of ({@link #SESSION_SETTINGS}).
 *
 * <ul>
 *   <li>{@code last-write-wins}: the later hybrid logical clock; equal clocks go to the greater
 *       node id (byte order).
 *   <li>{@code highest-version}: the higher version counter; then as last-write-wins.
 *   <li>{@code merge}: per property, last-write-wins by each property's own clock, so concurrent
 *       edits of different properties both survive (a removed property is a property tombstone);
 *       the row itself (type, endpoints, deleted or not) by last-write-wins.
 * </ul>
 *
 * A strategy is chosen for the mesh and may be overridden per type; an override applies when both
 * states have that type (a change of type is decided by the mesh's strategy), which keeps the
 * choice the same whichever state arrives first. Every node of a mesh must use the same rule.
 */
public final class MergeRule {

    /** Sets the session's strategy: $1 the mesh's, $2 the per-type ones as JSON, $3 auto-resolve on|off. */
    public static final String SESSION_SETTINGS = "SELECT set_config('loom.apply', 'on', false),"
            + " set_config('loom.merge_strategy', $1, false), set_config('loom.merge_types', $2, false),"
            + " set_config('loom.auto_resolve', $3, false)";

    public enum Strategy {
        LAST_WRITE_WINS("last-write-wins"),
        HIGHEST_VERSION("highest-version"),
        MERGE("merge");

        private final String configName;

        Strategy(String configName) {
            this.configName = configName;
        }

        public static Strategy parse(String setting, String value) {
            for (Strategy s : values()) {
                if (s.configName.equals(value.trim().toLowerCase(Locale.ROOT))) {
                    return s;
                }
            }
            throw new IllegalArgumentException(
                    setting + " is '" + value + "': use last-write-wins, highest-version or merge");
        }

        public String configName() {
            return configName;
        }
    }

    private final Strategy mesh;
    private final Map<String, Strategy> byType;

    public MergeRule(Strategy mesh, Map<String, Strategy> byType) {
        this.mesh = mesh;
        this.byType = new TreeMap<>(byType);
    }

    public static MergeRule lastWriteWins() {
        return new MergeRule(Strategy.LAST_WRITE_WINS, Map.of());
    }

    /** The mesh's strategy as the merge trigger reads it ({@code loom.merge_strategy}). */
    public String strategyName() {
        return mesh.configName();
    }

    /** The per-type strategies by type name, as the merge trigger reads them ({@code loom.merge_types}, JSON). */
    public Map<String, String> typeStrategyNames() {
        Map<String, String> names = new TreeMap<>();
        byType.forEach((type, strategy) -> names.put(type, strategy.configName()));
        return names;
    }

    @Override
    public String toString() {
        return mesh.configName()
                + (byType.isEmpty()
                        ? ""
                        : " "
                                + byType.entrySet().stream()
                                        .map(e ->
                                                e.getKey() + "=" + e.getValue().configName())
                                        .collect(Collectors.joining(", ", "(", ")")));
    }
}
