-- Stamping: every local write, whoever the writer is (REST API, psql, an app), gets a hybrid
-- logical clock, a version and this node's id, so that capture sees it and peers can merge it.

-- The clock is (milliseconds since the epoch << 16) plus a 16-bit logical counter, always later
-- than the clock of the row it replaces. A conflict resolution sets loom.min_hlc so that its write
-- is later than both states it resolves. The apply session (loom.apply = 'on') never reaches this
-- function: the triggers' WHEN leaves it out, and the merge triggers (R__30_merge.sql) decide.
CREATE OR REPLACE FUNCTION loom.stamp() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    physical bigint := floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint << 16;
    floor_hlc bigint := coalesce(nullif(current_setting('loom.min_hlc', true), '')::bigint, 0);
    this_node text;
BEGIN
    NEW.applied := false;
    IF TG_OP = 'INSERT' THEN
        NEW.hlc := greatest(physical, floor_hlc + 1);
        NEW.version := 1;
        NEW.base_hlc := 0;
    ELSE
        NEW.hlc := greatest(physical, OLD.hlc + 1, floor_hlc + 1);
        NEW.version := OLD.version + 1;
        NEW.base_hlc := greatest(OLD.hlc, floor_hlc);
    END IF;
    -- the node id, read once per session
    this_node := current_setting('loom.node_id_cache', true);
    IF this_node IS NULL OR this_node = '' THEN
        this_node := coalesce((SELECT i.node_id FROM loom.node_info i), '');
        PERFORM set_config('loom.node_id_cache', this_node, false);
    END IF;
    NEW.origin := this_node;
    IF NEW.tombstone THEN
        NEW.properties := '{}'::jsonb;
        NEW.deleted_at := coalesce(NEW.deleted_at, now());
    ELSE
        NEW.deleted_at := NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        NEW.property_clocks := '{}'::jsonb; -- every property has the row's stamp
    ELSE
        NEW.property_clocks := loom.updated_property_clocks(OLD.properties, OLD.property_clocks, OLD.hlc, OLD.origin,
                                                            NEW.properties, NEW.hlc, NEW.origin);
    END IF;
    RETURN NEW;
END
$$;

-- A DELETE becomes a tombstone (an update with a clock), so that the delete is synced and a
-- stale message can never bring the row back. Purging tombstones sets loom.purge = 'on'.
CREATE OR REPLACE FUNCTION loom.tombstone_on_delete() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF current_setting('loom.purge', true) = 'on' THEN
        RETURN OLD;
    END IF;
    IF NOT OLD.tombstone THEN
        EXECUTE format('UPDATE %I.%I SET tombstone = true WHERE id = $1', TG_TABLE_SCHEMA, TG_TABLE_NAME)
            USING OLD.id;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER nodes_stamp BEFORE INSERT OR UPDATE ON loom.nodes
    FOR EACH ROW WHEN (current_setting('loom.apply', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION loom.stamp();
CREATE OR REPLACE TRIGGER edges_stamp BEFORE INSERT OR UPDATE ON loom.edges
    FOR EACH ROW WHEN (current_setting('loom.apply', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION loom.stamp();
CREATE OR REPLACE TRIGGER nodes_tombstone BEFORE DELETE ON loom.nodes
    FOR EACH ROW EXECUTE FUNCTION loom.tombstone_on_delete();
CREATE OR REPLACE TRIGGER edges_tombstone BEFORE DELETE ON loom.edges
    FOR EACH ROW EXECUTE FUNCTION loom.tombstone_on_delete();
