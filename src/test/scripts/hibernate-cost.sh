#!/usr/bin/env bash
# What Hibernate Reactive with Panache costs the node (issue 15's rule: keep it only if start-to-ready grows by
# less than 10 % and RSS by less than 10 %). Builds the node twice — as it is, and with -Phibernate-trial
# (quarkus-hibernate-reactive-panache and loom.conflicts mapped as an entity, src/trial/hibernate) — then starts
# each ROUNDS times, alternating, on an existing database of the machine's PostgreSQL (127.0.0.1:5432) with
# the machine's Mosquitto (127.0.0.1:1883): time from the JVM's launch to /q/health/ready answering 200, and the
# JVM's RSS once ready and after 200 REST reads. Prints medians and ratios.
# Usage: src/test/scripts/hibernate-cost.sh [ROUNDS, default 5]
set -euo pipefail
cd "$(dirname "$0")/../../.."
rounds=${1:-5}
work=target/hibernate-cost; rm -rf "$work"; mkdir -p "$work"
p() { psql -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
mvn -B -ntp -q package -DskipTests -Dspotless.check.skip=true
cp -r target/quarkus-app "$work/plain"
mvn -B -ntp -q package -DskipTests -Dspotless.check.skip=true -Phibernate-trial
cp -r target/quarkus-app "$work/trial"
mvn -B -ntp -q package -DskipTests -Dspotless.check.skip=true # leave target/ as the product
cleanup() {
  p -d postgres -c "SELECT pg_drop_replication_slot('loom_hc_node') WHERE EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = 'loom_hc_node')" >/dev/null 2>&1 || true
  p -d postgres -c "DROP DATABASE IF EXISTS hc_node WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT
cleanup
p -d postgres -c "CREATE DATABASE hc_node" >/dev/null
start() { # $1 variant; prints "ms rss_ready_kib rss_after_kib"
  local t0 pid ms
  t0=$(date +%s%N)
  java -Xmx512m -Dloom.node-id=hc_node -Dloom.mesh=hc-$$ -Dloom.embedded.postgres=false -Dloom.embedded.broker=false -Dloom.api.auth.enabled=false \
    -Dquarkus.datasource.reactive.url=postgresql://127.0.0.1:5432/hc_node -Dquarkus.http.port=18491 \
    -jar "$work/$1/quarkus-run.jar" >>"$work/$1.log" 2>&1 &
  pid=$!
  until curl -sf localhost:18491/q/health/ready >/dev/null; do sleep 0.02; done
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  local ready; ready=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
  for _ in $(seq 1 200); do curl -sf localhost:18491/api/nodes?limit=10 >/dev/null; done
  if [ "$1" = trial ]; then curl -sf localhost:18491/api/trial/conflicts >/dev/null; fi
  local after; after=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
  kill $pid; wait $pid 2>/dev/null || true
  echo "$ms $ready $after"
}
start plain >/dev/null; start trial >/dev/null # first starts: the schema, the slot, the class caches of the OS
for r in $(seq 1 "$rounds"); do
  for v in plain trial; do
    echo "$v $(start $v)" | tee -a "$work/results.txt"
  done
done
python3 - "$work/results.txt" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
def col(v, i): return [float(r[i]) for r in rows if r[0] == v]
for i, name in [(1, "start to ready, ms"), (2, "RSS when ready, MiB"), (3, "RSS after 200 reads, MiB")]:
    scale = 1 if i == 1 else 1 / 1024
    a = [x * scale for x in col("plain", i)]; b = [x * scale for x in col("trial", i)]
    print(f"{name:28s} SQL client {statistics.median(a):8.1f} (spread {max(a)-min(a):.1f})"
          f"   Hibernate Reactive {statistics.median(b):8.1f} (spread {max(b)-min(b):.1f})"
          f"   ratio {statistics.median(b)/statistics.median(a):.3f}")
PY
