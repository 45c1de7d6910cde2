package dev.loomdb.edge.graph;

import io.smallrye.common.annotation.Blocking;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.StreamingOutput;
import org.eclipse.microprofile.openapi.annotations.Operation;

/** The graph as a file for drawing tools, streamed ({@link GraphExport}). */
@Path("/api/export")
public class ExportResource {

    static final String GRAPHML = "application/graphml+xml";

    private final GraphExport export;

    public ExportResource(GraphExport export) {
        this.export = export;
    }

    @GET
    @Path("d3")
    @Blocking
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(
            summary = "The graph for D3: {\"nodes\": [{id, type, properties}], \"links\": [{id, type, source, target,"
                    + " properties}]}",
            description = "nodeTypes and edgeTypes: comma-separated lists (default all); links only between exported"
                    + " nodes. Streamed from one snapshot, ordered by id.")
    public Response d3(@QueryParam("nodeTypes") String nodeTypes, @QueryParam("edgeTypes") String edgeTypes) {
        GraphExport.Filter filter = GraphExport.Filter.of(nodeTypes, edgeTypes);
        return Response.ok((StreamingOutput) out -> export.d3(filter, out))
                .header("Content-Disposition", "inline; filename=\"graph.json\"")
                .build();
    }

    @GET
    @Path("graphml")
    @Blocking
    @Produces(GRAPHML)
    @Operation(
            summary = "The graph as GraphML (yEd, Gephi, Cytoscape, NetworkX)",
            description = "Each node and edge with data keys 'type' and 'properties' (the JSON text); filters as for"
                    + " d3. Streamed from one snapshot, ordered by id.")
    public Response graphml(@QueryParam("nodeTypes") String nodeTypes, @QueryParam("edgeTypes") String edgeTypes) {
        GraphExport.Filter filter = GraphExport.Filter.of(nodeTypes, edgeTypes);
        return Response.ok((StreamingOutput) out -> export.graphml(filter, out))
                .header("Content-Disposition", "attachment; filename=\"graph.graphml\"")
                .build();
    }
}
