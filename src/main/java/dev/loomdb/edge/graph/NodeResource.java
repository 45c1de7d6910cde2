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

/** Nodes of the graph over HTTP: the seed's putNode, deleteNode and queryNodes. */
@Path("/api/nodes")
@Produces(MediaType.APPLICATION_JSON)
public class NodeResource {

    private final GraphService graph;
    private final GraphQueries queries;

    public NodeResource(GraphService graph, GraphQueries queries) {
        this.graph = graph;
        this.queries = queries;
    }

    @PUT
    @Path("{id}")
    @Consumes(MediaType.WILDCARD)
    @Operation(
            summary = "putNode: create or replace a node",
            description = "Body: {\"type\": ..., \"properties\": {...}}. 201 when created, 200 when replaced.")
    public Uni<Response> replaceNode(
            @PathParam("id") String id, byte[] bytes, UriInfo uri, @HeaderParam("If-Match") String ifMatch) {
        return graph.replaceNode(id, Bodies.utf8(bytes), ifMatch)
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
            summary = "Merge properties into a node",
            description = "Top-level merge: a property given as null is removed; 'type' may change too.")
    public Uni<Response> patchNode(@PathParam("id") String id, byte[] bytes, @HeaderParam("If-Match") String ifMatch) {
        return graph.patchNode(id, Bodies.utf8(bytes), ifMatch).map(node -> EntityTags.tagged(Response.ok(node), node));
    }

    @GET
    @Path("{id}")
    @Operation(summary = "Get a node")
    public Uni<Response> getNode(@PathParam("id") String id) {
        return graph.getNode(id).map(node -> EntityTags.tagged(Response.ok(node), node));
    }

    @DELETE
    @Path("{id}")
    @Operation(summary = "deleteNode: delete a node (it leaves a tombstone that syncs)")
    public Uni<Response> deleteNode(@PathParam("id") String id, @HeaderParam("If-Match") String ifMatch) {
        return graph.deleteNode(id, ifMatch).map(v -> Response.noContent().build());
    }

    @GET
    @Operation(
            summary = "List nodes by id, optionally of one type",
            description = "Keyset pagination: pass the answer's 'next' as 'after'.")
    public Uni<Response> listNodes(
            @QueryParam("type") String type,
            @QueryParam("after") String after,
            @QueryParam("limit") String limit,
            @QueryParam("where") String where) {
        return graph.listNodes(type, after, limit, where)
                .map(page -> Response.ok(page).build());
    }

    @GET
    @Path("{id}/neighbors")
    @Operation(
            summary = "A node's neighbours: its edges and the nodes at their other end",
            description = "direction=out|in|both (default both), edgeType and nodeType: comma-separated lists,"
                    + " limit (default 100, at most loom.query.max-results).")
    public Uni<Response> neighbors(
            @PathParam("id") String id,
            @QueryParam("direction") String direction,
            @QueryParam("edgeType") String edgeType,
            @QueryParam("nodeType") String nodeType,
            @QueryParam("limit") String limit) {
        return queries.neighbors(id, direction, edgeType, nodeType, limit)
                .map(json -> Response.ok(json).build());
    }
}
