#!/usr/bin/env bash
# Bootstrap against PostgreSQL's own initial table synchronisation, on the machine's PostgreSQL (127.0.0.1:5432,
# user postgres) and Mosquitto (127.0.0.1:1883), with the built node (mvn -B package -DskipTests first).
# Node A gets N nodes and 2N edges by SQL and publishes them; node C starts on an empty database and takes them
# by bootstrap; the log says how long. Baseline: a subscription with copy_data = true of A's two tables into an
# empty database of the same server with the same tables (the time until both are ready).
# Usage: src/test/scripts/bootstrap-cost.sh [N, default 100000]
set -euo pipefail
cd "$(dirname "$0")/../../.."
n=${1:-100000}
jar=${LOOM_JAR:-target/quarkus-app/quarkus-run.jar} # LOOM_JAR=path measures another build
mesh=bootcost-$$
work=target/bootstrap-cost; rm -rf "$work"; mkdir -p "$work"
p() { psql -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
cleanup() {
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  p -d bc_dst -c "DROP SUBSCRIPTION IF EXISTS bc_sub" >/dev/null 2>&1 || true
  for slot in loom_bc_a loom_bc_c bc_sub; do
    p -d postgres -c "SELECT pg_drop_replication_slot('$slot') WHERE EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = '$slot')" >/dev/null 2>&1 || true
  done
  for db in bc_a bc_c bc_dst; do p -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null; done
  :
}
pids=()
trap cleanup EXIT
for db in bc_a bc_c bc_dst; do p -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null; done
node() { # $1 id, $2 db, $3 http port
  java -Xmx512m ${LOOM_JAVA_OPTS:-} -Dloom.node-id="$1" -Dloom.mesh=$mesh -Dloom.embedded.postgres=false -Dloom.embedded.broker=false \
    -Dquarkus.datasource.reactive.url="postgresql://127.0.0.1:5432/$2" -Dquarkus.http.port="$3" \
    -jar "$jar" >"$work/$1.log" 2>&1 &
  pids+=($!)
}
ready() { for _ in $(seq 1 600); do curl -sf "localhost:$1/q/health/ready" >/dev/null && return 0; sleep 0.5; done; return 1; }
node bc_a bc_a 18391
ready 18391
p -d bc_a -c "INSERT INTO loom.nodes (id, type, properties) SELECT 'n' || g, 'T' || (g % 10),
  jsonb_build_object('name', 'node ' || g, 'w', g % 97, 'tags', jsonb_build_array('a', 'b')) FROM generate_series(1, $n) g" \
  -c "INSERT INTO loom.edges (id, type, source_id, target_id, properties) SELECT 'e' || g, 'L' || (g % 5),
  'n' || (g % $n + 1), 'n' || ((g * 7) % $n + 1), jsonb_build_object('weight', g % 13) FROM generate_series(1, 2 * $n) g"
until [ "$(p -d bc_a -c "SELECT confirmed_flush_lsn >= pg_current_wal_insert_lsn() - 100000 FROM pg_replication_slots WHERE slot_name = 'loom_bc_a'")" = t ]; do sleep 1; done
node bc_c bc_c 18393
ready 18393
grep -o "Bootstrap completed: .*" "$work/bc_c.log"
took=$(grep -o "in [0-9.]* s ([0-9]* rows/s)" "$work/bc_c.log" | head -1)
kill "${pids[@]}"; wait 2>/dev/null || true; pids=()

# baseline: PostgreSQL's initial table synchronisation of the same rows
p -d bc_dst -c "CREATE SCHEMA loom"
pg_dump -h 127.0.0.1 -U postgres -s -n loom -t loom.nodes -t loom.edges bc_a | sed "/CREATE TRIGGER/d" | p -d bc_dst >/dev/null
p -d bc_a -c "CREATE PUBLICATION bc_pub FOR TABLE loom.nodes, loom.edges" -c "SELECT pg_create_logical_replication_slot('bc_sub', 'pgoutput')" >/dev/null
start=$(date +%s.%N)
p -d bc_dst -c "CREATE SUBSCRIPTION bc_sub CONNECTION 'host=127.0.0.1 dbname=bc_a user=postgres' PUBLICATION bc_pub WITH (create_slot = false, slot_name = 'bc_sub', copy_data = true)"
until [ "$(p -d bc_dst -c "SELECT count(*) FILTER (WHERE srsubstate = 'r') FROM pg_subscription_rel")" = 2 ]; do sleep 0.1; done
end=$(date +%s.%N)
rows=$(p -d bc_dst -c "SELECT (SELECT count(*) FROM loom.nodes) + (SELECT count(*) FROM loom.edges)")
echo "PostgreSQL initial sync (copy_data): $rows rows in $(echo "$end - $start" | bc) s ($(echo "$rows / ($end - $start)" | bc) rows/s)"
echo "bootstrap: $took"
