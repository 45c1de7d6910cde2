package dev.loomdb.edge.graph;

import io.smallrye.mutiny.Uni;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
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

/** Nodes of the graph over HTTP: the seed's putNode, deleteNode and queryNodes. */
@Path("/api/nodes")
@Produces(MediaType.APPLICATION_JSON)
public class NodeResource {

    private final GraphService graph;

    public NodeResource(GraphService graph) {
        this.graph = graph;
    }

    @PUT
    @Path("{id}")
    @Consumes(MediaType.WILDCARD)
    @Operation(
            summary = "putNode: create or replace a node",
            description = "Body: {\"type\": ..., \"properties\": {...}}. 201 when created, 200 when replaced.")
    public Uni<Response> replaceNode(@PathParam("id") String id, String body, UriInfo uri) {
        return graph.replaceNode(id, body)
                .map(written -> written.created()
                        ? Response.created(uri.getAbsolutePath())
                                .entity(written.value())
                                .build()
                        : Response.ok(written.value()).build());
    }

    @PATCH
    @Path("{id}")
    @Consumes(MediaType.WILDCARD)
    @Operation(
            summary = "Merge properties into a node",
            description = "Top-level merge: a property given as null is removed; 'type' may change too.")
    public Uni<Response> patchNode(@PathParam("id") String id, String body) {
        return graph.patchNode(id, body).map(node -> Response.ok(node).build());
    }

    @GET
    @Path("{id}")
    @Operation(summary = "Get a node")
    public Uni<Response> getNode(@PathParam("id") String id) {
        return graph.getNode(id).map(node -> Response.ok(node).build());
    }

    @DELETE
    @Path("{id}")
    @Operation(summary = "deleteNode: delete a node (it leaves a tombstone that syncs)")
    public Uni<Response> deleteNode(@PathParam("id") String id) {
        return graph.deleteNode(id).map(v -> Response.noContent().build());
    }

    @GET
    @Operation(
            summary = "List nodes by id, optionally of one type",
            description = "Keyset pagination: pass the answer's 'next' as 'after'.")
    public Uni<Response> listNodes(
            @QueryParam("type") String type, @QueryParam("after") String after, @QueryParam("limit") String limit) {
        return graph.listNodes(type, after, limit).map(page -> Response.ok(page).build());
    }
}
