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
}
