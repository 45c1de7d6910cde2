package dev.loomdb.edge.graph;

import java.util.Locale;

/** Which edges a query follows from a node: those leaving it, those arriving, or both. */
enum Direction {
    OUT,
    IN,
    BOTH;

    boolean out() {
        return this != IN;
    }

    boolean in() {
        return this != OUT;
    }

    Direction reverse() {
        return this == OUT ? IN : this == IN ? OUT : BOTH;
    }

    String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    static Direction parse(String value, Direction otherwise) {
        if (value == null || value.isBlank()) {
            return otherwise;
        }
        return switch (value.trim()) {
            case "out" -> OUT;
            case "in" -> IN;
            case "both" -> BOTH;
            default -> throw ApiProblem.badRequest("The direction '" + value + "' is none of out, in, both.");
        };
    }
}
