-- The merge rule, in one place. Every path that writes a peer's state into the graph calls
-- loom.apply_nodes / loom.apply_edges in an apply session; their ON CONFLICT update is decided,
-- once per row, by the merge trigger below. The strategy is the session's, chosen by the node from
-- its configuration (Java chooses, SQL decides):
--   loom.merge_strategy  last-write-wins (default) | highest-version | merge
--   loom.merge_types     a JSON object of per-type strategies, e.g. {"COUNTER": "highest-version"};
--                        a type's strategy applies when both states have that type
--   loom.auto_resolve    'off' keeps a concurrent incoming state aside instead of deciding it

-- Per-property last-write-wins: for every name, the side whose clock (hlc, then origin byte by
-- byte) is greater gives the value, or the absence of one. Both sides' clocks written out.
-- Returns {"p": properties, "c": clocks}. Commutative, associative and idempotent.
CREATE OR REPLACE FUNCTION loom.merge_properties(stored jsonb, stored_clocks jsonb, incoming jsonb,
                                                 incoming_clocks jsonb)
RETURNS jsonb LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
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

-- Two states are concurrent when they come from different nodes and neither was based on the other.
CREATE OR REPLACE FUNCTION loom.concurrent(stored_origin text, stored_hlc bigint, stored_base bigint,
                                           incoming_origin text, incoming_hlc bigint, incoming_base bigint)
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT stored_origin <> incoming_origin AND incoming_base < stored_hlc AND stored_base < incoming_hlc
$$;

-- The merge trigger (BEFORE UPDATE in the apply session, for loom.nodes and loom.edges): OLD is the
-- stored state, NEW the incoming one. Returns the merged row, or NULL when the stored state stays
-- as it is (an older, equal or duplicated state changes nothing: no write, not returned).
--   last-write-wins: the greater (hlc, origin) wins the row;
--   highest-version: the greater (version, hlc, origin);
--   merge: the row (type, endpoints, deleted or not) by last-write-wins, the properties one by one,
--          each by its own clock (loom.merge_properties), stored compact against the winning stamp.
CREATE OR REPLACE FUNCTION loom.merge_state() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    strategy text := coalesce(nullif(current_setting('loom.merge_strategy', true), ''), 'last-write-wins');
    per_type text := current_setting('loom.merge_types', true);
    wins boolean;
    merged jsonb;
BEGIN
    IF OLD.type = NEW.type AND per_type IS NOT NULL AND per_type NOT IN ('', '{}') THEN
        strategy := coalesce(per_type::jsonb ->> OLD.type, strategy);
    END IF;
    IF strategy = 'highest-version' THEN
        wins := (OLD.version, OLD.hlc, OLD.origin COLLATE "C") < (NEW.version, NEW.hlc, NEW.origin COLLATE "C");
    ELSE
        wins := (OLD.hlc, OLD.origin COLLATE "C") < (NEW.hlc, NEW.origin COLLATE "C");
    END IF;
    IF wins AND current_setting('loom.auto_resolve', true) = 'off'
       AND loom.concurrent(OLD.origin, OLD.hlc, OLD.base_hlc, NEW.origin, NEW.hlc, NEW.base_hlc) THEN
        wins := false; -- kept aside in loom.conflicts by the applier, decided by a person
    END IF;
    IF strategy = 'merge' THEN
        merged := loom.merge_properties(
            OLD.properties, loom.effective_clocks(OLD.properties, OLD.property_clocks, OLD.hlc, OLD.origin),
            NEW.properties, loom.effective_clocks(NEW.properties, NEW.property_clocks, NEW.hlc, NEW.origin));
    ELSIF NOT wins THEN
        RETURN NULL;
    END IF;
    IF wins THEN
        NEW.deleted_at := CASE WHEN NEW.tombstone THEN coalesce(OLD.deleted_at, now()) END;
    ELSIF merged -> 'p' = OLD.properties
          AND loom.compact_clocks(merged -> 'p', merged -> 'c', OLD.hlc, OLD.origin) = OLD.property_clocks THEN
        RETURN NULL; -- merging into the stored row changes nothing
    ELSE
        NEW := OLD; -- the stored row's own columns stay; only its properties take the merge
    END IF;
    IF merged IS NOT NULL THEN
        NEW.properties := merged -> 'p';
        NEW.property_clocks := loom.compact_clocks(merged -> 'p', merged -> 'c', NEW.hlc, NEW.origin);
    END IF;
    NEW.applied := true;
    RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER nodes_merge BEFORE UPDATE ON loom.nodes
    FOR EACH ROW WHEN (current_setting('loom.apply', true) = 'on')
    EXECUTE FUNCTION loom.merge_state();
