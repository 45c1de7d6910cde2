package dev.loomdb.edge.graph;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.loomdb.edge.it.SchemaDatabase;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The property clocks the stamping trigger writes for local writes (any writer: REST, psql, an app),
 * on real PostgreSQL: compact (a property without an entry has the row's stamp), and written out
 * by {@code loom.effective_clocks} to the clock of the write that last set or removed each property.
 */
class PropertyClocksIT {

    private static SchemaDatabase database;
    private static Connection sql;

    @BeforeAll
    static void start() throws Exception {
        database = SchemaDatabase.create("clocks");
        sql = database.connect();
        try (Statement s = sql.createStatement()) {
            s.execute("INSERT INTO loom.node_info (node_id) VALUES ('n1')");
        }
    }

    @AfterAll
    static void stop() throws Exception {
        if (sql != null) {
            sql.close();
        }
        if (database != null) {
            database.close();
        }
    }

    /** [stored clocks, effective clocks, hlc] of node {@code id}. */
    private static String[] clocks(String id) throws Exception {
        try (Statement s = sql.createStatement();
                ResultSet rs = s.executeQuery("SELECT property_clocks::text,"
                        + " loom.effective_clocks(properties, property_clocks, hlc, origin)::text, hlc::text"
                        + " FROM loom.nodes WHERE id = '" + id + "'")) {
            rs.next();
            return new String[] {rs.getString(1), rs.getString(2), rs.getString(3)};
        }
    }

    private static void execute(String statement) throws Exception {
        try (Statement s = sql.createStatement()) {
            s.execute(statement);
        }
    }

    @Test
    void anInsertStoresNoClocksAndEveryPropertyHasTheRowsStamp() throws Exception {
        execute("INSERT INTO loom.nodes (id, type, properties) VALUES ('a', 'T', '{\"x\": 1, \"y\": \"two\"}')");
        String[] a = clocks("a");
        assertEquals("{}", a[0]);
        assertEquals("{\"x\": [" + a[2] + ", \"n1\"], \"y\": [" + a[2] + ", \"n1\"]}", a[1]);
    }

    @Test
    void anUpdateKeepsTheClocksOfWhatItLeftAloneAndStampsWhatItChangedOrRemoved() throws Exception {
        execute(
                "INSERT INTO loom.nodes (id, type, properties) VALUES ('b', 'T', '{\"keep\": 1, \"change\": 1, \"drop\": 1}')");
        String first = clocks("b")[2];
        execute("UPDATE loom.nodes SET properties = '{\"keep\": 1, \"change\": 2, \"add\": 3}' WHERE id = 'b'");
        String[] b = clocks("b");
        String second = b[2];
        // stored: the unchanged property keeps the first write's stamp, the removed one has the second's
        assertEquals("{\"drop\": [" + second + ", \"n1\"], \"keep\": [" + first + ", \"n1\"]}", b[0]);
        assertEquals(
                "{\"add\": [" + second + ", \"n1\"], \"drop\": [" + second + ", \"n1\"], \"keep\": [" + first
                        + ", \"n1\"], \"change\": [" + second + ", \"n1\"]}",
                b[1]);

        execute(
                "UPDATE loom.nodes SET properties = '{\"keep\": 1, \"change\": 2, \"add\": 3, \"drop\": 4}' WHERE id = 'b'");
        String[] again = clocks("b");
        assertEquals(
                "{\"add\": [" + second + ", \"n1\"], \"drop\": [" + again[2] + ", \"n1\"], \"keep\": [" + first
                        + ", \"n1\"], \"change\": [" + second + ", \"n1\"]}",
                again[1],
                "a property set again takes the new stamp");

        execute("DELETE FROM loom.nodes WHERE id = 'b'"); // a tombstone removes every property
        String[] gone = clocks("b");
        String t = gone[2];
        assertEquals(
                "{\"add\": [" + t + ", \"n1\"], \"drop\": [" + t + ", \"n1\"], \"keep\": [" + t + ", \"n1\"],"
                        + " \"change\": [" + t + ", \"n1\"]}",
                gone[1]);
    }
}
