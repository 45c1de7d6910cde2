-- Property clocks (the per-property merge strategy's state), in one place. A property without an
-- entry in property_clocks has its row's own stamp [hlc, origin]: that is the compact form a node
-- stores; effective_clocks writes every entry out, compact_clocks leaves out what the stamp implies.

CREATE OR REPLACE FUNCTION loom.effective_clocks(properties jsonb, clocks jsonb, hlc bigint, origin text)
RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce((SELECT jsonb_object_agg(k, jsonb_build_array(hlc, origin))
                     FROM jsonb_object_keys(coalesce(properties, '{}'::jsonb)) AS k
                     WHERE NOT coalesce(clocks, '{}'::jsonb) ? k), '{}'::jsonb)
           || coalesce(clocks, '{}'::jsonb)
$$;

CREATE OR REPLACE FUNCTION loom.compact_clocks(properties jsonb, clocks jsonb, hlc bigint, origin text)
RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce(jsonb_object_agg(e.key, e.value), '{}'::jsonb)
    FROM jsonb_each(coalesce(clocks, '{}'::jsonb)) AS e
    WHERE NOT (coalesce(properties, '{}'::jsonb) ? e.key AND e.value = jsonb_build_array(hlc, origin))
$$;

-- The clocks after a local update stamped [hlc, origin]: a property it left alone keeps its old
-- clock (written out when it was implicit), one it set drops its entry (it has the new stamp),
-- one it removed gets a property tombstone with the new stamp.
CREATE OR REPLACE FUNCTION loom.updated_property_clocks(old_properties jsonb, old_clocks jsonb, old_hlc bigint,
                                                        old_origin text, new_properties jsonb, hlc bigint,
                                                        origin text)
RETURNS jsonb LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
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
