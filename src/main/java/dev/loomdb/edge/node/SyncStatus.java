package dev.loomdb.edge.node;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loomdb.edge.apply.Parking;
import dev.loomdb.edge.apply.PeerBreakers;
import dev.loomdb.edge.apply.Peers;
import dev.loomdb.edge.capture.ReplicationStream;
import dev.loomdb.edge.capture.SlotPosition;
import dev.loomdb.edge.embedded.BrokerStats;
import dev.loomdb.edge.embedded.OwnBroker;
import dev.loomdb.edge.feed.ChangeFeed;
import dev.loomdb.edge.feed.FeedChannels;
import dev.loomdb.edge.history.ChangeHistory;
import dev.loomdb.edge.mesh.MeshLink;
import dev.loomdb.edge.statesync.StateSync;
import dev.loomdb.edge.telemetry.Counters;
import dev.loomdb.edge.telemetry.SyncEvents;
import io.smallrye.faulttolerance.api.CircuitBreakerState;
import io.smallrye.mutiny.Uni;
import jakarta.inject.Singleton;
import java.util.Map;
import java.util.TreeSet;

/**
 * The seed's getStatus: what every stage reports of itself (running, connection, capture and its
 * position, lag, counters, each peer's state), gathered in one JSON object.
 */
@Singleton
public class SyncStatus {

    private final ObjectMapper mapper;
    private final NodeIdentity identity;
    private final SyncControl control;
    private final ReplicationStream capture;
    private final SlotPosition position;
    private final MeshLink link;
    private final Counters counters;
    private final Peers peers;
    private final PeerBreakers breakers;
    private final Parking parking;
    private final SyncEvents events;
    private final ChangeHistory history;
    private final Housekeeping housekeeping;
    private final StateSync stateSync;
    private final FeedChannels feed;

    public SyncStatus(
            ObjectMapper mapper,
            NodeIdentity identity,
            SyncControl control,
            ReplicationStream capture,
            SlotPosition position,
            MeshLink link,
            Counters counters,
            Peers peers,
            PeerBreakers breakers,
            Parking parking,
            SyncEvents events,
            ChangeHistory history,
            Housekeeping housekeeping,
            StateSync stateSync,
            FeedChannels feed) {
        this.stateSync = stateSync;
        this.feed = feed;
        this.mapper = mapper;
        this.identity = identity;
        this.control = control;
        this.capture = capture;
        this.position = position;
        this.link = link;
        this.counters = counters;
        this.peers = peers;
        this.breakers = breakers;
        this.parking = parking;
        this.events = events;
        this.history = history;
        this.housekeeping = housekeeping;
    }

    /** The status with the retained WAL read now (null when it cannot be read). */
    public Uni<ObjectNode> read() {
        return housekeeping.retainedWalBytes().onFailure().recoverWithNull().map(this::status);
    }

    /** The status without the retained WAL (after a start or stop). */
    public ObjectNode status(Long lagBytes) {
        ObjectNode json = mapper.createObjectNode();
        json.put("running", control.running());
        if (control.stoppedAt() != null) {
            json.put("stoppedAt", control.stoppedAt().toString());
        }
        json.put("nodeId", identity.nodeId());
        json.put("mesh", identity.mesh());
        json.put("brokerConnected", link.isConnected());
        json.put("broker", link.server());
        link.subscriptions().forEach(json.putArray("subscriptions")::add);
        json.put("capturing", capture.isStreaming());
        capture.failure().ifPresent(reason -> json.put("captureError", reason));
        json.put("slot", identity.slot());
        json.put("confirmedLsn", capture.confirmed().toString());
        json.put("pending", position.pendingCount());
        ObjectNode lag = json.putObject("lag");
        if (lagBytes == null) {
            lag.putNull("bytes");
        } else {
            lag.put("bytes", lagBytes);
        }
        lag.put("oldestUnconfirmedSeconds", SyncMetrics.oldestUnconfirmedAgeSeconds(position));
        ObjectNode counterJson = json.putObject("counters");
        ObjectNode byReason = json.putObject("rejectedByReason");
        String reasonPrefix = Counters.REJECTED + ".";
        counters.snapshot().forEach((name, value) -> {
            if (name.startsWith(reasonPrefix)) {
                byReason.put(name.substring(reasonPrefix.length()), value);
            } else {
                counterJson.put(name, value);
            }
        });
        ObjectNode peerJson = json.putObject("peers");
        Map<String, Peers.Peer> known = peers.all();
        Map<String, CircuitBreakerState> breakerStates = breakers.states();
        Map<String, Integer> parked = parking.counts();
        TreeSet<String> ids = new TreeSet<>(known.keySet());
        ids.addAll(breakerStates.keySet());
        ids.addAll(parked.keySet());
        for (String id : ids) {
            ObjectNode peer = peerJson.putObject(id);
            Peers.Peer p = known.get(id);
            if (p != null) {
                peer.put("lastSeen", p.lastSeen().toString());
                peer.put("lastHlc", p.lastHlc().toString());
                peer.put("lastSeq", p.lastSeq());
                peer.put("messagesReceived", p.messagesReceived());
                peer.put("changesReceived", p.changesReceived());
            }
            peer.put("parked", parked.getOrDefault(id, 0));
            peer.put("circuitBreaker", breakerName(breakerStates.getOrDefault(id, CircuitBreakerState.CLOSED)));
        }
        stateSync.status(json.putObject("stateSync"));
        json.put("eventSubscribersOverflowed", events.overflows());
        json.put("historyEnabled", history.enabled());
        ChangeFeed.Status fed = feed.feedStatus();
        ObjectNode feedJson = json.putObject("feed");
        feedJson.put("enabled", fed != null);
        if (fed != null) {
            feedJson.put("position", fed.position());
            feedJson.put("read", fed.read());
            feedJson.put("inFlight", fed.inFlight());
            feedJson.put("sent", fed.sent());
            feedJson.put("acknowledged", fed.acknowledged());
            feedJson.put("failures", fed.failures());
            feedJson.put("skipped", fed.skipped());
            if (fed.lastError() != null) {
                feedJson.put("lastError", fed.lastError());
            }
        }
        feedJson.put("eventsDropped", feed.eventsDropped());
        OwnBroker.stats().ifPresent(stats -> embeddedBroker(json.putObject("embeddedBroker"), stats));
        return json;
    }

    /** The node's own embedded broker, when this node runs it: its sessions and what it queues for clients away. */
    static void embeddedBroker(ObjectNode json, BrokerStats stats) {
        json.put("sessions", stats.sessions());
        json.put("connected", stats.connected());
        json.put("queuedMessages", stats.queuedMessages());
        json.put("queuedBytes", stats.queuedBytes());
        json.put("dropped", stats.dropped());
        json.put("retained", stats.retained());
        json.put("logBytes", stats.logBytes());
        com.fasterxml.jackson.databind.node.ArrayNode busiest = json.putArray("busiest");
        for (BrokerStats.Session session : stats.busiest()) {
            busiest.addObject()
                    .put("clientId", session.clientId())
                    .put("connected", session.connected())
                    .put("queued", session.queued())
                    .put("queuedBytes", session.queuedBytes())
                    .put("awaySeconds", session.awaySeconds());
        }
    }

    static String breakerName(CircuitBreakerState state) {
        return state.name().toLowerCase().replace('_', '-');
    }
}
