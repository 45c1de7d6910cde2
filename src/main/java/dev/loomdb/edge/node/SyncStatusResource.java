package dev.loomdb.edge.node;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.smallrye.mutiny.Uni;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import org.eclipse.microprofile.openapi.annotations.Operation;

/** The seed's getStatus, startSync and stopSync. */
@Path("/api/sync")
@Produces(MediaType.APPLICATION_JSON)
public class SyncStatusResource {

    private final SyncStatus status;
    private final SyncControl control;

    public SyncStatusResource(SyncStatus status, SyncControl control) {
        this.status = status;
        this.control = control;
    }

    @GET
    @Path("status")
    @Operation(summary = "getStatus: running, connection, replication lag, counters and every peer's state")
    public Uni<ObjectNode> status() {
        return status.read();
    }

    /** Runs on a worker thread: stopping waits for the broker's last acknowledgements. */
    @POST
    @Path("stop")
    @Operation(summary = "stopSync: publish and apply nothing more; changes wait in the slot and the broker session")
    public ObjectNode stop() {
        boolean changed = control.stopSync();
        return status.status(null).put("changed", changed);
    }

    @POST
    @Path("start")
    @Operation(summary = "startSync: resume from the slot and the broker session; nothing written meanwhile is lost")
    public ObjectNode start() {
        boolean changed = control.startSync();
        return status.status(null).put("changed", changed);
    }
}
