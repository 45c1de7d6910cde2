#!/usr/bin/env bash
# What the stamping trigger costs per write, with psql on the machine's PostgreSQL (127.0.0.1:5432,
# user postgres): 50,000 inserts of two properties into loom.nodes in 1,000-row transactions, then
# 50,000 updates of one property, with no trigger and with the stamping trigger (R__20_stamp.sql),
# in an order that turns from round to round. Prints each round and the medians. Usage: src/test/scripts/trigger-cost.sh [rounds, default 7]
set -euo pipefail
cd "$(dirname "$0")/../../.."
rounds=${1:-7}
db=loom_it_trigger_cost
psql_() { psql -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
psql_ -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
trap 'psql_ -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null' EXIT
psql_ -d $db -c "CREATE SCHEMA loom"
for f in src/main/resources/db/migration/V*.sql src/main/resources/db/migration/R__*.sql; do
  psql_ -d $db -f "$f" >/dev/null
done
psql_ -d $db -c "INSERT INTO loom.node_info (node_id) VALUES ('n1')"

timed() { # sums the \timing of the statements read from stdin, in ms
  { echo '\timing on'; cat; } | psql_ -d $db | grep -o '[0-9.]* ms' | awk '{s += $1} END {printf "%.0f", s}'
}
inserts() {
  psql_ -d $db -c "TRUNCATE loom.nodes" >/dev/null
  for b in $(seq 0 49); do
    echo "INSERT INTO loom.nodes (id, type, properties) SELECT 'n' || ($b * 1000 + g), 'Bench',
          jsonb_build_object('v', g, 'w', 'x' || g) FROM generate_series(1, 1000) g;"
  done | timed
}
updates() {
  for b in $(seq 0 49); do
    echo "UPDATE loom.nodes SET properties = jsonb_set(properties, '{v}', to_jsonb(-g))
          FROM generate_series(1, 1000) g WHERE id = 'n' || ($b * 1000 + g);"
  done | timed
}
median() { tr ' ' '\n' | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
declare -A all
variants=(none current)
for r in $(seq 1 "$rounds"); do
  line="round $r:"
  # each round starts with another variant: the last of a round runs slower (WAL, checkpoints)
  for k in 0 1; do
    variant=${variants[$(( (r + k) % 2 ))]}
    case $variant in
      none) psql_ -d $db -c "ALTER TABLE loom.nodes DISABLE TRIGGER nodes_stamp" >/dev/null ;;
      current) psql_ -d $db -c "ALTER TABLE loom.nodes ENABLE TRIGGER nodes_stamp" >/dev/null ;;
    esac
    i=$(inserts); u=$(updates)
    all[$variant-i]+="$i "; all[$variant-u]+="$u "
    line+=" $variant insert $i ms, update $u ms;"
  done
  echo "$line"
done
for variant in none current; do
  echo "median of $rounds, $variant: 50,000 inserts $(echo ${all[$variant-i]} | median) ms," \
       "50,000 updates $(echo ${all[$variant-u]} | median) ms"
done
