package dev.loomdb.edge.sync;

import jakarta.enterprise.context.ApplicationScoped;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;

/** Ready when the slot is being read and the broker is connected (PostgreSQL has its own check). */
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
                .status(node.capturing() && node.brokerConnected())
                .withData("capturing", node.capturing())
                .withData("brokerConnected", node.brokerConnected())
                .build();
    }
}
