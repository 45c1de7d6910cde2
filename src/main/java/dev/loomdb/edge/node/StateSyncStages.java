package dev.loomdb.edge.node;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loomdb.edge.apply.Inbound;
import dev.loomdb.edge.config.LoomConfig;
import dev.loomdb.edge.flow.EnvelopeFormat;
import dev.loomdb.edge.flow.Scopes;
import dev.loomdb.edge.mesh.MeshLink;
import dev.loomdb.edge.mesh.MeshSettings;
import dev.loomdb.edge.statesync.Presence;
import dev.loomdb.edge.statesync.Rebuild;
import dev.loomdb.edge.statesync.StateDigests;
import dev.loomdb.edge.statesync.StateServer;
import dev.loomdb.edge.statesync.StateSync;
import dev.loomdb.edge.telemetry.Counters;
import dev.loomdb.edge.telemetry.SyncEvents;
import io.vertx.core.Vertx;
import io.vertx.mutiny.sqlclient.Pool;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;

/** Makes the parts of state sync beans from the configuration, as {@link Stages} does for the flow's stages. */
@Singleton
public class StateSyncStages {

    private final LoomConfig config;
    private final NodeIdentity identity;
    private final Vertx vertx;
    private final Pool pool;
    private final Counters counters;
    private final SyncEvents events;

    public StateSyncStages(
            LoomConfig config, NodeIdentity identity, Vertx vertx, Pool pool, Counters counters, SyncEvents events) {
        this.config = config;
        this.identity = identity;
        this.vertx = vertx;
        this.pool = pool;
        this.counters = counters;
        this.events = events;
    }

    @Produces
    @Singleton
    StateDigests stateDigests() {
        return new StateDigests(
                pool.getDelegate(),
                () -> counters.get(Counters.CAPTURED)
                        + counters.get(Counters.APPLIED_CHANGES)
                        + counters.get(Counters.REPAIRED_CHANGES)
                        + counters.get(Counters.PURGED),
                config.sync().antiEntropy().storedHashes());
    }

    @Produces
    @Singleton
    StateServer.Topics stateTopics(MeshSettings mesh) {
        return new StateServer.Topics() {
            @Override
            public String mesh() {
                return identity.mesh();
            }

            @Override
            public String nodeId() {
                return identity.nodeId();
            }

            @Override
            public String to(String peer) {
                return mesh.syncTopic(peer);
            }
        };
    }

    @Produces
    @Singleton
    Rebuild rebuild(StateDigests digests) {
        return new Rebuild(config.tombstone().retention(), digests, pool.getDelegate());
    }

    @Produces
    @Singleton
    StateServer stateServer(
            ObjectMapper mapper,
            StateDigests digests,
            EnvelopeFormat format,
            MeshLink link,
            StateServer.Topics topics,
            Rebuild rebuild,
            Scopes scopes) {
        LoomConfig.Sync sync = config.sync();
        return new StateServer(
                mapper,
                digests,
                format,
                link,
                topics,
                counters,
                rebuild,
                sync.bootstrap().pageSize(),
                Stages.messageBudget(config),
                sync.antiEntropy().timeout().toMillis(),
                scopes.publishes());
    }

    @Produces
    @Singleton
    StateSync stateSync(
            ObjectMapper mapper,
            MeshLink link,
            StateDigests digests,
            StateServer server,
            Inbound inbound,
            StateServer.Topics topics,
            Rebuild rebuild,
            Scopes scopes,
            MeshSettings mesh) {
        LoomConfig.Sync sync = config.sync();
        StateSync stateSync = new StateSync(
                vertx,
                mapper,
                link,
                digests,
                server,
                inbound,
                new Presence(mapper, identity.nodeId(), scopes),
                events,
                pool.getDelegate(),
                topics,
                rebuild,
                new StateSync.Settings(
                        sync.bootstrap().enabled(),
                        sync.bootstrap().pageSize(),
                        sync.bootstrap().peerWait(),
                        sync.antiEntropy().interval(),
                        sync.antiEntropy().timeout()));
        stateSync.followFilters(mesh);
        return stateSync;
    }
}
