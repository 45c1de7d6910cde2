package dev.loomdb.edge.mesh;

import java.time.Duration;
import java.util.Optional;

/** How the node reaches the broker and which topics are its mesh's. */
public record MeshSettings(
        String host,
        int port,
        Optional<String> username,
        Optional<String> password,
        String clientId,
        String mesh,
        String nodeId,
        int maxInflight,
        int maxMessageSize,
        Duration reconnectInterval) {

    /** The topic a node publishes its transactions on: {@code loom/<mesh>/changes/<node-id>}. */
    public String changesTopic() {
        return "loom/" + mesh + "/changes/" + nodeId;
    }

    /** The filter that receives every node's transactions of the mesh. */
    public String changesFilter() {
        return "loom/" + mesh + "/changes/+";
    }

    /** The filter of state-sync messages addressed to this node: {@code loom/<mesh>/sync/<node-id>/<from>}. */
    public String syncFilter() {
        return "loom/" + mesh + "/sync/" + nodeId + "/+";
    }

    /** The topic of state-sync messages from this node to {@code peer}. */
    public String syncTopic(String peer) {
        return "loom/" + mesh + "/sync/" + peer + "/" + nodeId;
    }

    /** The filter of every node's presence (retained): {@code loom/<mesh>/nodes/<node-id>}. */
    public String presenceFilter() {
        return "loom/" + mesh + "/nodes/+";
    }

    /** This node's presence topic. */
    public String presenceTopic() {
        return "loom/" + mesh + "/nodes/" + nodeId;
    }

    /** Every filter the inbound connection subscribes to. */
    public java.util.List<String> filters() {
        return java.util.List.of(changesFilter(), syncFilter(), presenceFilter());
    }
}
