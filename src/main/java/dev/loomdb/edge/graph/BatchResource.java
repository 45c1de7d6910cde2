package dev.loomdb.edge.graph;

import io.smallrye.mutiny.Uni;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import org.eclipse.microprofile.openapi.annotations.Operation;

/** Atomic batches over HTTP ({@link GraphBatch}). */
@Path("/api/batch")
@Produces(MediaType.APPLICATION_JSON)
public class BatchResource {

    private final GraphBatch batch;

    public BatchResource(GraphBatch batch) {
        this.batch = batch;
    }

    @POST
    @Consumes(MediaType.WILDCARD)
    @Operation(
            summary = "Apply a list of node and edge writes as one transaction: all or nothing",
            description = "Body: {\"operations\": [{\"op\": \"putNode\"|\"patchNode\"|\"deleteNode\"|\"putEdge\"|"
                    + "\"patchEdge\"|\"deleteEdge\", \"id\": ..., \"ifMatch\": optional version, ...fields}]}."
                    + " A failing operation rejects the whole batch; the problem's 'operation' is its index.")
    public Uni<Response> batch(byte[] bytes) {
        return batch.run(Bodies.utf8(bytes)).map(json -> Response.ok(json).build());
    }
}
