#!/usr/bin/env bash
# What a signed jar on the class path costs a node started with the JDK 25 AOT cache: the aot-jar in
# target/aot-app (mvn -Pbench package, or jvm-build/aot-cache.sh), as the build packages it (Bouncy Castle
# without its signature, quarkus.class-loading.removed-resources), against a copy of it in target/aot-signed
# with Bouncy Castle's jar as Maven Central ships it (signed). Each gets a cache trained by
# jvm-build/aot-cache.sh, then both are started PAIRS times, interleaved, on a database of the machine's
# PostgreSQL (127.0.0.1:5432) with its Mosquitto (127.0.0.1:1883). Prints, per start, the time from launch
# to /q/health/ready answering 200 and Quarkus' own "started in"; then medians.
# Usage: src/test/scripts/signed-jar-start-cost.sh [PAIRS, default 6]
set -euo pipefail
cd "$(dirname "$0")/../../.."
pairs=${1:-6}
java25="${JAVA25:-/usr/lib/jvm/temurin-25-jdk-amd64/bin/java}"
[ -f target/aot-app/quarkus-run.jar ] || { echo "no target/aot-app: run jvm-build/aot-cache.sh first" >&2; exit 1; }
bc=$(ls target/aot-app/lib/main/ | grep '^org.bouncycastle.bcprov-' | head -1)
version=$(sed -E 's/^org\.bouncycastle\.bcprov-jdk18on-(.*)\.jar$/\1/' <<<"$bc")
signed_jar="$HOME/.m2/repository/org/bouncycastle/bcprov-jdk18on/$version/bcprov-jdk18on-$version.jar"
[ -f "$signed_jar" ] || { echo "no $signed_jar" >&2; exit 1; }
rm -rf target/aot-signed
cp -a target/aot-app target/aot-signed
cp "$signed_jar" "target/aot-signed/lib/main/$bc"
bash jvm-build/aot-cache.sh --no-build target/aot-app >/dev/null
bash jvm-build/aot-cache.sh --no-build target/aot-signed >/dev/null
p() { psql -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
cleanup() {
  p -d postgres -c "SELECT pg_drop_replication_slot('loom_sjc_node') WHERE EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = 'loom_sjc_node')" >/dev/null 2>&1 || true
  p -d postgres -c "DROP DATABASE IF EXISTS sjc_node WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT
cleanup
p -d postgres -c "CREATE DATABASE sjc_node" >/dev/null
results=$(mktemp)
start() { # $1 label, $2 app directory; prints "label ms started_in_s"
  local label=$1 app=$2 log t0 pid ms
  log=$(mktemp)
  t0=$(date +%s%N)
  (cd "$app" && exec "$java25" -XX:AOTCache=app.aot -Xmx256m -Dloom.node-id=sjc_node -Dloom.mesh=sjc-$$ \
    -Dloom.embedded.postgres=false -Dloom.embedded.broker=false -Dloom.api.auth.enabled=false \
    -Dloom.sync.bootstrap=false -Dloom.sync.anti-entropy.interval=0 \
    -Dquarkus.datasource.reactive.url=postgresql://127.0.0.1:5432/sjc_node -Dquarkus.http.port=18496 \
    -jar quarkus-run.jar) >"$log" 2>&1 &
  pid=$!
  until curl -sf localhost:18496/q/health/ready >/dev/null 2>&1; do sleep 0.02; done
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  kill $pid; wait $pid 2>/dev/null || true
  echo "$label $ms $(grep -o 'started in [0-9.]*' "$log" | awk '{print $3}')"
  rm -f "$log"
}
start first target/aot-app >/dev/null # the schema, the slot
for _ in $(seq 1 "$pairs"); do
  start signed target/aot-signed | tee -a "$results"
  start unsigned target/aot-app | tee -a "$results"
done
python3 - "$results" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
for label in ("signed", "unsigned"):
    ms = [float(r[1]) for r in rows if r[0] == label]
    si = [float(r[2]) for r in rows if r[0] == label]
    print(f"{label:9s} to ready {statistics.median(ms):7.0f} ms (spread {max(ms)-min(ms):.0f})"
          f"   started in {statistics.median(si):.3f} s (spread {max(si)-min(si):.3f})")
PY
rm -f "$results"
