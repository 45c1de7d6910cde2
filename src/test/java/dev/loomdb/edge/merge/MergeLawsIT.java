package dev.loomdb.edge.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.loomdb.edge.it.SchemaDatabase;
import dev.loomdb.edge.merge.MergeRule.Strategy;
import io.vertx.core.json.JsonObject;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

/**
 * The merge laws, checked on the real merge: {@code loom.apply_nodes} in an apply session, decided by
 * PostgreSQL's merge trigger. For random sets of states of one node (equal clocks, equal versions,
 * deletes and per-property clocks included), applying them in any order, with duplicates, ends in the
 * same row (commutative, associative, idempotent), and that row is the one the rule picks, as
 * {@link #winner} states it here on its own.
 */
class MergeLawsIT {

    private static SchemaDatabase database;
    private static Connection connection;

    /**
     * A state of node "x": row fields, and for each property name v and w the clock of its last write;
     * the value (or absence) of a property is a function of its clock, as in a real mesh, where one
     * clock is one write.
     */
    record Clock(int hlc, String origin) {}

    record State(
            String type, long version, long hlc, String origin, boolean tombstone, Clock v, Clock w, boolean compact) {
        /** A state whose write set v: v's clock is the row's stamp, and a compact state leaves it out. */
        static State of(
                String type,
                long version,
                long hlc,
                String origin,
                boolean tombstone,
                Clock v,
                Clock w,
                boolean compact) {
            return new State(
                    type, version, hlc, origin, tombstone, compact ? new Clock((int) hlc, origin) : v, w, compact);
        }

        State withType(String newType) {
            return new State(newType, version, hlc, origin, tombstone, v, w, compact);
        }

        /** The same state with every property clock written out. */
        State writtenOut() {
            return new State(type, version, hlc, origin, tombstone, v, w, false);
        }

        private static boolean present(String key, int clock, String origin) {
            return (clock + origin.charAt(0) + key.charAt(0)) % 3 != 0;
        }

        String properties() {
            StringBuilder json = new StringBuilder("{");
            if (present("v", v.hlc(), v.origin())) {
                json.append("\"v\": \"").append(v.hlc()).append(v.origin()).append("\"");
            }
            if (present("w", w.hlc(), w.origin())) {
                json.append(json.length() > 1 ? ", " : "")
                        .append("\"w\": \"")
                        .append(w.hlc())
                        .append(w.origin())
                        .append("\"");
            }
            return json.append("}").toString();
        }

        /**
         * The clocks as a node stores and sends them: a compact state leaves out a present property
         * whose clock is the row's own stamp (migration V7); a removed property always has its entry.
         */
        String clocks() {
            String wEntry = "\"w\": [" + w.hlc() + ", \"" + w.origin() + "\"]";
            boolean leaveOutV =
                    compact && v.hlc() == hlc && v.origin().equals(origin) && present("v", v.hlc(), v.origin());
            return leaveOutV
                    ? "{" + wEntry + "}"
                    : "{\"v\": [" + v.hlc() + ", \"" + v.origin() + "\"], " + wEntry + "}";
        }
    }

    @BeforeContainer
    static void startPostgres() throws Exception {
        database = SchemaDatabase.create("laws");
        connection = database.connect();
    }

    @AfterContainer
    static void stopPostgres() throws Exception {
        if (connection != null) {
            connection.close();
        }
        if (database != null) {
            database.close();
        }
    }

    @Provide
    Arbitrary<State> states() {
        Arbitrary<String> origins = Arbitraries.of("a", "b", "c");
        Arbitrary<Clock> clocks = Combinators.combine(Arbitraries.integers().between(1, 3), origins)
                .as(Clock::new);
        return Combinators.combine(
                        Arbitraries.just("FACT"),
                        Arbitraries.longs().between(1, 3),
                        Arbitraries.longs().between(1, 3),
                        origins,
                        Arbitraries.of(true, false),
                        clocks,
                        clocks,
                        Arbitraries.of(true, false))
                .as(State::of);
    }

    @Provide
    Arbitrary<MergeRule> rules() {
        return Arbitraries.of(
                MergeRule.lastWriteWins(),
                new MergeRule(Strategy.HIGHEST_VERSION, Map.of()),
                new MergeRule(Strategy.MERGE, Map.of()),
                new MergeRule(Strategy.LAST_WRITE_WINS, Map.of("COUNTER", Strategy.HIGHEST_VERSION)),
                new MergeRule(Strategy.HIGHEST_VERSION, Map.of("COUNTER", Strategy.MERGE)));
    }

