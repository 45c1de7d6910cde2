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
    deleted_at timestamptz
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
    deleted_at timestamptz
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

-- Stamps every local write with a hybrid logical clock, a version and this node's id, whoever
-- the writer is (REST API, psql, an app). The clock is (milliseconds since the epoch << 16) plus a
-- 16-bit logical counter, and it is always later than the clock of the row it replaces.
-- A session that applies changes for a peer sets loom.apply = 'on' and keeps the peer's stamp.
CREATE FUNCTION loom.stamp() RETURNS trigger LANGUAGE plpgsql AS $$
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
