-- Rows a node applied for a peer are marked (applied = true, set by the stamping trigger in the
-- apply session, cleared by any local write), so that on PostgreSQL 15 the publication can leave
-- them out with a row filter (WHERE NOT applied, set by the node at start). PostgreSQL 16+ leaves
-- them out by their replication origin instead (pgoutput origin=none); 15 decoded every applied row
-- and sent it to the node's own capture only to be dropped: a receiver's WAL sender spent about as
-- much CPU on those rows as the sender's WAL sender on the rows it actually syncs.
-- The column is local bookkeeping: it is not part of a change, a message or the graph digest.

ALTER TABLE loom.nodes ADD COLUMN applied boolean NOT NULL DEFAULT false;
ALTER TABLE loom.edges ADD COLUMN applied boolean NOT NULL DEFAULT false;

CREATE OR REPLACE FUNCTION loom.stamp() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    physical bigint := floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint << 16;
    floor_hlc bigint := coalesce(nullif(current_setting('loom.min_hlc', true), '')::bigint, 0);
    this_node text;
BEGIN
    IF current_setting('loom.apply', true) = 'on' THEN
        NEW.applied := true;
        RETURN NEW;
    END IF;
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
        NEW.property_clocks := loom.stamp_property_clocks(NULL, NULL, NEW.properties, NEW.hlc, NEW.origin);
    ELSE
        NEW.property_clocks := loom.stamp_property_clocks(OLD.properties, OLD.property_clocks, NEW.properties,
                                                          NEW.hlc, NEW.origin);
    END IF;
    RETURN NEW;
END
$$;
