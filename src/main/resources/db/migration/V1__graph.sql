-- The tables of the node: the property graph and what the node keeps of its own state.
-- Logic (stamping, merge, clocks) lives in the repeatable migrations R__*.sql, one body each.
-- Baseline of the unreleased history V1..V7, squashed (docs/operations.md, "Upgrading").

CREATE TABLE loom.node_info (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    node_id   text NOT NULL
);

-- Columns shared by nodes and edges:
--   hlc, version, origin  the stamp of the last write (hybrid logical clock, write count, writing node)
--   tombstone, deleted_at a delete is a tombstone that syncs; purged after loom.tombstone.retention
--   property_clocks       property name -> [hlc, origin] of the write that last set or removed it; a
--                         property without an entry has the row's own stamp (so an insert stores {});
--                         a name here but not in properties is a removed property (a property tombstone)
--   base_hlc              the clock of the state this write replaced (0 for a new row): two states are
--                         concurrent when neither was based on the other
--   applied               the row was last written for a peer (the apply session); PostgreSQL 15's
--                         publication row filter leaves such rows out, any local write clears it
CREATE TABLE loom.nodes (
    id              text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 256),
    type            text NOT NULL CHECK (length(type) BETWEEN 1 AND 256),
    properties      jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(properties) = 'object'),
    hlc             bigint NOT NULL DEFAULT 0,
    version         bigint NOT NULL DEFAULT 0,
    origin          text NOT NULL DEFAULT '',
    tombstone       boolean NOT NULL DEFAULT false,
    deleted_at      timestamptz,
    property_clocks jsonb NOT NULL DEFAULT '{}'::jsonb,
    base_hlc        bigint NOT NULL DEFAULT 0,
    applied         boolean NOT NULL DEFAULT false
);

-- No foreign keys from edges to nodes: an edge may arrive before its endpoints.
CREATE TABLE loom.edges (
    id              text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 256),
    type            text NOT NULL CHECK (length(type) BETWEEN 1 AND 256),
    source_id       text NOT NULL CHECK (length(source_id) BETWEEN 1 AND 256),
    target_id       text NOT NULL CHECK (length(target_id) BETWEEN 1 AND 256),
    properties      jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(properties) = 'object'),
    hlc             bigint NOT NULL DEFAULT 0,
    version         bigint NOT NULL DEFAULT 0,
    origin          text NOT NULL DEFAULT '',
    tombstone       boolean NOT NULL DEFAULT false,
    deleted_at      timestamptz,
    property_clocks jsonb NOT NULL DEFAULT '{}'::jsonb,
    base_hlc        bigint NOT NULL DEFAULT 0,
    applied         boolean NOT NULL DEFAULT false
);

-- GIN pending lists of 64 kB: no single write waits 60-130 ms merging a 4 MB list into the index.
CREATE INDEX nodes_type_idx ON loom.nodes (type, id);
CREATE INDEX nodes_properties_idx ON loom.nodes USING gin (properties) WITH (gin_pending_list_limit = 64);
CREATE INDEX edges_type_idx ON loom.edges (type, id);
CREATE INDEX edges_source_idx ON loom.edges (source_id);
CREATE INDEX edges_target_idx ON loom.edges (target_id);
CREATE INDEX edges_source_type_idx ON loom.edges (source_id, type);
CREATE INDEX edges_target_type_idx ON loom.edges (target_id, type);
CREATE INDEX edges_properties_idx ON loom.edges USING gin (properties) WITH (gin_pending_list_limit = 64);

-- The old row travels with every update, so that a large (TOASTed) value the update did not
-- touch, which pgoutput sends as "unchanged", can be filled in from it.
ALTER TABLE loom.nodes REPLICA IDENTITY FULL;
ALTER TABLE loom.edges REPLICA IDENTITY FULL;

-- Messages from the mesh that could not be applied, kept for inspection.
CREATE TABLE loom.rejected_messages (
    id          bigserial PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    topic       text NOT NULL,
    reason      text NOT NULL,
    payload     bytea NOT NULL
);

-- Concurrent changes kept aside when loom.conflict.auto-resolve is false.
CREATE TABLE loom.conflicts (
    id          bigserial PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('node', 'edge')),
    entity_id   text NOT NULL,
    detected_at timestamptz NOT NULL DEFAULT now(),
    local       jsonb NOT NULL,
    remote      jsonb NOT NULL,
    resolved_at timestamptz,
    resolution  text
);
CREATE INDEX conflicts_open_idx ON loom.conflicts (entity_id) WHERE resolved_at IS NULL;

-- What this node knows of each peer, written in the same transaction as the peer's changes.
CREATE TABLE loom.sync_peers (
    peer_id           text PRIMARY KEY,
    last_seen         timestamptz NOT NULL,
    last_hlc          bigint NOT NULL DEFAULT 0,
    last_seq          bigint NOT NULL DEFAULT 0,
    messages_received bigint NOT NULL DEFAULT 0,
    changes_received  bigint NOT NULL DEFAULT 0
);

-- The status counters, saved every housekeeping interval and at shutdown.
CREATE TABLE loom.sync_counters (
    name  text PRIMARY KEY,
    value bigint NOT NULL
);

-- Peer messages waiting while the peer's circuit breaker is open, or after a failed apply.
CREATE TABLE loom.parked_messages (
    id        bigserial PRIMARY KEY,
    peer_id   text NOT NULL,
    parked_at timestamptz NOT NULL DEFAULT now(),
    topic     text NOT NULL,
    reason    text NOT NULL,
    attempts  integer NOT NULL DEFAULT 1,
    payload   bytea NOT NULL
);
CREATE INDEX parked_messages_peer ON loom.parked_messages (peer_id, id);

-- The change history (loom.history.enabled), newest loom.history.max-entries kept.
CREATE TABLE loom.change_history (
    seq          bigserial PRIMARY KEY,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    direction    text NOT NULL CHECK (direction IN ('local', 'remote')),
    peer_id      text NOT NULL,
    commit_time  timestamptz,
    change       jsonb NOT NULL
);
