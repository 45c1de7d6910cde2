package dev.loomdb.edge.graph;

import com.fasterxml.jackson.core.JsonEncoding;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.vertx.mutiny.sqlclient.Cursor;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.RowSet;
import io.vertx.mutiny.sqlclient.SqlConnection;
import io.vertx.mutiny.sqlclient.Transaction;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.time.Duration;
import javax.xml.stream.XMLOutputFactory;
import javax.xml.stream.XMLStreamException;
import javax.xml.stream.XMLStreamWriter;

/**
 * The graph written out for the tools people draw it with: D3's {@code {"nodes": [...], "links": [...]}} and
 * GraphML (yEd, Gephi, Cytoscape, NetworkX). Rows are read through a cursor in pages of
 * {@value #PAGE} and written as they come, from one repeatable-read snapshot, so an export of millions
 * of edges takes no more memory than a page and is consistent. Nodes and edges come ordered by id, so two
 * nodes holding the same graph export the same bytes. Only edges whose two ends are exported nodes are
 * written (a drawing tool refuses a link to a node it does not have). Runs on a worker thread.
 */
@ApplicationScoped
public class GraphExport {

    static final int PAGE = 2000;
    private static final Duration WAIT = Duration.ofSeconds(60);

    private static final String NODES = "SELECT id, type, properties::text AS properties FROM loom.nodes"
            + " WHERE NOT tombstone AND ($1::text[] IS NULL OR type = ANY($1)) ORDER BY id";
    private static final String EDGES =
            "SELECT e.id, e.type, e.source_id, e.target_id, e.properties::text AS properties FROM loom.edges e"
                    + " WHERE NOT e.tombstone AND ($2::text[] IS NULL OR e.type = ANY($2))"
                    + " AND EXISTS (SELECT 1 FROM loom.nodes s WHERE s.id = e.source_id AND NOT s.tombstone"
                    + " AND ($1::text[] IS NULL OR s.type = ANY($1)))"
                    + " AND EXISTS (SELECT 1 FROM loom.nodes t WHERE t.id = e.target_id AND NOT t.tombstone"
                    + " AND ($1::text[] IS NULL OR t.type = ANY($1))) ORDER BY e.id";

    /** What to export: node types and edge types, each null for all. */
    public record Filter(String[] nodeTypes, String[] edgeTypes) {
        public static Filter of(String nodeTypes, String edgeTypes) {
            return new Filter(QueryPool.types(nodeTypes), QueryPool.types(edgeTypes));
        }
    }

    private final Pool pool;
    private final ObjectMapper mapper;

    public GraphExport(Pool pool, ObjectMapper mapper) {
        this.pool = pool;
        this.mapper = mapper;
    }

    /** Receives each row of a snapshot. */
    private interface RowWriter {
        void write(Row row) throws IOException, XMLStreamException;
    }

    public void d3(Filter filter, OutputStream out) throws IOException {
        try (JsonGenerator json = mapper.getFactory().createGenerator(out, JsonEncoding.UTF8)) {
            json.writeStartObject();
            snapshot(
                    filter,
                    () -> json.writeArrayFieldStart("nodes"),
                    row -> {
                        json.writeStartObject();
                        json.writeStringField("id", row.getString("id"));
                        json.writeStringField("type", row.getString("type"));
                        json.writeFieldName("properties");
                        json.writeRawValue(row.getString("properties"));
                        json.writeEndObject();
                    },
                    () -> {
                        json.writeEndArray();
                        json.writeArrayFieldStart("links");
                    },
                    row -> {
                        json.writeStartObject();
                        json.writeStringField("id", row.getString("id"));
                        json.writeStringField("type", row.getString("type"));
                        json.writeStringField("source", row.getString("source_id"));
                        json.writeStringField("target", row.getString("target_id"));
                        json.writeFieldName("properties");
                        json.writeRawValue(row.getString("properties"));
                        json.writeEndObject();
                    });
            json.writeEndArray();
            json.writeEndObject();
        }
    }

