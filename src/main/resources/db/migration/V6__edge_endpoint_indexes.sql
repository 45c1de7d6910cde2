-- An edge's endpoints are indexed once each: edges_source_type_idx (source_id, type) and
-- edges_target_type_idx (target_id, type) serve every lookup by endpoint alone as well (a B-tree is
-- read by its leading column), so the single-column indexes only cost each edge write two more index
-- entries and a bootstrap two more index builds.
DROP INDEX IF EXISTS loom.edges_source_idx;
DROP INDEX IF EXISTS loom.edges_target_idx;

-- A bootstrap that was set aside before this migration (its definitions wait in loom.sync_state) must
-- not build them again.
UPDATE loom.sync_state
SET value = array_to_string(ARRAY(
        SELECT d FROM unnest(string_to_array(value, E'\n')) AS d
        WHERE d !~ '^CREATE INDEX (edges_source_idx|edges_target_idx) '), E'\n')
WHERE name = 'bootstrap.indexes';
