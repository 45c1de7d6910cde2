package dev.loomdb.edge.embedded;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One MQTT client's session in {@link LoomBroker}: its subscriptions, the QoS 1 messages queued for it and those
 * sent on its connection and not yet acknowledged. Live while the client is connected; kept while it is away when
 * it asked for a persistent session (clean session off). Touched only on the broker's event loop.
 */
final class BrokerSession {
    /** A message queued for a session; {@code logged} when its acknowledgement must be written to the log. */
    record Queued(BrokerLog.Message message, boolean logged, boolean retain, boolean dup) {
        Queued again() {
            return new Queued(message, logged, retain, true);
        }
    }

    final String clientId;
    final boolean persistent;
    final Map<String, Integer> subscriptions = new LinkedHashMap<>();
    /** QoS 1 messages not yet sent on the current connection, oldest first. */
    final ArrayDeque<Queued> queue = new ArrayDeque<>();
    /** Sent on the current connection and not yet acknowledged, by packet id. */
    final Map<Integer, Queued> inflight = new LinkedHashMap<>();
    /** QoS 2 packet ids received and not yet released. */
    final Set<Integer> received = new HashSet<>();

    LoomBroker.Connection connection;
    long lastSeen = System.currentTimeMillis();
    /** Payload bytes queued and in flight. */
    private long bytes;

    private int nextPacketId = 1;
    private boolean overflowing;

    BrokerSession(String clientId, boolean persistent) {
        this.clientId = clientId;
        this.persistent = persistent;
    }

    /** Messages queued and in flight (sent, not yet acknowledged). */
    int pending() {
        return queue.size() + inflight.size();
    }

    /** Payload bytes queued and in flight. */
    long bytes() {
        return bytes;
    }

    /** The highest QoS of this session's filters that match {@code topic}, or -1. */
    int qosFor(String topic) {
        int qos = -1;
        for (Map.Entry<String, Integer> subscription : subscriptions.entrySet()) {
            if (subscription.getValue() > qos && Topics.matches(subscription.getKey(), topic)) {
                qos = subscription.getValue();
            }
        }
        return qos;
    }

    /**
     * Queues a message. The queue is bounded: past the limit in messages or bytes (queued and in flight), the
     * oldest not yet sent make room and are returned (the caller records them as gone).
     */
    List<Queued> add(Queued message, QueueLimit limit) {
        queue.add(message);
        bytes += message.message().payload().length;
        List<Queued> dropped = List.of();
        while (limit.exceededBy(queue.size() + inflight.size(), bytes) && queue.size() > 1) {
            if (dropped.isEmpty()) {
                dropped = new ArrayList<>();
            }
            Queued oldest = queue.poll();
            bytes -= oldest.message().payload().length;
            dropped.add(oldest);
        }
        return dropped;
    }

    /** A message read back from the log at start, queued whatever the limit (it held when it was queued). */
    void restore(Queued message) {
        queue.add(message);
        bytes += message.message().payload().length;
    }

    /** A delivery the client acknowledged (null: none in flight with that id); it no longer counts. */
    Queued acknowledged(int packetId) {
        Queued done = inflight.remove(packetId);
        if (done != null) {
            bytes -= done.message().payload().length;
        }
        return done;
    }

    /** True the first time messages are dropped since the queue was last below half the bound. */
    boolean startsOverflowing() {
        boolean first = !overflowing;
        overflowing = true;
        return first;
    }

    /** Ends an overflow once the queue is below half the bound again. */
    void settle(QueueLimit limit) {
        if (overflowing && limit.wellBelow(queue.size() + inflight.size(), bytes)) {
            overflowing = false;
        }
    }

    /** A packet id for the next delivery, 1..65535, none in flight. */
    int packetId() {
        do {
            nextPacketId = nextPacketId == 65_535 ? 1 : nextPacketId + 1;
        } while (inflight.containsKey(nextPacketId));
        return nextPacketId;
    }

    /** What was sent and not acknowledged goes back to the front of the queue, in order, to be sent again. */
    void requeueInflight() {
        List<Queued> unacknowledged = new ArrayList<>(inflight.values());
        inflight.clear();
        for (int i = unacknowledged.size() - 1; i >= 0; i--) {
            queue.addFirst(unacknowledged.get(i).again());
        }
    }
}