CREATE OR REPLACE TRIGGER edges_merge BEFORE UPDATE ON loom.edges
    FOR EACH ROW WHEN (current_setting('loom.apply', true) = 'on')
    EXECUTE FUNCTION loom.merge_state();

CREATE OR REPLACE FUNCTION loom.require_apply_session() RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF current_setting('loom.apply', true) IS DISTINCT FROM 'on' THEN
        RAISE EXCEPTION 'peers'' states are applied in an apply session only'
            USING HINT = 'SET loom.apply = ''on'' and set up the node''s replication origin first (no echo)';
    END IF;
END
$$;

-- A peer's node states, one array element per node: returns the ids of the rows it changed. The
-- incoming clocks are stored compact, whatever form the message used, so that nodes holding the same
-- states hold the same bytes; {} (a new row's) is taken as it is, compared as text, so that the common
-- insert calls no function per row (a function with its own search_path is not inlined).
-- PL/pgSQL, not SQL: a SQL function that is not inlined parses and plans its body at every call,
-- where PL/pgSQL keeps the plan for the session (a one-row apply: about 250 against 145 core-µs of
-- the backend on PostgreSQL 15).
CREATE OR REPLACE FUNCTION loom.apply_nodes(ids text[], types text[], properties text[], clocks text[],
                                            hlcs bigint[], versions bigint[], origins text[], tombstones boolean[],
                                            bases bigint[])
RETURNS SETOF text LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM loom.require_apply_session();
    RETURN QUERY
    INSERT INTO loom.nodes AS t (id, type, properties, property_clocks, hlc, version, origin, tombstone, deleted_at,
                                 base_hlc, applied)
    SELECT x.id, x.type, x.properties::jsonb,
           CASE WHEN x.clocks = '{}' THEN '{}'::jsonb
                ELSE loom.compact_clocks(x.properties::jsonb, x.clocks::jsonb, x.hlc, x.origin) END,
           x.hlc, x.version, x.origin, x.tombstone, CASE WHEN x.tombstone THEN now() END, x.base, true
    FROM unnest(ids, types, properties, clocks, hlcs, versions, origins, tombstones, bases)
         AS x(id, type, properties, clocks, hlc, version, origin, tombstone, base)
    ON CONFLICT (id) DO UPDATE SET type = EXCLUDED.type, properties = EXCLUDED.properties,
        property_clocks = EXCLUDED.property_clocks, hlc = EXCLUDED.hlc, version = EXCLUDED.version,
        origin = EXCLUDED.origin, tombstone = EXCLUDED.tombstone, deleted_at = EXCLUDED.deleted_at,
        base_hlc = EXCLUDED.base_hlc, applied = true
    RETURNING t.id;
END
$$;

-- A peer's edge states, as loom.apply_nodes.
CREATE OR REPLACE FUNCTION loom.apply_edges(ids text[], types text[], sources text[], targets text[],
                                            properties text[], clocks text[], hlcs bigint[], versions bigint[],
                                            origins text[], tombstones boolean[], bases bigint[])
RETURNS SETOF text LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM loom.require_apply_session();
    RETURN QUERY
    INSERT INTO loom.edges AS t (id, type, source_id, target_id, properties, property_clocks, hlc, version, origin,
                                 tombstone, deleted_at, base_hlc, applied)
    SELECT x.id, x.type, x.source, x.target, x.properties::jsonb,
           CASE WHEN x.clocks = '{}' THEN '{}'::jsonb
                ELSE loom.compact_clocks(x.properties::jsonb, x.clocks::jsonb, x.hlc, x.origin) END,
           x.hlc, x.version, x.origin, x.tombstone, CASE WHEN x.tombstone THEN now() END, x.base, true
    FROM unnest(ids, types, sources, targets, properties, clocks, hlcs, versions, origins, tombstones, bases)
         AS x(id, type, source, target, properties, clocks, hlc, version, origin, tombstone, base)
    ON CONFLICT (id) DO UPDATE SET type = EXCLUDED.type, source_id = EXCLUDED.source_id,
        target_id = EXCLUDED.target_id, properties = EXCLUDED.properties,
        property_clocks = EXCLUDED.property_clocks, hlc = EXCLUDED.hlc, version = EXCLUDED.version,
        origin = EXCLUDED.origin, tombstone = EXCLUDED.tombstone, deleted_at = EXCLUDED.deleted_at,
        base_hlc = EXCLUDED.base_hlc, applied = true
    RETURNING t.id;
END
$$;

-- Rows mostly new (a peer's inserts, a bootstrap's pages), as loom.apply_nodes: all of them by a plain
-- INSERT, two WAL records a row instead of the three of INSERT ... ON CONFLICT (its speculative insertion is
-- confirmed by a record of its own, and every WAL sender of the server reads every record). When one of
-- them is stored already, or another session inserts it meanwhile, the INSERT fails (unique_violation) and
-- all of them go through loom.apply_nodes, where the merge decides. No existence check by a join: its
-- plan, cached by PL/pgSQL while the table is small, would stay a scan of the whole table as it grows.
-- Returns the ids of the rows it changed.
CREATE OR REPLACE FUNCTION loom.apply_new_nodes(ids text[], types text[], properties text[], clocks text[],
                                                hlcs bigint[], versions bigint[], origins text[],
                                                tombstones boolean[], bases bigint[])
RETURNS SETOF text LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    inserted text[];
BEGIN
    PERFORM loom.require_apply_session();
    BEGIN
        WITH written AS (
            INSERT INTO loom.nodes AS t (id, type, properties, property_clocks, hlc, version, origin, tombstone,
                                         deleted_at, base_hlc, applied)
            SELECT x.id, x.type, x.properties::jsonb,
                   CASE WHEN x.clocks = '{}' THEN '{}'::jsonb
                        ELSE loom.compact_clocks(x.properties::jsonb, x.clocks::jsonb, x.hlc, x.origin) END,
                   x.hlc, x.version, x.origin, x.tombstone, CASE WHEN x.tombstone THEN now() END, x.base, true
            FROM unnest(ids, types, properties, clocks, hlcs, versions, origins, tombstones, bases)
                 AS x(id, type, properties, clocks, hlc, version, origin, tombstone, base)
            RETURNING t.id)
        SELECT array_agg(id) INTO inserted FROM written;
    EXCEPTION WHEN unique_violation THEN
        RETURN QUERY SELECT * FROM loom.apply_nodes(ids, types, properties, clocks, hlcs, versions, origins, tombstones, bases);
        RETURN;
    END;
    RETURN QUERY SELECT unnest(inserted);
END
$$;

-- Rows mostly new (a peer's inserts, a bootstrap's pages), as loom.apply_edges: all of them by a plain
-- INSERT, two WAL records a row instead of the three of INSERT ... ON CONFLICT (its speculative insertion is
-- confirmed by a record of its own, and every WAL sender of the server reads every record). When one of
-- them is stored already, or another session inserts it meanwhile, the INSERT fails (unique_violation) and
-- all of them go through loom.apply_edges, where the merge decides. No existence check by a join: its
-- plan, cached by PL/pgSQL while the table is small, would stay a scan of the whole table as it grows.
-- Returns the ids of the rows it changed.
CREATE OR REPLACE FUNCTION loom.apply_new_edges(ids text[], types text[], sources text[], targets text[],
                                                properties text[], clocks text[], hlcs bigint[], versions bigint[],
                                                origins text[], tombstones boolean[], bases bigint[])
RETURNS SETOF text LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    inserted text[];
BEGIN
    PERFORM loom.require_apply_session();
    BEGIN
        WITH written AS (
            INSERT INTO loom.edges AS t (id, type, source_id, target_id, properties, property_clocks, hlc, version,
                                         origin, tombstone, deleted_at, base_hlc, applied)
            SELECT x.id, x.type, x.source, x.target, x.properties::jsonb,
                   CASE WHEN x.clocks = '{}' THEN '{}'::jsonb
                        ELSE loom.compact_clocks(x.properties::jsonb, x.clocks::jsonb, x.hlc, x.origin) END,
                   x.hlc, x.version, x.origin, x.tombstone, CASE WHEN x.tombstone THEN now() END, x.base, true
            FROM unnest(ids, types, sources, targets, properties, clocks, hlcs, versions, origins, tombstones, bases)
                 AS x(id, type, source, target, properties, clocks, hlc, version, origin, tombstone, base)
            RETURNING t.id)
        SELECT array_agg(id) INTO inserted FROM written;
    EXCEPTION WHEN unique_violation THEN
        RETURN QUERY SELECT * FROM loom.apply_edges(ids, types, sources, targets, properties, clocks, hlcs, versions, origins, tombstones, bases);
        RETURN;
    END;
    RETURN QUERY SELECT unnest(inserted);
END
$$;