    public void graphml(Filter filter, OutputStream out) throws IOException {
        try {
            XMLStreamWriter xml = XMLOutputFactory.newFactory().createXMLStreamWriter(out, "UTF-8");
            xml.writeStartDocument("UTF-8", "1.0");
            xml.writeCharacters("\n");
            xml.writeStartElement("graphml");
            xml.writeDefaultNamespace("http://graphml.graphdrawing.org/xmlns");
            for (String key : new String[] {"type", "properties"}) {
                xml.writeCharacters("\n  ");
                xml.writeEmptyElement("key");
                xml.writeAttribute("id", key);
                xml.writeAttribute("for", "all");
                xml.writeAttribute("attr.name", key);
                xml.writeAttribute("attr.type", "string");
            }
            xml.writeCharacters("\n  ");
            xml.writeStartElement("graph");
            xml.writeAttribute("id", "loom");
            xml.writeAttribute("edgedefault", "directed");
            snapshot(
                    filter,
                    () -> {},
                    row -> {
                        xml.writeCharacters("\n    ");
                        xml.writeStartElement("node");
                        xml.writeAttribute("id", row.getString("id"));
                        data(xml, row);
                        xml.writeEndElement();
                    },
                    () -> {},
                    row -> {
                        xml.writeCharacters("\n    ");
                        xml.writeStartElement("edge");
                        xml.writeAttribute("id", row.getString("id"));
                        xml.writeAttribute("source", row.getString("source_id"));
                        xml.writeAttribute("target", row.getString("target_id"));
                        data(xml, row);
                        xml.writeEndElement();
                    });
            xml.writeCharacters("\n  ");
            xml.writeEndElement();
            xml.writeCharacters("\n");
            xml.writeEndElement();
            xml.writeEndDocument();
            xml.writeCharacters("\n");
            xml.close();
            out.flush();
        } catch (XMLStreamException e) {
            throw new IOException("The GraphML export could not be written: " + e.getMessage(), e);
        }
    }

    private static void data(XMLStreamWriter xml, Row row) throws XMLStreamException {
        for (String key : new String[] {"type", "properties"}) {
            xml.writeStartElement("data");
            xml.writeAttribute("key", key);
            xml.writeCharacters(row.getString(key));
            xml.writeEndElement();
        }
    }

    private interface Step {
        void run() throws IOException, XMLStreamException;
    }

    /** Nodes, then edges, from one read-only repeatable-read snapshot, a page at a time. Blocks: a worker thread. */
    private void snapshot(Filter filter, Step beforeNodes, RowWriter node, Step beforeEdges, RowWriter edge)
            throws IOException {
        SqlConnection conn = pool.getConnection().await().atMost(WAIT);
        try {
            Transaction tx = conn.begin().await().atMost(WAIT);
            try {
                conn.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                        .execute()
                        .await()
                        .atMost(WAIT);
                Tuple types = Tuple.of(filter.nodeTypes(), filter.edgeTypes());
                beforeNodes.run();
                stream(conn, NODES, Tuple.of(filter.nodeTypes()), node);
                beforeEdges.run();
                stream(conn, EDGES, types, edge);
            } finally {
                tx.rollback().await().atMost(WAIT);
            }
        } catch (XMLStreamException e) {
            throw new IOException(e.getMessage(), e);
        } catch (UncheckedIOException e) {
            throw e.getCause();
        } finally {
            conn.close().await().atMost(WAIT);
        }
    }

    private static void stream(SqlConnection conn, String sql, Tuple args, RowWriter writer)
            throws IOException, XMLStreamException {
        Cursor cursor = conn.prepare(sql).await().atMost(WAIT).cursor(args);
        try {
            do {
                RowSet<Row> rows = cursor.read(PAGE).await().atMost(WAIT);
                for (Row row : rows) {
                    writer.write(row);
                }
            } while (cursor.hasMore());
        } finally {
            cursor.close().await().atMost(WAIT);
        }
    }
}
