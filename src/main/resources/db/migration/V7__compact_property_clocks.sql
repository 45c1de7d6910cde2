-- Property clocks, compact: a property that has no entry in property_clocks has the row's own stamp
-- [hlc, origin]. A local insert now stores no clocks at all, and an update stores only those of the
-- properties it did not write (and of the ones it removed); before, the stamping trigger wrote one
-- entry per property on every write, which took 3.8 of its 5.5 µs per inserted row (reading a row's
-- keys is a query inside PL/pgSQL) and widened every row and change message.
-- Rows written before keep their full clocks: both forms mean the same, and every reader goes
-- through loom.effective_clocks (the per-property merge, the graph digest, conflict records).
-- What a node stores is compact in one way only (no entry equal to the row's stamp for a property
-- the row has: loom.compact_clocks), whatever form a message came in, so nodes holding the same
-- states hold the same bytes.

-- The clock of every property a row has or had: its own entry, else the row's stamp.
CREATE FUNCTION loom.effective_clocks(properties jsonb, clocks jsonb, hlc bigint, origin text) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce((SELECT jsonb_object_agg(k, jsonb_build_array(hlc, origin))
                     FROM jsonb_object_keys(coalesce(properties, '{}'::jsonb)) AS k
                     WHERE NOT coalesce(clocks, '{}'::jsonb) ? k), '{}'::jsonb)
           || coalesce(clocks, '{}'::jsonb)
$$;

-- The same clocks, compact: without the entries of present properties that equal the row's stamp.
CREATE FUNCTION loom.compact_clocks(properties jsonb, clocks jsonb, hlc bigint, origin text) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(jsonb_object_agg(e.key, e.value), '{}'::jsonb)
    FROM jsonb_each(coalesce(clocks, '{}'::jsonb)) AS e
    WHERE NOT (coalesce(properties, '{}'::jsonb) ? e.key AND e.value = jsonb_build_array(hlc, origin))
$$;

-- The per-property merge of a stored and an incoming state (loom.merge_properties on their clocks
-- written out), with the clocks compacted against the stamp the merged row keeps (row_hlc,
-- row_origin). Returns {"p": properties, "c": clocks}.
CREATE FUNCTION loom.merge_properties_compact(stored jsonb, stored_clocks jsonb, stored_hlc bigint,
                                              stored_origin text, incoming jsonb, incoming_clocks jsonb,
                                              incoming_hlc bigint, incoming_origin text, row_hlc bigint,
                                              row_origin text)
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object('p', m -> 'p', 'c', loom.compact_clocks(m -> 'p', m -> 'c', row_hlc, row_origin))
    FROM (SELECT loom.merge_properties(stored, loom.effective_clocks(stored, stored_clocks, stored_hlc, stored_origin),
                                       incoming, loom.effective_clocks(incoming, incoming_clocks, incoming_hlc,
                                                                       incoming_origin)) AS m) AS merged
$$;

-- The clocks after a local update, compact: a property the update set or changed takes the row's
-- new stamp (no entry); one it left unchanged keeps its clock (the row's old stamp, written out, if
-- it had no entry); one it removed gets an entry with the new stamp (a property tombstone).
CREATE FUNCTION loom.updated_property_clocks(old_properties jsonb, old_clocks jsonb, old_hlc bigint,
                                             old_origin text, new_properties jsonb, hlc bigint, origin text)
RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    clocks jsonb := coalesce(old_clocks, '{}'::jsonb);
    k text;
BEGIN
    FOR k IN SELECT jsonb_object_keys(new_properties) LOOP
        IF old_properties ? k AND old_properties -> k = new_properties -> k THEN
            IF NOT (clocks ? k) THEN
                clocks := clocks || jsonb_build_object(k, jsonb_build_array(old_hlc, old_origin));
            END IF;
        ELSIF clocks ? k THEN
            clocks := clocks - k;
        END IF;
    END LOOP;
    FOR k IN SELECT jsonb_object_keys(old_properties) LOOP
        IF NOT (new_properties ? k) THEN
            clocks := clocks || jsonb_build_object(k, jsonb_build_array(hlc, origin));
        END IF;
    END LOOP;
    RETURN clocks;
END
$$;

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
        NEW.property_clocks := '{}'::jsonb; -- every property has the row's stamp
    ELSE
        NEW.property_clocks := loom.updated_property_clocks(OLD.properties, OLD.property_clocks, OLD.hlc, OLD.origin,
                                                            NEW.properties, NEW.hlc, NEW.origin);
    END IF;
    RETURN NEW;
END
$$;
