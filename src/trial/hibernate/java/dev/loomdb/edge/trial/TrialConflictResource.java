package dev.loomdb.edge.trial;

import io.quarkus.hibernate.reactive.panache.common.WithSession;
import io.smallrye.mutiny.Uni;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import java.util.Map;

/** Trial only: the open conflicts counted through Panache, so that the trial build uses Hibernate Reactive. */
@Path("/api/trial/conflicts")
public class TrialConflictResource {
    @GET
    @Produces(MediaType.APPLICATION_JSON)
    @WithSession
    public Uni<Map<String, Long>> open() {
        return ConflictRecord.count("resolvedAt is null").map(n -> Map.of("open", n));
    }
}
