package dev.loomdb.edge.statesync;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loomdb.edge.apply.Inbound;
import dev.loomdb.edge.flow.Delivery;
import dev.loomdb.edge.flow.Envelope;
import dev.loomdb.edge.flow.Scope;
import dev.loomdb.edge.mesh.MeshLink;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * This node's state-sync requests to its peers and their answers: each request gets an id, waits at
 * most {@code loom.sync.anti-entropy.timeout} for the answer with that id, and the answer's MQTT
 * acknowledgement is left to whoever handles it ({@link Reply#ack}). Runs on the state-sync context.
 */
final class PeerRequests {

    /** An answer and the acknowledgement of the MQTT message that carried it. */
    record Reply(SyncMessage message, Delivery delivery, int size) {
        void ack() {
            delivery.acknowledge(); // when its connection is gone, the broker delivers it again
        }
    }

    private final Vertx vertx;
    private final Context context;
    private final ObjectMapper mapper;
    private final MeshLink link;
    private final Inbound inbound;
    private final StateServer.Topics topics;
    private final Duration timeout;
    private final Map<String, Promise<Reply>> pending = new HashMap<>();
    private long requests;

    PeerRequests(
            Vertx vertx,
            Context context,
            ObjectMapper mapper,
            MeshLink link,
            Inbound inbound,
            StateServer.Topics topics,
            Duration timeout) {
        this.vertx = vertx;
        this.context = context;
        this.mapper = mapper;
        this.link = link;
        this.inbound = inbound;
        this.topics = topics;
        this.timeout = timeout;
    }

    ObjectNode header(String type) {
        return mapper.createObjectNode().put("type", type);
    }

    /** A request about a part of the graph ({@code scope}, when it is not every type). */
    ObjectNode header(String type, Scope scope) {
        ObjectNode header = header(type);
        if (!scope.isAll()) {
            scope.toJson(header.putObject("scope"));
        }
        return header;
    }

    /** Sends a request; the answer's bytes and the request's count towards {@code round} (when given). */
    Future<Reply> request(String peer, ObjectNode header, Round round) {
        String id = topics.nodeId() + "-" + Long.toString(System.currentTimeMillis(), 36) + "-" + (++requests);
        header.put("v", SyncMessage.VERSION).put("req", id).put("sent", System.currentTimeMillis());
        byte[] bytes = new SyncMessage(header, new byte[0]).encode(mapper);
        Promise<Reply> promise = Promise.promise();
        pending.put(id, promise);
        long timer = vertx.setTimer(timeout.toMillis(), t -> {
            if (pending.remove(id) != null) {
                promise.tryFail("no answer from " + peer + " within " + timeout + " (loom.sync.anti-entropy.timeout)");
            }
        });
        link.publish(topics.to(peer), bytes).onFailure(e -> {
            pending.remove(id);
            promise.tryFail(e);
        });
        return promise.future().onComplete(ar -> vertx.cancelTimer(timer)).map(reply -> {
            if (round != null) {
                round.bytes += bytes.length + reply.size();
            }
            return reply;
        });
    }

    /** An answer from {@code from}: completes its request, or is acknowledged and dropped when that gave up. */
    void answered(String from, SyncMessage message, Delivery delivery) {
        Promise<Reply> promise = pending.remove(message.request());
        if (promise == null) {
            delivery.acknowledge(); // an answer that came after its request timed out
            return;
        }
        Reply reply = new Reply(
                message, new Delivery(delivery.topic(), message.body(), delivery.ack()), delivery.payload().length);
        if (message.type().equals("error")) {
            reply.ack();
            promise.tryFail(from + " could not answer: "
                    + message.header().path("message").asText());
        } else {
            promise.tryComplete(reply);
        }
    }

    /** Fails every request still waiting (sync stopped). */
    void failAll(String why) {
        for (Promise<Reply> promise : List.copyOf(pending.values())) {
            promise.tryFail(why);
        }
        pending.clear();
    }

    /** Applies the rows an answer carries, through the inbound queue; completes with the outcome. */
    Future<Inbound.RepairOutcome> applyRows(String peer, Reply reply) {
        return applyRows(peer, reply, null);
    }

    /** As {@link #applyRows(String, Reply)}, with the rows' envelope read ahead ({@link #readAhead}), or null. */
    Future<Inbound.RepairOutcome> applyRows(String peer, Reply reply, Envelope decoded) {
        return applyRows(peer, reply, decoded, false);
    }

    /**
     * As {@link #applyRows(String, Reply, Envelope)}, in the inbound side lane when {@code sideLane}
     * ({@link Inbound#openSideLane}): beside the live messages and the other transfer.
     */
    Future<Inbound.RepairOutcome> applyRows(String peer, Reply reply, Envelope decoded, boolean sideLane) {
        if (!reply.message().hasRows()) {
            reply.ack();
            return Future.succeededFuture(new Inbound.RepairOutcome(0, 0, null));
        }
        Promise<Inbound.RepairOutcome> done = Promise.promise();
        inbound.acceptRepair(
                peer,
                reply.delivery(),
                decoded,
                outcome -> context.runOnContext(v -> done.tryComplete(outcome)),
                sideLane);
        return done.future();
    }

    /** The side lane's apply session is let go until a transfer needs it again. */
    Future<Void> releaseSideLane() {
        return inbound.releaseSideLane();
    }

    /** An answer and its rows' envelope, read on a worker thread as soon as the answer came (null: none, or unreadable). */
    record Ahead(Reply reply, Envelope decoded) {}

    /**
     * Reads an answer's rows as soon as it comes, while the inbound queue applies what came before
     * (the reading completes on the caller's context: the state-sync one).
     */
    Future<Ahead> readAhead(Future<Reply> answer) {
        return answer.compose(reply -> reply == null || !reply.message().hasRows()
                ? Future.succeededFuture(new Ahead(reply, null))
                : inbound.decodeAhead(reply.message().body()).map(decoded -> new Ahead(reply, decoded)));
    }
}
