package dev.loomdb.edge.graph;

import io.smallrye.mutiny.Uni;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import org.eclipse.microprofile.openapi.annotations.Operation;

/**
 * Graph questions over HTTP: traversal, shortest path, counts by type ({@link GraphQueries}); a node's
 * neighbours are under {@link NodeResource}.
 */
@Path("/api/graph")
@Produces(MediaType.APPLICATION_JSON)
public class QueryResource {

    private final GraphQueries queries;

    public QueryResource(GraphQueries queries) {
        this.queries = queries;
    }

    @GET
    @Path("traverse")
    @Operation(
            summary = "Breadth-first traversal from a node: each node once, with its depth",
            description = "from (required), maxDepth (default 3, at most loom.query.max-depth), direction=out|in|both"
                    + " (default out), edgeTypes and nodeTypes (comma-separated), limit (default 1000, at most"
                    + " loom.query.max-results; an answer cut by it says truncated).")
    public Uni<Response> traverse(
            @QueryParam("from") String from,
            @QueryParam("maxDepth") String maxDepth,
            @QueryParam("direction") String direction,
            @QueryParam("edgeTypes") String edgeTypes,
            @QueryParam("nodeTypes") String nodeTypes,
            @QueryParam("limit") String limit) {
        return queries.traverse(from, maxDepth, direction, edgeTypes, nodeTypes, limit)
                .map(json -> Response.ok(json).build());
    }

    @GET
    @Path("path")
    @Operation(
            summary = "A shortest path by hops between two nodes",
            description = "from and to (required), maxDepth (default and at most loom.query.max-depth),"
                    + " direction=out|in|both (default out). found=false when none is that short.")
    public Uni<Response> path(
            @QueryParam("from") String from,
            @QueryParam("to") String to,
            @QueryParam("maxDepth") String maxDepth,
            @QueryParam("direction") String direction,
            @QueryParam("weight") String weight) {
        if (weight != null) {
            throw new ApiProblem(
                    422,
                    "Not supported",
                    "Weighted shortest paths (weight=" + weight + ") are not supported yet; leave out 'weight'"
                            + " for the shortest path by hops.");
        }
        return queries.path(from, to, maxDepth, direction)
                .map(json -> Response.ok(json).build());
    }

    @GET
    @Path("stats")
    @Operation(
            summary = "Live nodes and edges by type",
            description = "Counted at most once per loom.query.stats-max-age (default 30s); countedAt says when.")
    public Uni<Response> stats() {
        return queries.stats().map(json -> Response.ok(json).build());
    }
}
