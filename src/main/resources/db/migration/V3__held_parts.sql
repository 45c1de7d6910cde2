-- The messages of windows split over several (by size or by type) that a node holds until it has
-- all those of the types it follows: stored before the broker is acknowledged, so that a window of
-- any number of messages never waits on the broker's in-flight window, and none is lost in a crash.
CREATE TABLE loom.held_parts (
    origin      text NOT NULL,
    seq         bigint NOT NULL,
    slot        text NOT NULL,
    topic       text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    payload     bytea NOT NULL,
    PRIMARY KEY (origin, seq, slot)
);
