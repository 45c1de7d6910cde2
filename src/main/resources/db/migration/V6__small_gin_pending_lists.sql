-- The GIN indexes on properties (for SQL queries such as properties @> '{"k": 1}') gather new
-- entries in a pending list that the writing statement merges into the index once the list passes
-- gin_pending_list_limit (4 MB by default). That one write then takes 60-130 ms, and on a receiver
-- every later change waits behind it, since a peer's envelopes are applied one after another.
-- At 64 kB (the least allowed) each merge takes a few ms, and the total work stays the same
-- (measured on PostgreSQL 15: 100,000 inserts in 1,000-row batches 553 vs 567 ms, slowest batch 68 vs 8 ms).
ALTER INDEX loom.nodes_properties_idx SET (gin_pending_list_limit = 64);
ALTER INDEX loom.edges_properties_idx SET (gin_pending_list_limit = 64);
