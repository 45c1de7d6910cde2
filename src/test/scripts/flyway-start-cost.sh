#!/usr/bin/env bash
# What running Flyway at every start costs a node started with the JDK 25 AOT cache: the aot-jar in
# target/aot-app (mvn -Pbench package, or jvm-build/aot-cache.sh) trained by jvm-build/aot-cache.sh, started
# PAIRS times each way, interleaved, on a database of the machine's PostgreSQL (127.0.0.1:5432) with its
# Mosquitto (127.0.0.1:1883), its schema already up to date: as the node starts (Flyway checks the schema
# at every start) and with -Dquarkus.flyway.migrate-at-start=false (no Flyway at all: the most a skip of
# Flyway on restarts could save). Prints, per start, the time from launch to /q/health/ready answering 200
# and Quarkus' own "started in"; then medians.
# Usage: src/test/scripts/flyway-start-cost.sh [PAIRS, default 6]
set -euo pipefail
cd "$(dirname "$0")/../../.."
pairs=${1:-6}
java25="${JAVA25:-/usr/lib/jvm/temurin-25-jdk-amd64/bin/java}"
app=target/aot-app
[ -f "$app/app.aot" ] || bash jvm-build/aot-cache.sh --no-build "$app" >/dev/null
p() { psql -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
cleanup() {
  p -d postgres -c "SELECT pg_drop_replication_slot('loom_fsc_node') WHERE EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = 'loom_fsc_node')" >/dev/null 2>&1 || true
  p -d postgres -c "DROP DATABASE IF EXISTS fsc_node WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT
cleanup
p -d postgres -c "CREATE DATABASE fsc_node" >/dev/null
results=$(mktemp)
start() { # $1 label, then extra options; prints "label ms started_in_s"
  local label=$1 log t0 pid ms
  shift
  log=$(mktemp)
  t0=$(date +%s%N)
  (cd "$app" && exec "$java25" -XX:AOTCache=app.aot -Xmx256m -Dloom.node-id=fsc_node -Dloom.mesh=fsc-$$ \
    -Dloom.embedded.postgres=false -Dloom.embedded.broker=false -Dloom.api.auth.enabled=false \
    -Dloom.sync.bootstrap=false -Dloom.sync.anti-entropy.interval=0 \
    -Dquarkus.datasource.reactive.url=postgresql://127.0.0.1:5432/fsc_node -Dquarkus.http.port=18494 "$@" \
    -jar quarkus-run.jar) >"$log" 2>&1 &
  pid=$!
  until curl -sf localhost:18494/q/health/ready >/dev/null 2>&1; do sleep 0.02; done
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  kill $pid; wait $pid 2>/dev/null || true
  echo "$label $ms $(grep -o 'started in [0-9.]*' "$log" | awk '{print $3}')"
  rm -f "$log"
}
start first >/dev/null # the schema, the slot
for _ in $(seq 1 "$pairs"); do
  start flyway | tee -a "$results"
  start none -Dquarkus.flyway.migrate-at-start=false | tee -a "$results"
done
python3 - "$results" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
for label in ("flyway", "none"):
    ms = [float(r[1]) for r in rows if r[0] == label]
    si = [float(r[2]) for r in rows if r[0] == label]
    print(f"{label:8s} to ready {statistics.median(ms):7.0f} ms (spread {max(ms)-min(ms):.0f})"
          f"   started in {statistics.median(si):.3f} s (spread {max(si)-min(si):.3f})")
PY
rm -f "$results"
