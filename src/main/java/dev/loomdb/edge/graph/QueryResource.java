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
 * Graph questions over HTTP: traversal, counts by type ({@link GraphQueries}), shortest path ({@link PathSearch}); a node's
 * neighbours are under {@link NodeResource}.
 */
@Path("/api/graph")
@Produces(MediaType.APPLICATION_JSON)
public class QueryResource {

    private final GraphQueries queries;
    private final PathSearch paths;

    public QueryResource(GraphQueries queries, PathSearch paths) {
        this.queries = queries;
        this.paths = paths;
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
            summary = "A shortest path between two nodes: by hops, or by the weight of its edges",
            description = "from and to (required), maxDepth (default and at most loom.query.max-depth),"
                    + " direction=out|in|both (default out), weight=<edge property> for the lightest path of at"
                    + " most maxDepth hops (edges without a numeric, non-negative weight are not followed)."
                    + " found=false when there is none.")
    public Uni<Response> path(
            @QueryParam("from") String from,
            @QueryParam("to") String to,
            @QueryParam("maxDepth") String maxDepth,
            @QueryParam("direction") String direction,
            @QueryParam("weight") String weight) {
        return paths.path(from, to, maxDepth, direction, weight == null || weight.isEmpty() ? null : weight)
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
