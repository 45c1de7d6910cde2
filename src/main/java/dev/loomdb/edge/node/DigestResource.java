package dev.loomdb.edge.node;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loomdb.edge.graph.ApiProblem;
import dev.loomdb.edge.graph.GraphDigest;
import dev.loomdb.edge.graph.GraphStore;
import dev.loomdb.edge.statesync.StateSync;
import io.smallrye.mutiny.Uni;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import java.util.TreeSet;
import org.eclipse.microprofile.openapi.annotations.Operation;

/** Compare nodes cheaply: the same graph state gives the same digest on every node; mend what differs. */
@Path("/api/sync")
@Produces(MediaType.APPLICATION_JSON)
public class DigestResource {

    private final GraphStore store;
    private final StateSync stateSync;
    private final ObjectMapper mapper;

    public DigestResource(GraphStore store, StateSync stateSync, ObjectMapper mapper) {
        this.store = store;
        this.stateSync = stateSync;
        this.mapper = mapper;
    }

    @GET
    @Path("digest")
    @Operation(
            summary = "Digest of the whole graph state (rows, clocks, tombstones)",
            description = "Equal on two nodes exactly when they hold the same graph, whatever the order of writes.")
    public Uni<GraphDigest> digest() {
        return store.digest();
    }

    @POST
    @Path("anti-entropy")
    @Operation(
            summary = "Run a round of anti-entropy now, with the given peer or the first one online",
            description = "Compares digests with the peer, exchanges the rows that differ, and says what it did.")
    public Uni<ObjectNode> antiEntropy(@QueryParam("peer") String peer) {
        if (stateSync.bootstrapping()) {
            throw new ApiProblem(
                    409,
                    "Bootstrapping",
                    "This node is taking the graph from a peer (state " + stateSync.bootstrapState()
                            + "); anti-entropy runs once it is done.");
        }
        TreeSet<String> online = stateSync.presence().online();
        if (peer != null && !online.contains(peer)) {
            throw new ApiProblem(
                    409, "Peer not online", "Peer '" + peer + "' is not online (online now: " + online + ").");
        }
        if (peer == null && online.isEmpty()) {
            throw new ApiProblem(409, "No peer online", "No other node of the mesh is online to compare with.");
        }
        String with = peer != null ? peer : online.first();
        return Uni.createFrom()
                .completionStage(() -> stateSync.roundNow(with).toCompletionStage())
                .map(round -> {
                    ObjectNode json = mapper.createObjectNode();
                    round.describe(json);
                    return json;
                });
    }
}
