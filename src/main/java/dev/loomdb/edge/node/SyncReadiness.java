package dev.loomdb.edge.node;

import dev.loomdb.edge.capture.ReplicationStream;
import dev.loomdb.edge.mesh.MeshLink;
import dev.loomdb.edge.statesync.StateSync;
import jakarta.enterprise.context.ApplicationScoped;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.HealthCheckResponseBuilder;
import org.eclipse.microprofile.health.Readiness;

/**
 * Ready when sync runs, the slot is being read and the broker is connected. PostgreSQL's
 * reachability is the datasource's own readiness check, reported beside this one. A node whose
 * sync was stopped on purpose (POST /api/sync/stop) is not ready: it is not syncing; nor is one whose
 * capture stopped on a message it cannot decode ({@code captureError}), nor one that has not yet taken the
 * mesh's graph from a peer ({@code bootstrap: bootstrapping}).
 */
@Readiness
@ApplicationScoped
public class SyncReadiness implements HealthCheck {

    private final SyncControl control;
    private final ReplicationStream capture;
    private final MeshLink link;
    private final StateSync stateSync;

    public SyncReadiness(SyncControl control, ReplicationStream capture, MeshLink link, StateSync stateSync) {
        this.control = control;
        this.capture = capture;
        this.link = link;
        this.stateSync = stateSync;
    }

    @Override
    public HealthCheckResponse call() {
        HealthCheckResponseBuilder response = HealthCheckResponse.named("loom-sync")
                .status(control.running() && capture.isStreaming() && link.isConnected() && !stateSync.bootstrapping())
                .withData("running", control.running())
                .withData("capturing", capture.isStreaming())
                .withData("brokerConnected", link.isConnected())
                .withData("bootstrap", stateSync.bootstrapping() ? "bootstrapping" : stateSync.bootstrapState())
                .withData("rebuilding", stateSync.rebuilding());
        capture.failure().ifPresent(reason -> response.withData("captureError", reason));
        return response.build();
    }
}
