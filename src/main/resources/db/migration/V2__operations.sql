-- Sync state that outlives the process: what each peer has sent, the node's counters, messages
-- held back while a peer's circuit breaker is open, and the optional change history.
-- None of these tables is in the capture publication: writing them is never synced.

-- One row per peer, updated in the same transaction that applies the peer's changes.
CREATE TABLE loom.sync_peers (
    peer_id           text PRIMARY KEY,
    last_seen         timestamptz NOT NULL,
    last_hlc          bigint NOT NULL DEFAULT 0,
    last_seq          bigint NOT NULL DEFAULT 0,
    messages_received bigint NOT NULL DEFAULT 0,
    changes_received  bigint NOT NULL DEFAULT 0
);

-- The status counters, saved every second and at shutdown.
CREATE TABLE loom.sync_counters (
    name  text PRIMARY KEY,
    value bigint NOT NULL
);

-- A peer's messages that could not be applied yet (its breaker is open, or applying failed for a
-- reason that may pass). They are applied again when the breaker lets a trial through.
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

-- The change history (loom.history.enabled): local changes once the broker has them, remote
-- changes as applied; bounded by loom.history.max-entries.
CREATE TABLE loom.change_history (
    seq          bigserial PRIMARY KEY,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    direction    text NOT NULL CHECK (direction IN ('local', 'remote')),
    peer_id      text NOT NULL,
    commit_time  timestamptz,
    change       jsonb NOT NULL
);