    private String applyAll(MergeRule rule, List<State> states) throws Exception {
        try (Statement s = connection.createStatement()) {
            s.execute("TRUNCATE loom.nodes");
        }
        session(rule);
        try (PreparedStatement apply = connection.prepareStatement("SELECT * FROM loom.apply_nodes(ARRAY[?],"
                + " ARRAY[?], ARRAY[?], ARRAY[?], ARRAY[?]::bigint[], ARRAY[?]::bigint[], ARRAY[?], ARRAY[?],"
                + " ARRAY[?]::bigint[])")) {
            for (State st : states) {
                apply.setString(1, "x");
                apply.setString(2, st.type());
                apply.setString(3, st.properties());
                apply.setString(4, st.clocks());
                apply.setLong(5, st.hlc());
                apply.setLong(6, st.version());
                apply.setString(7, st.origin());
                apply.setBoolean(8, st.tombstone());
                apply.setLong(9, 0);
                apply.executeQuery().close();
            }
        }
        try (Statement s = connection.createStatement();
                ResultSet rs = s.executeQuery(
                        "SELECT type, properties::text, hlc, version, origin, tombstone, property_clocks::text,"
                                + " loom.effective_clocks(properties, property_clocks, hlc, origin)::text FROM loom.nodes")) {
            rs.next();
            return rs.getString(1) + "|" + rs.getString(2) + "|" + rs.getLong(3) + "|" + rs.getLong(4) + "|"
                    + rs.getString(5) + "|" + rs.getBoolean(6) + "|" + rs.getString(7) + "|" + rs.getString(8);
        }
    }

    private static int compare(Clock a, Clock b) {
        return a.hlc() != b.hlc()
                ? Integer.compare(a.hlc(), b.hlc())
                : a.origin().compareTo(b.origin());
    }

    /** The apply session's strategy, as the applier sets it. */
    private static void session(MergeRule rule) throws Exception {
        try (PreparedStatement settings =
                connection.prepareStatement(MergeRule.SESSION_SETTINGS.replaceAll("\\$\\d", "?"))) {
            settings.setString(1, rule.strategyName());
            settings.setString(2, new JsonObject(new HashMap<String, Object>(rule.typeStrategyNames())).encode());
            settings.setString(3, "on");
            settings.executeQuery().close();
        }
    }

    /** The strategy that decides two states: a type's own when both have it, else the mesh's. */
    private static String strategy(MergeRule rule, String storedType, String incomingType) {
        return storedType.equals(incomingType)
                ? rule.typeStrategyNames().getOrDefault(storedType, rule.strategyName())
                : rule.strategyName();
    }

    /** The rule, stated on its own: the greater (version, hlc, origin) or (hlc, origin) wins the row. */
    private static boolean incomingWins(MergeRule rule, State stored, State incoming) {
        if (strategy(rule, stored.type(), incoming.type()).equals("highest-version")
                && stored.version() != incoming.version()) {
            return stored.version() < incoming.version();
        }
        if (stored.hlc() != incoming.hlc()) {
            return stored.hlc() < incoming.hlc();
        }
        return stored.origin().compareTo(incoming.origin()) < 0;
    }

    private static State winner(MergeRule rule, List<State> states) {
        State best = states.get(0);
        for (State s : states.subList(1, states.size())) {
            if (incomingWins(rule, best, s)) {
                best = s;
            }
        }
        return best;
    }

    @Provide
    Arbitrary<String> types() {
        return Arbitraries.of("FACT", "COUNTER");
    }

