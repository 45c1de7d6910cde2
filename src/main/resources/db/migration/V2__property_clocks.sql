-- Per-property clocks for the 'merge' strategy: property_clocks maps every property name a row has
-- ever had to [hlc, origin] of the write that last set or removed it. A name in property_clocks
-- but not in properties is a removed property (a property tombstone).

ALTER TABLE loom.nodes ADD COLUMN property_clocks jsonb NOT NULL DEFAULT '{}'::jsonb;
ALTER TABLE loom.edges ADD COLUMN property_clocks jsonb NOT NULL DEFAULT '{}'::jsonb;

-- The clocks after a local write: what changed, was added or was removed gets the write's clock.
CREATE FUNCTION loom.stamp_property_clocks(old_properties jsonb, old_clocks jsonb, new_properties jsonb,
                                           hlc bigint, origin text) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    clocks jsonb := coalesce(old_clocks, '{}'::jsonb);
    stamp jsonb := jsonb_build_array(hlc, origin);
    k text;
BEGIN
    FOR k IN SELECT jsonb_object_keys(new_properties) LOOP
        IF old_properties IS NULL OR NOT (old_properties ? k) OR old_properties -> k IS DISTINCT FROM new_properties -> k
           OR NOT (clocks ? k) THEN
            clocks := clocks || jsonb_build_object(k, stamp);
        END IF;
    END LOOP;
    IF old_properties IS NOT NULL THEN
        FOR k IN SELECT jsonb_object_keys(old_properties) LOOP
            IF NOT (new_properties ? k) THEN
                clocks := clocks || jsonb_build_object(k, stamp);
            END IF;
        END LOOP;
    END IF;
    RETURN clocks;
END
$$;

UPDATE loom.nodes SET property_clocks = loom.stamp_property_clocks(NULL, NULL, properties, hlc, origin);
UPDATE loom.edges SET property_clocks = loom.stamp_property_clocks(NULL, NULL, properties, hlc, origin);

CREATE OR REPLACE FUNCTION loom.stamp() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    physical bigint := floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint << 16;
BEGIN
    IF current_setting('loom.apply', true) = 'on' THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'INSERT' THEN
        NEW.hlc := physical;
        NEW.version := 1;
    ELSE
        NEW.hlc := greatest(physical, OLD.hlc + 1);
        NEW.version := OLD.version + 1;
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

-- Per-property last-write-wins: for every name, the side whose clock (hlc, then origin byte by
-- byte) is greater gives the value, or the absence of one. Returns {"p": properties, "c": clocks}.
-- Commutative, associative and idempotent, whatever the row-level outcome.
CREATE FUNCTION loom.merge_properties(stored jsonb, stored_clocks jsonb, incoming jsonb, incoming_clocks jsonb)
RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    properties jsonb := '{}'::jsonb;
    clocks jsonb := '{}'::jsonb;
    k text;
    s jsonb;
    i jsonb;
    take_incoming boolean;
BEGIN
    FOR k IN SELECT jsonb_object_keys(stored_clocks) UNION SELECT jsonb_object_keys(incoming_clocks)
             UNION SELECT jsonb_object_keys(stored) UNION SELECT jsonb_object_keys(incoming) LOOP
        s := stored_clocks -> k;
        i := incoming_clocks -> k;
        IF i IS NULL THEN
            take_incoming := false;
        ELSIF s IS NULL THEN
            take_incoming := true;
        ELSE
            take_incoming := ((s ->> 0)::bigint, (s ->> 1) COLLATE "C") < ((i ->> 0)::bigint, (i ->> 1) COLLATE "C");
        END IF;
        IF take_incoming THEN
            clocks := clocks || jsonb_build_object(k, i);
            IF incoming ? k THEN
                properties := properties || jsonb_build_object(k, incoming -> k);
            END IF;
        ELSE
            IF s IS NOT NULL THEN
                clocks := clocks || jsonb_build_object(k, s);
            END IF;
            IF stored ? k THEN
                properties := properties || jsonb_build_object(k, stored -> k);
            END IF;
        END IF;
    END LOOP;
    RETURN jsonb_build_object('p', properties, 'c', clocks);
END
$$;
