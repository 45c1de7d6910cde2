package dev.loomdb.edge.capture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loomdb.edge.capture.pgoutput.PgOutputDecoder;
import dev.loomdb.edge.embedded.EmbeddedPostgresServer;
import dev.loomdb.edge.flow.CapturedTransaction;
import dev.loomdb.edge.flow.Change;
import dev.loomdb.edge.it.Infra;
import java.nio.ByteBuffer;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.postgresql.PGConnection;
import org.postgresql.PGProperty;
import org.postgresql.replication.PGReplicationStream;

/**
 * The decoder and the transaction assembler on what a real PostgreSQL sends, with the graph schema
 * and its triggers as the node installs them: several changes in one transaction, an unchanged
 * TOASTed value, columns added while streaming, a transaction applied under a replication origin,
 * TRUNCATE, and DELETE turned into a tombstone.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PgOutputRealServerIT {

    private final String origin = "test_peer_" + Infra.suffix();
    private EmbeddedPostgresServer embedded;
    private String url;
    private String database;

    @BeforeAll
    void startPostgres() throws Exception {
        if (Infra.external()) {
            database = "loom_it_decoder_" + Infra.suffix();
            Infra.createExternalDatabase(database);
            url = Infra.EXTERNAL_PG + database;
        } else {
            embedded = EmbeddedPostgresServer.start(Infra.workDir("decoder").resolve("pg"), Infra.freePort());
            url = "jdbc:" + embedded.reactiveUrl();
        }
        try (Connection c = plain();
                Statement s = c.createStatement()) {
            Infra.applyMigrations(c);
            s.execute("INSERT INTO loom.node_info (node_id) VALUES ('node-x')");
            s.execute("CREATE PUBLICATION loom_graph FOR TABLE loom.nodes, loom.edges");
            s.execute("SELECT pg_create_logical_replication_slot('decoder_test', 'pgoutput')");
        }
    }

    @AfterAll
    void stopPostgres() {
        if (embedded != null) {
            embedded.close();
        }
        if (database != null) {
            Infra.dropExternalDatabase(database, null);
        }
    }

    private Connection plain() throws Exception {
        return DriverManager.getConnection(url, "postgres", "");
    }

    private List<CapturedTransaction> read(int count) throws Exception {
        Properties props = new Properties();
        PGProperty.USER.set(props, "postgres");
        PGProperty.REPLICATION.set(props, "database");
        PGProperty.ASSUME_MIN_SERVER_VERSION.set(props, "10");
        PGProperty.PREFER_QUERY_MODE.set(props, "simple");
        List<CapturedTransaction> transactions = new ArrayList<>();
        List<String> warnings = new ArrayList<>();
        TransactionAssembler assembler = new TransactionAssembler("loom", warnings::add);
        PgOutputDecoder decoder = new PgOutputDecoder();
        try (Connection c = DriverManager.getConnection(url, props)) {
            PGReplicationStream stream = c.unwrap(PGConnection.class)
                    .getReplicationAPI()
                    .replicationStream()
                    .logical()
                    .withSlotName("decoder_test")
                    .withSlotOption("proto_version", "1")
                    .withSlotOption("publication_names", "loom_graph")
                    .start();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (transactions.size() < count && System.nanoTime() < deadline) {
                ByteBuffer buffer = stream.readPending();
                if (buffer == null) {
                    TimeUnit.MILLISECONDS.sleep(5); // polling the stream, as the capture thread does
                    continue;
                }
                assembler.accept(decoder.decode(buffer)).ifPresent(transactions::add);
            }
            stream.close();
        }
        this.warnings = warnings;
        return transactions;
    }

    private List<String> warnings = List.of();

    @Test
    void decodesWhatPostgresSendsForEveryKindOfGraphWrite() throws Exception {
        byte[] random = new byte[100_000];
        new SecureRandom().nextBytes(random);
        String big = Base64.getEncoder().encodeToString(random);
        try (Connection c = plain();
                Statement s = c.createStatement()) {
            c.setAutoCommit(false);
            s.execute("INSERT INTO loom.nodes (id, type, properties) VALUES ('n1', 'AGENT', '{\"a\": 1}')");
            s.execute("INSERT INTO loom.nodes (id, type, properties) VALUES ('n2', 'FACT', '{}')");
            s.execute("INSERT INTO loom.edges (id, type, source_id, target_id) VALUES ('e1', 'KNOWS', 'n1', 'n2')");
            c.commit(); // 1: three changes in one transaction
            s.execute(
                    "INSERT INTO loom.nodes (id, type, properties) VALUES ('big', 'DOCUMENT', jsonb_build_object('blob', '"
                            + big + "'))");
            c.commit(); // 2
            s.execute("UPDATE loom.nodes SET type = 'ARCHIVE' WHERE id = 'big'");
            c.commit(); // 3: the TOASTed properties are unchanged
            s.execute("ALTER TABLE loom.nodes ADD COLUMN note text");
            s.execute("INSERT INTO loom.nodes (id, type, note) VALUES ('n3', 'RULE', 'added column')");
            c.commit(); // 4: a new shape while streaming
            s.execute("SELECT pg_replication_origin_create('" + origin + "')");
            s.execute("SELECT pg_replication_origin_session_setup('" + origin + "')");
            s.execute("SET loom.apply = 'on'");
            s.execute("INSERT INTO loom.nodes (id, type, hlc, version, origin) VALUES ('n4', 'AGENT', 42, 7, 'peer')");
            c.commit(); // 5: applied for a peer
            s.execute("RESET loom.apply");
            s.execute("SELECT pg_replication_origin_session_reset()");
            s.execute("SELECT pg_replication_origin_drop('" + origin + "')");
            c.commit();
            s.execute("TRUNCATE loom.edges");
            c.commit(); // 6: TRUNCATE is decoded, reported, not synced
            s.execute("DELETE FROM loom.nodes WHERE id = 'n1'");
            c.commit(); // 7: a tombstone
            s.execute("ALTER TABLE loom.nodes DROP COLUMN note");
            c.commit();
        }

        List<CapturedTransaction> txs = read(7);
        List<CapturedTransaction> withChanges = txs.stream()
                .filter(t -> !t.changes().isEmpty() || t.appliedForPeer())
                .toList();
        assertTrue(withChanges.size() >= 6, "transactions read: " + txs);

        CapturedTransaction first = withChanges.get(0);
        assertEquals(
                List.of("n1", "n2", "e1"),
                first.changes().stream().map(Change::id).toList());
        assertTrue(first.endLsn().isAfter(first.commitLsn()) || first.endLsn().equals(first.commitLsn()));
        Change edge = first.changes().get(2);
        assertEquals(Change.Kind.EDGE, edge.kind());
        assertEquals("n1", edge.source());
        assertEquals("node-x", edge.origin());
        assertEquals(1, edge.version());

        Change inserted = withChanges.get(1).changes().get(0);
        Change retyped = withChanges.get(2).changes().get(0);
        assertEquals("ARCHIVE", retyped.type());
        assertEquals(Change.Op.UPDATE, retyped.op());
        assertTrue(retyped.properties().contains(big), "the unchanged TOASTed properties are filled in");
        assertTrue(inserted.hlc().isBefore(retyped.hlc()), "a write is stamped later than the row it replaces");
        assertEquals(2, retyped.version());

        Change afterAlter = withChanges.get(3).changes().get(0);
        assertEquals("n3", afterAlter.id());
        assertEquals("RULE", afterAlter.type());

        CapturedTransaction peer = withChanges.get(4);
        assertTrue(peer.appliedForPeer());
        assertEquals(origin, peer.replicationOrigin());
        assertEquals(42, peer.changes().get(0).hlc().value(), "a peer's stamp is kept");
        assertEquals("peer", peer.changes().get(0).origin());

        assertTrue(warnings.stream().anyMatch(w -> w.contains("TRUNCATE of loom.edges")), warnings.toString());

        Change tombstone = withChanges.get(withChanges.size() - 1).changes().get(0);
        assertEquals("n1", tombstone.id());
        assertEquals(Change.Op.DELETE, tombstone.op());
        assertTrue(tombstone.tombstone());
        assertEquals("{}", tombstone.properties());
        assertFalse(txs.get(0).appliedForPeer());
    }
}