    /**
     * Per strategy (last-write-wins, highest-version, merge), and per type under mixed rules, for
     * states of one type; a change of type between types of different
     * strategies is outside these laws (see the README).
     */
    @Property(tries = 150)
    void anyOrderWithDuplicatesGivesTheSameRow(
            @ForAll("rules") MergeRule rule,
            @ForAll("types") String type,
            @ForAll("states") State first,
            @ForAll("states") State second,
            @ForAll("states") State third,
            @ForAll long seed)
            throws Exception {
        first = first.withType(type);
        second = second.withType(type);
        third = third.withType(type);
        // Distinct states never tie on the whole key; a real mesh never has two writes with one (hlc, origin).
        List<State> states = new ArrayList<>(List.of(first, second, third));
        List<State> all = List.copyOf(states);
        states.removeIf(s -> all.stream()
                .anyMatch(o -> all.indexOf(o) < all.indexOf(s)
                        && o.hlc() == s.hlc()
                        && o.origin().equals(s.origin())));
        String inOrder = applyAll(rule, states);

        List<State> shuffled = new ArrayList<>(states);
        shuffled.addAll(states); // every message twice
        Collections.shuffle(shuffled, new Random(seed));
        assertEquals(inOrder, applyAll(rule, shuffled), "order and duplicates change nothing");
        assertEquals(
                inOrder,
                applyAll(rule, states.stream().map(State::writtenOut).toList()),
                "clocks written out are stored as the compact ones, byte for byte");

        boolean merges = strategy(rule, type, type).equals("merge");
        if (merges) { // each property from the write with its greatest clock
            Clock v = states.stream().map(State::v).max(MergeLawsIT::compare).orElseThrow();
            Clock w = states.stream().map(State::w).max(MergeLawsIT::compare).orElseThrow();
            assertEquals(
                    new State(type, 0, 0, "", false, v, w, false).properties(),
                    inOrder.split("\\|")[1],
                    "every property comes from its latest write");
        }

        State expected = winner(rule, states);
        assertEquals(
                expected.hlc() + "|" + expected.version() + "|" + expected.origin(),
                inOrder.split("\\|")[2] + "|" + inOrder.split("\\|")[3] + "|" + inOrder.split("\\|")[4],
                "the stored row is the one the rule picks");
    }

    private static final MergeRule COUNTERS_BY_VERSION =
            new MergeRule(Strategy.LAST_WRITE_WINS, Map.of("COUNTER", Strategy.HIGHEST_VERSION));

    private static State state(String type, long version, long hlc, String origin) {
        Clock clock = new Clock((int) hlc, origin);
        return State.of(type, version, hlc, origin, false, clock, clock, true);
    }

    /** hlc|version|origin of the stored row after applying the states in this order. */
    private String stamp(MergeRule rule, State... states) throws Exception {
        String[] row = applyAll(rule, List.of(states)).split("\\|");
        return row[2] + "|" + row[3] + "|" + row[4];
    }

    @Example
    void highestVersionPrefersTheMoreEditedStateOverALaterClock() throws Exception {
        State edited = state("COUNTER", 5, 50, "b");
        State later = state("COUNTER", 3, 100, "a");
        assertEquals("50|5|b", stamp(COUNTERS_BY_VERSION, edited, later));
        assertEquals("50|5|b", stamp(COUNTERS_BY_VERSION, later, edited));
    }

    @Example
    void otherTypesKeepTheMeshStrategy() throws Exception {
        assertEquals("100|3|a", stamp(COUNTERS_BY_VERSION, state("AGENT", 5, 50, "b"), state("AGENT", 3, 100, "a")));
    }

    @Example
    void aChangeOfTypeIsDecidedTheSameWayWhicheverArrivesFirst() throws Exception {
        State counter = state("COUNTER", 5, 50, "a");
        State agent = state("AGENT", 3, 100, "b");
        assertEquals(stamp(COUNTERS_BY_VERSION, counter, agent), stamp(COUNTERS_BY_VERSION, agent, counter));
        assertEquals("100|3|b", stamp(COUNTERS_BY_VERSION, counter, agent), "the mesh's strategy decides");
    }

    @Example
    void aPeersStateIsRefusedOutsideAnApplySession() throws Exception {
        try (Connection plain = database.connect();
                Statement s = plain.createStatement()) {
            java.sql.SQLException refused = org.junit.jupiter.api.Assertions.assertThrows(
                    java.sql.SQLException.class,
                    () -> s.executeQuery("SELECT * FROM loom.apply_nodes(ARRAY['y'], ARRAY['T'], ARRAY['{}'],"
                            + " ARRAY['{}'], ARRAY[1]::bigint[], ARRAY[1]::bigint[], ARRAY['a'], ARRAY[false],"
                            + " ARRAY[0]::bigint[])"));
            org.junit.jupiter.api.Assertions.assertTrue(
                    refused.getMessage().contains("apply session"), refused.getMessage());
        }
    }
}
