-- The property graph and the stamping that makes every writer visible to sync.
-- Applied by Flyway at start (schema loom).

CREATE TABLE loom.node_info (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    node_id   text NOT NULL
);

CREATE TABLE loom.nodes (
    id         text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 256),
    type       text NOT NULL CHECK (length(type) BETWEEN 1 AND 256),
    properties jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(properties) = 'object'),
    hlc        bigint NOT NULL DEFAULT 0,
    version    bigint NOT NULL DEFAULT 0,
    origin     text NOT NULL DEFAULT '',
    tombstone  boolean NOT NULL DEFAULT false,
    deleted_at timestamptz,
    -- merge strategy: property name -> [hlc, origin] of the write that last set or removed it; a name
    -- here but not in properties is a removed property (a property tombstone)
    property_clocks jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- the clock of the state this write replaced (0 for a new row): two states are concurrent when
    -- neither was based on the other
    base_hlc   bigint NOT NULL DEFAULT 0
);

-- No foreign keys from edges to nodes: an edge may arrive before its endpoints.
CREATE TABLE loom.edges (
    id         text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 256),
    type       text NOT NULL CHECK (length(type) BETWEEN 1 AND 256),
    source_id  text NOT NULL CHECK (length(source_id) BETWEEN 1 AND 256),
    target_id  text NOT NULL CHECK (length(target_id) BETWEEN 1 AND 256),
    properties jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(properties) = 'object'),
    hlc        bigint NOT NULL DEFAULT 0,
    version    bigint NOT NULL DEFAULT 0,
    origin     text NOT NULL DEFAULT '',
    tombstone  boolean NOT NULL DEFAULT false,
    deleted_at timestamptz,
    -- merge strategy: property name -> [hlc, origin] of the write that last set or removed it; a name
    -- here but not in properties is a removed property (a property tombstone)
    property_clocks jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- the clock of the state this write replaced (0 for a new row): two states are concurrent when
    -- neither was based on the other
    base_hlc   bigint NOT NULL DEFAULT 0
);

CREATE INDEX nodes_type_idx ON loom.nodes (type, id);
CREATE INDEX nodes_properties_idx ON loom.nodes USING gin (properties);
CREATE INDEX edges_type_idx ON loom.edges (type, id);
CREATE INDEX edges_source_idx ON loom.edges (source_id);
CREATE INDEX edges_target_idx ON loom.edges (target_id);
CREATE INDEX edges_source_type_idx ON loom.edges (source_id, type);
CREATE INDEX edges_target_type_idx ON loom.edges (target_id, type);
CREATE INDEX edges_properties_idx ON loom.edges USING gin (properties);

-- The old row travels with every update, so that a large (TOASTed) value the update did not
-- touch, which pgoutput sends as "unchanged", can be filled in from it.
ALTER TABLE loom.nodes REPLICA IDENTITY FULL;
ALTER TABLE loom.edges REPLICA IDENTITY FULL;

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

-- Stamps every local write with a hybrid logical clock, a version and this node's id, whoever
-- the writer is (REST API, psql, an app). The clock is (milliseconds since the epoch << 16) plus a
-- 16-bit logical counter, and it is always later than the clock of the row it replaces.
-- A session that applies changes for a peer sets loom.apply = 'on' and keeps the peer's stamp; a
-- conflict resolution sets loom.min_hlc so that its write is later than both states it resolves.
CREATE FUNCTION loom.stamp() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    physical bigint := floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint << 16;
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

-- A DELETE becomes a tombstone (an update with a clock), so that the delete is synced and a
-- stale message can never bring the row back. Purging tombstones sets loom.purge = 'on'.
CREATE FUNCTION loom.tombstone_on_delete() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE TRIGGER nodes_stamp BEFORE INSERT OR UPDATE ON loom.nodes
    FOR EACH ROW EXECUTE FUNCTION loom.stamp();
CREATE TRIGGER edges_stamp BEFORE INSERT OR UPDATE ON loom.edges
    FOR EACH ROW EXECUTE FUNCTION loom.stamp();
CREATE TRIGGER nodes_tombstone BEFORE DELETE ON loom.nodes
    FOR EACH ROW EXECUTE FUNCTION loom.tombstone_on_delete();
CREATE TRIGGER edges_tombstone BEFORE DELETE ON loom.edges
    FOR EACH ROW EXECUTE FUNCTION loom.tombstone_on_delete();

-- Messages from the mesh that could not be applied, kept for inspection.
CREATE TABLE loom.rejected_messages (
    id          bigserial PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    topic       text NOT NULL,
    reason      text NOT NULL,
    payload     bytea NOT NULL
);

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

-- Concurrent changes kept aside when loom.conflict.auto-resolve is false.
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
