#!/usr/bin/env bash
# A receiver whose heap is too small for a burst, with -XX:+ExitOnOutOfMemoryError and a supervisor that
# starts it again (as systemd or Kubernetes would): node A and node B (target/quarkus-app, the machine's
# PostgreSQL 15 at 127.0.0.1:5432 and Mosquitto at 127.0.0.1:1883, debounce 0), 100 transactions of 1,000
# upserts committed on A at once; B runs with HEAP (default 48m, -XX:+UseSerialGC). Prints each exit of B
# with the rows it held then, and the time until B holds all 100,000 rows and how many restarts it took.
# Without the option (NO_EXIT=1) a B that ran out of memory stays up and stops taking changes: the script
# then reports how many rows B holds after LIMIT seconds.
# Usage: src/test/scripts/heap-burst.sh [HEAP, default 48m] [LIMIT seconds, default 150]
set -uo pipefail
cd "$(dirname "$0")/../../.."
heap=${1:-48m}
limit=${2:-150}
app=target/quarkus-app/quarkus-run.jar
[ -f "$app" ] || { echo "no $app: mvn package first" >&2; exit 1; }
exit_opt="-XX:+ExitOnOutOfMemoryError"
[ -n "${NO_EXIT:-}" ] && exit_opt=""
work=$(mktemp -d)
p() { psql -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
dropdb() {
  for _ in $(seq 50); do
    [ "$(p -d postgres -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'loom_$1' AND active")" = 0 ] && break
    sleep 0.2
  done
  p -d postgres -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'loom_$1'" >/dev/null 2>&1
  p -d postgres -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" >/dev/null 2>&1
}
node() { # id port jvm-options...
  local id=$1 port=$2
  shift 2
  java "$@" -Dloom.node-id="$id" -Dloom.mesh="hb-$$" -Dloom.embedded.postgres=false -Dloom.embedded.broker=false \
    -Dloom.api.auth.enabled=false -Dloom.sync.bootstrap=false -Dloom.sync.anti-entropy.interval=0 -Dloom.debounce=0 \
    -Dquarkus.datasource.reactive.url="postgresql://127.0.0.1:5432/$id" -Dquarkus.http.port="$port" \
    -jar "$app" >>"$work/$id.log" 2>&1 &
  echo $!
}
ready() { for _ in $(seq 300); do curl -sf "localhost:$1/q/health/ready" >/dev/null 2>&1 && return; sleep 0.2; done; }
rows() { p -d hb_b -c "SELECT count(*) FROM loom.nodes" 2>/dev/null; }
pa="" pb=""
cleanup() { kill $pa $pb 2>/dev/null; wait 2>/dev/null; dropdb hb_a; dropdb hb_b; rm -rf "$work"; }
trap cleanup EXIT
dropdb hb_a; dropdb hb_b
p -d postgres -c "CREATE DATABASE hb_a" >/dev/null
p -d postgres -c "CREATE DATABASE hb_b" >/dev/null
b_opts=(-Xmx"$heap" -XX:+UseSerialGC $exit_opt)
pa=$(node hb_a 18611 -Xmx256m)
pb=$(node hb_b 18612 "${b_opts[@]}")
ready 18611; ready 18612
p -d hb_a -c "DO \$\$ BEGIN FOR b IN 0..99 LOOP
  INSERT INTO loom.nodes (id, type, properties)
  SELECT 'y-' || g, 'Bench', jsonb_build_object('g', g, 'payload', 'abcdefghijklmnopqrstuvwxyz')
  FROM generate_series(b * 1000 + 1, b * 1000 + 1000) g ON CONFLICT (id) DO UPDATE SET properties = EXCLUDED.properties;
  COMMIT; END LOOP; END \$\$"
t0=$(date +%s)
restarts=0
while [ "$(rows)" != 100000 ] && [ $(($(date +%s) - t0)) -lt "$limit" ]; do
  if ! kill -0 "$pb" 2>/dev/null; then
    restarts=$((restarts + 1))
    echo "B exited after $(($(date +%s) - t0)) s holding $(rows) rows; starting it again"
    pb=$(node hb_b 18612 "${b_opts[@]}")
  fi
  sleep 0.5
done
echo "B (-Xmx$heap ${exit_opt:-without -XX:+ExitOnOutOfMemoryError}) holds $(rows) of 100000 rows after $(($(date +%s) - t0)) s;" \
  "restarts: $restarts; OutOfMemoryError lines in its log: $(grep -c 'OutOfMemoryError' "$work/hb_b.log")"
