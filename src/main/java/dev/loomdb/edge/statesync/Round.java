package dev.loomdb.edge.statesync;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loomdb.edge.flow.Scope;
import java.time.Instant;

/** What one round of anti-entropy with one peer found and did. */
public final class Round {
    final String peer;
    final Scope scope;
    final Instant started = Instant.now();
    long millis;
    int leaves;
    long received;
    long repaired;
    long sent;
    long bytes;
    String failure;

    Round(String peer, Scope scope) {
        this.peer = peer;
        this.scope = scope;
    }

    /** Whether it changed anything on either side (so another round soon may find more). */
    boolean mended() {
        return failure == null && (repaired > 0 || sent > 0);
    }

    /** What the round did: in the status ({@code lastRound}) and as the REST trigger's answer. */
    public void describe(ObjectNode json) {
        json.put("peer", peer);
        if (!scope.isAll()) {
            scope.toJson(json.putObject("scope"));
        }
        json.put("millis", millis);
        json.put("differingLeaves", leaves);
        json.put("rowsReceived", received);
        json.put("rowsChanged", repaired);
        json.put("rowsSent", sent);
        json.put("bytes", bytes);
        if (failure != null) {
            json.put("failure", failure);
        }
    }
}
