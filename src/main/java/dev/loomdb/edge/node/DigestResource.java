package dev.loomdb.edge.node;

import dev.loomdb.edge.graph.GraphDigest;
import dev.loomdb.edge.graph.GraphStore;
import io.smallrye.mutiny.Uni;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import org.eclipse.microprofile.openapi.annotations.Operation;

/** Compare nodes cheaply: the same graph state gives the same digest on every node. */
@Path("/api/sync/digest")
@Produces(MediaType.APPLICATION_JSON)
public class DigestResource {

    private final GraphStore store;

    public DigestResource(GraphStore store) {
        this.store = store;
    }

    @GET
    @Operation(
            summary = "Digest of the whole graph state (rows, clocks, tombstones)",
            description = "Equal on two nodes exactly when they hold the same graph, whatever the order of writes.")
    public Uni<GraphDigest> digest() {
        return store.digest();
    }
}
