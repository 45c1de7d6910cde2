-- The stamping trigger no longer runs for rows a node applies for a peer: its WHEN clause (evaluated
-- by PostgreSQL itself, without calling PL/pgSQL) leaves the apply session (loom.apply = 'on') out,
-- and the apply statement writes applied = true itself. Calling a PL/pgSQL row trigger costs
-- several microseconds per row even when it returns at once, a good part of the apply's cost.
-- Local writes are stamped exactly as before (loom.stamp() is unchanged).

DROP TRIGGER nodes_stamp ON loom.nodes;
CREATE TRIGGER nodes_stamp BEFORE INSERT OR UPDATE ON loom.nodes
    FOR EACH ROW WHEN (current_setting('loom.apply', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION loom.stamp();

DROP TRIGGER edges_stamp ON loom.edges;
CREATE TRIGGER edges_stamp BEFORE INSERT OR UPDATE ON loom.edges
    FOR EACH ROW WHEN (current_setting('loom.apply', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION loom.stamp();
