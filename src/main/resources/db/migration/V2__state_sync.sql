-- What state sync keeps across restarts: whether this node has taken the mesh's graph (bootstrap),
-- and how far a bootstrap got (the last id of each kind applied), so that it goes on after a crash.
CREATE TABLE loom.sync_state (
    name       text PRIMARY KEY,
    value      text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- A node that already holds a graph or has heard from peers (it ran before state sync existed)
-- does not bootstrap again.
INSERT INTO loom.sync_state (name, value)
SELECT 'bootstrap', 'completed'
WHERE EXISTS (SELECT 1 FROM loom.nodes) OR EXISTS (SELECT 1 FROM loom.edges) OR EXISTS (SELECT 1 FROM loom.sync_peers);
