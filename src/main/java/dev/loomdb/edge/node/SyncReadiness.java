package dev.loomdb.edge.node;

import dev.loomdb.edge.capture.ReplicationStream;
import dev.loomdb.edge.mesh.MeshLink;
import jakarta.enterprise.context.ApplicationScoped;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.HealthCheckResponseBuilder;
import org.eclipse.microprofile.health.Readiness;

/**
 * Ready when sync runs, the slot is being read and the broker is connected. PostgreSQL's
 * reachability is the datasource's own readiness check, reported beside this one. A node whose
 * sync was stopped on purpose (POST /api/sync/stop) is not ready: it is not syncing; nor is one whose
 * capture stopped on a message it cannot decode ({@code captureError}).
 */
@Readiness
@ApplicationScoped
public class SyncReadiness implements HealthCheck {

    private final SyncControl control;
    private final ReplicationStream capture;
    private final MeshLink link;

    public SyncReadiness(SyncControl control, ReplicationStream capture, MeshLink link) {
        this.control = control;
        this.capture = capture;
        this.link = link;
    }

    @Override
    public HealthCheckResponse call() {
        HealthCheckResponseBuilder response = HealthCheckResponse.named("loom-sync")
                .status(control.running() && capture.isStreaming() && link.isConnected())
                .withData("running", control.running())
                .withData("capturing", capture.isStreaming())
                .withData("brokerConnected", link.isConnected());
        capture.failure().ifPresent(reason -> response.withData("captureError", reason));
        return response.build();
    }
}
