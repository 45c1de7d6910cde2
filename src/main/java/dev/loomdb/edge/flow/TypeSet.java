package dev.loomdb.edge.flow;

import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * A set of node or edge types: every type ({@link #ALL}), the listed ones, or every type but the
 * listed ones. Closed under intersection and difference, so that what two nodes both follow, or what
 * a node follows now and did not before, is again a {@code TypeSet}.
 *
 * @param except whether {@code types} are the types left out (true) or the only ones in (false)
 * @param types the types listed, sorted
 */
public record TypeSet(boolean except, Set<String> types) {

    public static final TypeSet ALL = new TypeSet(true, Set.of());
    public static final TypeSet NONE = new TypeSet(false, Set.of());

    public TypeSet {
        types = java.util.Collections.unmodifiableSet(new TreeSet<>(types));
    }

    public static TypeSet only(Collection<String> types) {
        return new TypeSet(false, new TreeSet<>(types));
    }

    /**
     * A setting's value: {@code *} every type, {@code -} none, else the types listed.
     *
     * @throws IllegalArgumentException naming the setting when {@code *} or {@code -} is mixed with types
     */
    public static TypeSet parse(List<String> values, String setting) {
        List<String> listed =
                values.stream().map(String::trim).filter(v -> !v.isEmpty()).toList();
        boolean all = listed.contains("*");
        boolean none = listed.contains("-");
        if ((all || none) && listed.size() > 1) {
            throw new IllegalArgumentException(setting + "=" + String.join(",", values)
                    + ": '*' (every type) and '-' (no type) stand alone, without type names");
        }
        if (all || listed.isEmpty()) {
            return ALL;
        }
        return none ? NONE : only(listed);
    }

    public boolean includes(String type) {
        return except != types.contains(type);
    }

    public boolean isAll() {
        return except && types.isEmpty();
    }

    public boolean isEmpty() {
        return !except && types.isEmpty();
    }

    public TypeSet complement() {
        return new TypeSet(!except, types);
    }

    public TypeSet intersect(TypeSet other) {
        TreeSet<String> result = new TreeSet<>();
        if (!except && !other.except) {
            types.stream().filter(other.types::contains).forEach(result::add);
            return new TypeSet(false, result);
        }
        if (except && other.except) {
            result.addAll(types);
            result.addAll(other.types);
            return new TypeSet(true, result);
        }
        TypeSet listed = except ? other : this;
        TypeSet excluded = except ? this : other;
        listed.types.stream().filter(t -> !excluded.types.contains(t)).forEach(result::add);
        return new TypeSet(false, result);
    }

    /** The types in this set and not in {@code other}. */
    public TypeSet minus(TypeSet other) {
        return intersect(other.complement());
    }

    @Override
    public String toString() {
        if (isAll()) {
            return "*";
        }
        if (isEmpty()) {
            return "-";
        }
        return (except ? "all but " : "") + String.join(",", types);
    }
}
