package dev.loomdb.edge.sync;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loomdb.edge.mesh.Peers;
import dev.loomdb.edge.telemetry.Counters;
import io.smallrye.faulttolerance.api.CircuitBreakerState;
import io.smallrye.mutiny.Uni;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import java.util.Map;
import java.util.TreeSet;
import org.eclipse.microprofile.openapi.annotations.Operation;

/** The seed's getStatus, startSync and stopSync. */
@Path("/api/sync")
@Produces(MediaType.APPLICATION_JSON)
public class SyncStatusResource {

    private final SyncNode node;
    private final ObjectMapper mapper;

    public SyncStatusResource(SyncNode node, ObjectMapper mapper) {
        this.node = node;
        this.mapper = mapper;
    }

    @GET
    @Path("status")
    @Operation(summary = "getStatus: running, connection, replication lag, counters and every peer's state")
    public Uni<ObjectNode> status() {
        return node.replicationLagBytes().onFailure().recoverWithNull().map(this::status);
    }

    /** Runs on a worker thread: stopping waits for the broker's last acknowledgements. */
    @POST
    @Path("stop")
    @Operation(summary = "stopSync: publish and apply nothing more; changes wait in the slot and the broker session")
    public ObjectNode stop() {
        boolean changed = node.stopSync();
        return status(null).put("changed", changed);
    }

    @POST
    @Path("start")
    @Operation(summary = "startSync: resume from the slot and the broker session; nothing written meanwhile is lost")
    public ObjectNode start() {
        boolean changed = node.startSync();
        return status(null).put("changed", changed);
    }

    private ObjectNode status(Long lagBytes) {
        ObjectNode json = mapper.createObjectNode();
        json.put("running", node.running());
        if (node.stoppedAt() != null) {
            json.put("stoppedAt", node.stoppedAt().toString());
        }
        json.put("nodeId", node.nodeId());
        json.put("mesh", node.mesh());
        json.put("brokerConnected", node.brokerConnected());
        node.link().subscriptions().forEach(json.putArray("subscriptions")::add);
        json.put("capturing", node.capturing());
        json.put("slot", node.slot());
        json.put("confirmedLsn", node.capture().confirmed().toString());
        json.put("pending", node.position().pendingCount());
        ObjectNode lag = json.putObject("lag");
        if (lagBytes == null) {
            lag.putNull("bytes");
        } else {
            lag.put("bytes", lagBytes);
        }
        lag.put("oldestUnconfirmedSeconds", node.oldestUnconfirmedAgeSeconds());
        ObjectNode counters = json.putObject("counters");
        ObjectNode byReason = json.putObject("rejectedByReason");
        String reasonPrefix = Counters.REJECTED + ".";
        node.counters().snapshot().forEach((name, value) -> {
            if (name.startsWith(reasonPrefix)) {
                byReason.put(name.substring(reasonPrefix.length()), value);
            } else {
                counters.put(name, value);
            }
        });
        ObjectNode peers = json.putObject("peers");
        Map<String, Peers.Peer> known = node.peers().all();
        Map<String, CircuitBreakerState> breakers = node.breakers().states();
        Map<String, Integer> parked = node.parking().counts();
        TreeSet<String> ids = new TreeSet<>(known.keySet());
        ids.addAll(breakers.keySet());
        ids.addAll(parked.keySet());
        for (String id : ids) {
            ObjectNode peer = peers.putObject(id);
            Peers.Peer p = known.get(id);
            if (p != null) {
                peer.put("lastSeen", p.lastSeen().toString());
                peer.put("lastHlc", Long.toString(p.lastHlc()));
                peer.put("lastSeq", p.lastSeq());
                peer.put("messagesReceived", p.messagesReceived());
                peer.put("changesReceived", p.changesReceived());
            }
            peer.put("parked", parked.getOrDefault(id, 0));
            peer.put("circuitBreaker", breakerName(breakers.getOrDefault(id, CircuitBreakerState.CLOSED)));
        }
        json.put("eventSubscribersOverflowed", node.events().overflows());
        json.put("historyEnabled", node.history().enabled());
        return json;
    }

    static String breakerName(CircuitBreakerState state) {
        return state.name().toLowerCase().replace('_', '-');
    }
}
