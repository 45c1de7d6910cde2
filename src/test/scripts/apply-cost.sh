#!/usr/bin/env bash
# What applying peers' states costs in PostgreSQL, with psql on the machine's PostgreSQL (127.0.0.1:5432,
# user postgres): 50,000 node states in calls of 1,000, in an apply session. Per round: new rows through
# loom.apply_nodes; the same INSERT sent as a statement of its own (what the wrapper function costs); new
# rows with the incoming clocks through a SQL function per row (what inlining them saves); and 50,000
# later states of existing rows through loom.apply_nodes (what the merge trigger adds to an update).
# Prints each round and the medians. Usage: src/test/scripts/apply-cost.sh [rounds, default 5]
set -euo pipefail
cd "$(dirname "$0")/../../.."
rounds=${1:-5}
db=loom_it_apply_cost
p() { psql -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
p -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
trap 'p -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null' EXIT
p -d $db -c "CREATE SCHEMA loom"
for f in src/main/resources/db/migration/V*.sql src/main/resources/db/migration/R__*.sql; do
  p -d $db -f "$f" >/dev/null
done
p -d $db >/dev/null <<'SQL'
CREATE FUNCTION public.clocks_per_row(properties text, clocks text, hlc bigint, origin text)
RETURNS jsonb LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN clocks = '{}' THEN '{}'::jsonb
                ELSE loom.compact_clocks(properties::jsonb, clocks::jsonb, hlc, origin) END $$;
SQL
arrays() { # $1: clock offset
  echo "array(SELECT 'n%s-' || g FROM generate_series(1,1000) g), array_fill('T'::text, ARRAY[1000]),
  array_fill('{\"v\": 1}'::text, ARRAY[1000]), array_fill('{}'::text, ARRAY[1000]),
  array(SELECT ((g::bigint << 16) + $1) FROM generate_series(1,1000) g), array_fill(1::bigint, ARRAY[1000]),
  array_fill('peer'::text, ARRAY[1000]), array_fill(false, ARRAY[1000]), array_fill(0::bigint, ARRAY[1000])"
}
insert() { # $1: the clocks expression
  echo "WITH r AS (INSERT INTO loom.nodes AS t (id, type, properties, property_clocks, hlc, version, origin,
  tombstone, deleted_at, base_hlc, applied) SELECT x.id, x.type, x.properties::jsonb, $1, x.hlc, x.version,
  x.origin, x.tombstone, NULL, x.base, true FROM unnest($(arrays 0)) AS x(id, type, properties, clocks, hlc,
  version, origin, tombstone, base) ON CONFLICT (id) DO UPDATE SET hlc = EXCLUDED.hlc RETURNING t.id)
  SELECT count(*) FROM r;"
}
calls() { for b in $(seq 0 49); do printf "${1//%s/$b}\n" | tr '\n' ' '; echo; done; }
timed() { { echo "SET loom.apply = 'on';"; echo '\timing on'; cat; } | p -d $db | grep -o '[0-9.]* ms' | awk '{s += $1} END {printf "%.0f", s}'; }
function_call="SELECT count(*) FROM loom.apply_nodes($(arrays 0));"
later="SELECT count(*) FROM loom.apply_nodes($(arrays 1000000000));"
statement=$(insert "CASE WHEN x.clocks = '{}' THEN '{}'::jsonb ELSE loom.compact_clocks(x.properties::jsonb, x.clocks::jsonb, x.hlc, x.origin) END")
per_row=$(insert "public.clocks_per_row(x.properties, x.clocks, x.hlc, x.origin)")
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
declare -A all
for r in $(seq 1 "$rounds"); do
  p -d $db -c "TRUNCATE loom.nodes"; a=$(calls "$function_call" | timed)
  u=$(calls "$later" | timed)
  p -d $db -c "TRUNCATE loom.nodes"; s=$(calls "$statement" | timed)
  p -d $db -c "TRUNCATE loom.nodes"; f=$(calls "$per_row" | timed)
  all[a]+="$a "; all[u]+="$u "; all[s]+="$s "; all[f]+="$f "
  echo "round $r: new rows through loom.apply_nodes $a ms, later states of them $u ms; the statement alone $s ms, with clocks through a function per row $f ms"
done
echo "medians of $rounds (50,000 rows each): loom.apply_nodes new $(echo ${all[a]} | median) ms," \
     "updated $(echo ${all[u]} | median) ms; statement alone $(echo ${all[s]} | median) ms;" \
     "clocks through a function per row $(echo ${all[f]} | median) ms"
