package dev.loomdb.edge.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.loomdb.edge.apply.Applier;
import dev.loomdb.edge.embedded.EmbeddedPostgresServer;
import dev.loomdb.edge.it.Infra;
import dev.loomdb.edge.merge.MergeRule.Strategy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

/**
 * The merge laws, checked on the real merge: the conditional upsert the applier runs in PostgreSQL.
 * For random sets of states of one node (equal clocks, equal versions, deletes and type changes
 * included), applying them in any order, with duplicates, ends in the same row (commutative,
 * associative, idempotent), and that row is the one the rule picks.
 */
class MergeLawsIT {

    private static EmbeddedPostgresServer embedded;
    private static String url;
    private static String database;
    private static Connection connection;

    record State(String type, long version, long hlc, String origin, boolean tombstone, int value) {
        State withType(String newType) {
            return new State(newType, version, hlc, origin, tombstone, value);
        }
    }

    @BeforeContainer
    static void startPostgres() throws Exception {
        if (Infra.external()) {
            database = "loom_it_laws_" + Infra.suffix();
            Infra.createExternalDatabase(database);
            url = Infra.EXTERNAL_PG + database;
        } else {
            embedded = EmbeddedPostgresServer.start(Infra.workDir("laws").resolve("pg"), Infra.freePort());
            url = "jdbc:" + embedded.reactiveUrl();
        }
        connection = DriverManager.getConnection(url, "postgres", "");
        try (Statement s = connection.createStatement()) {
            s.execute("CREATE SCHEMA loom");
            s.execute(Files.readString(Path.of("src/main/resources/db/migration/V1__graph.sql")));
            s.execute("SET loom.apply = 'on'"); // keep the incoming stamps, as the applier's session does
        }
    }

    @AfterContainer
    static void stopPostgres() throws Exception {
        if (connection != null) {
            connection.close();
        }
        if (embedded != null) {
            embedded.close();
        }
        if (database != null) {
            Infra.dropExternalDatabase(database, null);
        }
    }

    @Provide
    Arbitrary<State> states() {
        return Combinators.combine(Arbitraries.just("FACT"), Arbitraries.longs().between(1, 3),
                Arbitraries.longs().between(1, 3), Arbitraries.of("a", "b", "c"), Arbitraries.of(true, false),
                Arbitraries.integers().between(0, 9)).as(State::new);
    }

    @Provide
    Arbitrary<MergeRule> rules() {
        return Arbitraries.of(MergeRule.lastWriteWins(), new MergeRule(Strategy.HIGHEST_VERSION, Map.of()),
                new MergeRule(Strategy.LAST_WRITE_WINS, Map.of("COUNTER", Strategy.HIGHEST_VERSION)));
    }

    private String applyAll(MergeRule rule, List<State> states) throws Exception {
        try (Statement s = connection.createStatement()) {
            s.execute("TRUNCATE loom.nodes");
        }
        try (PreparedStatement upsert = connection.prepareStatement(
                Applier.upsertNodeSql(rule).replaceAll("\\$(\\d)", "?").replace("?::text::jsonb", "?::jsonb"))) {
            for (State st : states) {
                upsert.setString(1, "x");
                upsert.setString(2, st.type());
                upsert.setString(3, st.tombstone() ? "{}" : "{\"v\": " + st.value() + "}");
                upsert.setLong(4, st.hlc());
                upsert.setLong(5, st.version());
                upsert.setString(6, st.origin());
                upsert.setBoolean(7, st.tombstone());
                upsert.setBoolean(8, st.tombstone());
                upsert.execute();
            }
        }
        try (Statement s = connection.createStatement();
                ResultSet rs = s.executeQuery("SELECT type, properties::text, hlc, version, origin, tombstone FROM loom.nodes")) {
            rs.next();
            return rs.getString(1) + "|" + rs.getString(2) + "|" + rs.getLong(3) + "|" + rs.getLong(4) + "|"
                    + rs.getString(5) + "|" + rs.getBoolean(6);
        }
    }

    private static State winner(MergeRule rule, List<State> states) {
        State best = states.get(0);
        for (State s : states.subList(1, states.size())) {
            if (rule.incomingWins(best.type(), best.version(), best.hlc(), best.origin(), s.type(), s.version(), s.hlc(),
                    s.origin())) {
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
     * Per strategy, and per type under a mixed rule (COUNTER by highest-version, the rest by
     * last-write-wins), for states of one type; a change of type between types of different
     * strategies is outside these laws (see the README).
     */
    @Property(tries = 150)
    void anyOrderWithDuplicatesGivesTheSameRow(@ForAll("rules") MergeRule rule, @ForAll("types") String type,
            @ForAll("states") State first, @ForAll("states") State second, @ForAll("states") State third,
            @ForAll long seed) throws Exception {
        first = first.withType(type);
        second = second.withType(type);
        third = third.withType(type);
        // Distinct states never tie on the whole key; a real mesh never has two writes with one (hlc, origin).
        List<State> states = new ArrayList<>(List.of(first, second, third));
        List<State> all = List.copyOf(states);
        states.removeIf(s -> all.stream().anyMatch(o -> all.indexOf(o) < all.indexOf(s) && o.hlc() == s.hlc()
                && o.origin().equals(s.origin())));
        String inOrder = applyAll(rule, states);

        List<State> shuffled = new ArrayList<>(states);
        shuffled.addAll(states); // every message twice
        Collections.shuffle(shuffled, new Random(seed));
        assertEquals(inOrder, applyAll(rule, shuffled), "order and duplicates change nothing");

        State expected = winner(rule, states);
        assertEquals(expected.hlc() + "|" + expected.version() + "|" + expected.origin(),
                inOrder.split("\\|")[2] + "|" + inOrder.split("\\|")[3] + "|" + inOrder.split("\\|")[4],
                "the stored row is the one the rule picks");
    }
}
