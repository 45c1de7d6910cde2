-- What a write was based on, and the conflicts kept aside when loom.conflict.auto-resolve is false.

-- base_hlc: the clock of the row state a write replaced (0 for a new row). Two states are
-- concurrent when neither was based on the other: each one's base is older than the other's clock.
ALTER TABLE loom.nodes ADD COLUMN base_hlc bigint NOT NULL DEFAULT 0;
ALTER TABLE loom.edges ADD COLUMN base_hlc bigint NOT NULL DEFAULT 0;

CREATE OR REPLACE FUNCTION loom.stamp() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    physical bigint := floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint << 16;
    -- a resolution must be later than both states it resolves: loom.min_hlc names the later one
    floor_hlc bigint := coalesce(nullif(current_setting('loom.min_hlc', true), '')::bigint, 0);
BEGIN
    IF current_setting('loom.apply', true) = 'on' THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'INSERT' THEN
        NEW.hlc := greatest(physical, floor_hlc + 1);
        NEW.version := 1;
        NEW.base_hlc := 0;
    ELSE
        NEW.hlc := greatest(physical, OLD.hlc + 1, floor_hlc + 1);
        NEW.version := OLD.version + 1;
        NEW.base_hlc := greatest(OLD.hlc, floor_hlc);
    END IF;
    NEW.origin := coalesce((SELECT node_id FROM loom.node_info), '');
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
