package dev.loomdb.edge.graph;

import io.smallrye.mutiny.Uni;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.PATCH;
import jakarta.ws.rs.PUT;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.UriInfo;
import org.eclipse.microprofile.openapi.annotations.Operation;

/** Edges of the graph over HTTP: the seed's putEdge and deleteEdge, and queries by type, source and target. */
@Path("/api/edges")
@Produces(MediaType.APPLICATION_JSON)
public class EdgeResource {

    private final GraphService graph;

    public EdgeResource(GraphService graph) {
        this.graph = graph;
    }

    @PUT
    @Path("{id}")
    @Consumes(MediaType.WILDCARD)
    @Operation(
            summary = "putEdge: create or replace an edge",
            description =
                    "Body: {\"type\": ..., \"source\": ..., \"target\": ..., \"properties\": {...}}. The endpoints need not exist yet.")
    public Uni<Response> replaceEdge(
            @PathParam("id") String id, byte[] bytes, UriInfo uri, @HeaderParam("If-Match") String ifMatch) {
        return graph.replaceEdge(id, Bodies.utf8(bytes), ifMatch)
                .map(written -> EntityTags.tagged(
                        written.created()
                                ? Response.created(uri.getAbsolutePath()).entity(written.value())
                                : Response.ok(written.value()),
                        written.value()));
    }

    @PATCH
    @Path("{id}")
    @Consumes(MediaType.WILDCARD)
    @Operation(
            summary = "Merge properties into an edge",
            description =
                    "Top-level merge: a property given as null is removed; type, source and target may change too.")
    public Uni<Response> patchEdge(@PathParam("id") String id, byte[] bytes, @HeaderParam("If-Match") String ifMatch) {
        return graph.patchEdge(id, Bodies.utf8(bytes), ifMatch).map(edge -> EntityTags.tagged(Response.ok(edge), edge));
    }

    @GET
    @Path("{id}")
    @Operation(summary = "Get an edge")
    public Uni<Response> getEdge(@PathParam("id") String id) {
        return graph.getEdge(id).map(edge -> EntityTags.tagged(Response.ok(edge), edge));
    }

    @DELETE
    @Path("{id}")
    @Operation(summary = "deleteEdge: delete an edge (it leaves a tombstone that syncs)")
    public Uni<Response> deleteEdge(@PathParam("id") String id, @HeaderParam("If-Match") String ifMatch) {
        return graph.deleteEdge(id, ifMatch).map(v -> Response.noContent().build());
    }

    @GET
    @Operation(
            summary = "List edges by id, filtered by type, source and target",
            description = "Keyset pagination: pass the answer's 'next' as 'after'.")
    public Uni<Response> listEdges(
            @QueryParam("type") String type,
            @QueryParam("source") String source,
            @QueryParam("target") String target,
            @QueryParam("after") String after,
            @QueryParam("limit") String limit,
            @QueryParam("where") String where) {
        return graph.listEdges(type, source, target, after, limit, where)
                .map(page -> Response.ok(page).build());
    }
}
