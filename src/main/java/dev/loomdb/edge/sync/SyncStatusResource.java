package dev.loomdb.edge.sync;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import org.eclipse.microprofile.openapi.annotations.Operation;

/** The seed's getStatus: where this node's sync stands. */
@Path("/api/sync/status")
@Produces(MediaType.APPLICATION_JSON)
public class SyncStatusResource {

    private final SyncNode node;
    private final ObjectMapper mapper;

    public SyncStatusResource(SyncNode node, ObjectMapper mapper) {
        this.node = node;
        this.mapper = mapper;
    }

    @GET
    @Operation(summary = "getStatus: connection, capture position and counters of this node")
    public ObjectNode status() {
        ObjectNode json = mapper.createObjectNode();
        json.put("nodeId", node.nodeId());
        json.put("mesh", node.mesh());
        json.put("brokerConnected", node.brokerConnected());
        json.put("capturing", node.capturing());
        json.put("slot", node.slot());
        json.put("confirmedLsn", node.capture().confirmed().toString());
        json.put("pending", node.position().pendingCount());
        ObjectNode counters = json.putObject("counters");
        counters.put("captured", node.capture().capturedTransactions());
        counters.put("skippedForPeers", node.capture().skippedForPeers());
        counters.put("published", node.publisher().published());
        counters.put("publishedChanges", node.publisher().publishedChanges());
        counters.put("publishedBytes", node.publisher().publishedBytes());
        counters.put("coalesced", node.publisher().coalesced());
        counters.put("received", node.inbound().received());
        counters.put("applied", node.inbound().applied());
        counters.put("appliedChanges", node.inbound().appliedChanges());
        counters.put("rejected", node.rejects().count());
        counters.put("conflicts", node.applier().conflicts());
        return json;
    }
}
