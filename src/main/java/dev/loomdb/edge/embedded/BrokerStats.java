package dev.loomdb.edge.embedded;

import java.util.Collection;
import java.util.Comparator;
import java.util.List;

/**
 * What the node's own embedded broker holds, as of its last refresh (every second, on its event loop):
 * sessions, the messages queued for clients that are away or slow, what was dropped past the queue
 * bounds, and its log. Read by the node's status ({@code GET /api/sync/status}, {@code embeddedBroker}).
 *
 * @param busiest the sessions with the most queued, at most {@link #BUSIEST}, most first
 */
public record BrokerStats(
        int sessions,
        int connected,
        long queuedMessages,
        long queuedBytes,
        long dropped,
        int retained,
        long logBytes,
        List<Session> busiest) {

    /** One session's queue: messages not yet acknowledged (queued and in flight) and their payload bytes. */
    public record Session(String clientId, boolean connected, int queued, long queuedBytes, long awaySeconds) {}

    static final int BUSIEST = 10;

    static BrokerStats of(Collection<BrokerSession> all, long dropped, int retained, long logBytes, long now) {
        int connected = 0;
        long queued = 0;
        long bytes = 0;
        for (BrokerSession session : all) {
            connected += session.connection == null ? 0 : 1;
            queued += session.pending();
            bytes += session.bytes();
        }
        List<Session> busiest = all.stream()
                .filter(s -> s.pending() > 0)
                .sorted(Comparator.comparingInt(BrokerSession::pending).reversed())
                .limit(BUSIEST)
                .map(s -> new Session(
                        s.clientId,
                        s.connection != null,
                        s.pending(),
                        s.bytes(),
                        s.connection != null ? 0 : Math.max(0, (now - s.lastSeen) / 1000)))
                .toList();
        return new BrokerStats(all.size(), connected, queued, bytes, dropped, retained, logBytes, busiest);
    }
}
