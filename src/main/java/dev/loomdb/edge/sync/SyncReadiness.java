package dev.loomdb.edge.sync;

import jakarta.enterprise.context.ApplicationScoped;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;

/**
 * Ready when sync runs, the slot is being read and the broker is connected. PostgreSQL's
 * reachability is the datasource's own readiness check, reported beside this one. A node whose
 * sync was stopped on purpose (POST /api/sync/stop) is not ready: it is not syncing.
 */
@Readiness
@ApplicationScoped
public class SyncReadiness implements HealthCheck {

    private final SyncNode node;

    public SyncReadiness(SyncNode node) {
        this.node = node;
    }

    @Override
    public HealthCheckResponse call() {
        return HealthCheckResponse.named("loom-sync")
                .status(node.running() && node.capturing() && node.brokerConnected())
                .withData("running", node.running())
                .withData("capturing", node.capturing())
                .withData("brokerConnected", node.brokerConnected())
                .build();
    }
}
