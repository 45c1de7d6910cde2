package dev.loomdb.edge.merge;

import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * Which of two states of a node or edge wins, by strategy (the seed's conflictResolution):
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
 * An equal state never wins, so applying a message twice changes nothing.
 */
public final class MergeRule {

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

    /** Whether the incoming state replaces the stored one: the rule the SQL condition applies inside PostgreSQL. */
    public boolean incomingWins(
            String storedType,
            long storedVersion,
            long storedHlc,
            String storedOrigin,
            String incomingType,
            long incomingVersion,
            long incomingHlc,
            String incomingOrigin) {
        Strategy strategy = storedType.equals(incomingType) ? byType.getOrDefault(incomingType, mesh) : mesh;
        if (strategy == Strategy.HIGHEST_VERSION && storedVersion != incomingVersion) {
            return storedVersion < incomingVersion;
        }
        return LastWriteWins.incomingWins(storedHlc, storedOrigin, incomingHlc, incomingOrigin);
    }

    /** Whether some type, or the whole mesh, merges per property. */
    public boolean anyMerge() {
        return mesh == Strategy.MERGE || byType.containsValue(Strategy.MERGE);
    }

    /**
     * When properties are merged one by one: the SQL condition on {@code t} and {@code EXCLUDED}. Like
     * the row rule, a type's override applies when both states have that type.
     */
    public String sqlMergingCondition() {
        if (mesh == Strategy.MERGE) {
            String others = typesWhere(s -> s != Strategy.MERGE);
            return others.isEmpty() ? "true" : "NOT (t.type = EXCLUDED.type AND t.type IN (" + others + "))";
        }
        String merging = typesWhere(s -> s == Strategy.MERGE);
        return merging.isEmpty() ? "false" : "(t.type = EXCLUDED.type AND t.type IN (" + merging + "))";
    }

    private String typesWhere(java.util.function.Predicate<Strategy> which) {
        return byType.entrySet().stream()
                .filter(e -> which.test(e.getValue()))
                .map(e -> "'" + e.getKey().replace("'", "''") + "'")
                .collect(Collectors.joining(", "));
    }

    /**
     * The rule as the condition of {@code INSERT ... ON CONFLICT DO UPDATE ... WHERE}, comparing the
     * stored row {@code t} with the incoming {@code EXCLUDED}.
     */
    public String sqlCondition() {
        String lww = LastWriteWins.SQL_CONDITION;
        String highest =
                "(t.version, t.hlc, t.origin COLLATE \"C\") < (EXCLUDED.version, EXCLUDED.hlc, EXCLUDED.origin COLLATE \"C\")";
        String meshCondition = mesh == Strategy.HIGHEST_VERSION ? highest : lww;
        Strategy meshRow = rowStrategy(mesh);
        Map<Strategy, String> overrides = byType.entrySet().stream()
                .filter(e -> rowStrategy(e.getValue()) != meshRow)
                .collect(Collectors.groupingBy(
                        e -> rowStrategy(e.getValue()),
                        TreeMap::new,
                        Collectors.mapping(e -> "'" + e.getKey().replace("'", "''") + "'", Collectors.joining(", "))));
        if (overrides.isEmpty()) {
            return meshCondition;
        }
        StringBuilder sql = new StringBuilder("(CASE");
        overrides.forEach((strategy, types) -> sql.append(" WHEN t.type = EXCLUDED.type AND t.type IN (")
                .append(types)
                .append(") THEN ")
                .append(strategy == Strategy.HIGHEST_VERSION ? highest : lww));
        return sql.append(" ELSE ").append(meshCondition).append(" END)").toString();
    }

    /** The rule for the row itself: merge decides whole rows by last-write-wins. */
    private static Strategy rowStrategy(Strategy strategy) {
        return strategy == Strategy.MERGE ? Strategy.LAST_WRITE_WINS : strategy;
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
