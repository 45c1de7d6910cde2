package dev.loomdb.edge.node;

import dev.loomdb.edge.config.LoomConfig;
import dev.loomdb.edge.config.Names;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.inject.Singleton;
import java.time.Duration;
import org.jboss.logging.Logger;

/**
 * Who this node is: its id, its mesh and the names derived from them (replication slot, topic),
 * checked once at start so that a bad {@code loom.node-id} or {@code loom.mesh} fails fast.
 */
@Singleton
public class NodeIdentity {

    private static final Logger LOG = Logger.getLogger(NodeIdentity.class);

    private final String nodeId;
    private final String mesh;
    private final String slot;

    public NodeIdentity(LoomConfig config) {
        this.nodeId = Names.checkId("loom.node-id", config.nodeId());
        this.mesh = Names.checkId("loom.mesh", config.mesh());
        this.slot = config.capture().slot().orElse(Names.slotFor(nodeId));
    }

    public String nodeId() {
        return nodeId;
    }

    public String mesh() {
        return mesh;
    }

    public String slot() {
        return slot;
    }

    /** The topic this node publishes its transactions on: {@code loom/<mesh>/changes/<node-id>}. */
    public String changesTopic() {
        return "loom/" + mesh + "/changes/" + nodeId;
    }

    /** The database trigger stamps local writes with this node's id, whoever writes them. */
    void record(Pool pool) {
        String previous = pool.query("SELECT node_id FROM loom.node_info")
                .execute()
                .map(rows -> rows.size() == 0 ? null : rows.iterator().next().getString(0))
                .await()
                .atMost(Duration.ofSeconds(30));
        if (previous != null && !previous.equals(nodeId)) {
            LOG.warnf(
                    "This database belonged to node %s and now belongs to node %s: new writes are stamped with %s",
                    previous, nodeId, nodeId);
        }
        pool.preparedQuery("INSERT INTO loom.node_info (node_id) VALUES ($1)"
                        + " ON CONFLICT (singleton) DO UPDATE SET node_id = EXCLUDED.node_id")
                .execute(Tuple.of(nodeId))
                .await()
                .atMost(Duration.ofSeconds(30));
    }
}
