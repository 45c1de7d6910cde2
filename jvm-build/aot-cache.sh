#!/usr/bin/env bash
# Builds the node as an aot-jar and trains a JDK 25 AOT cache for it (JDK 25 and later; the JVM path only).
#
#   jvm-build/aot-cache.sh                 # build target/aot-app, train target/aot-app/app.aot
#   jvm-build/aot-cache.sh --no-build DIR  # train the aot-jar already in DIR (e.g. where it is installed)
#
# Then run it from where it was trained (the cache names the jars by path, and the JVM ignores it, with a
# warning, when they moved or changed):   cd target/aot-app && $JAVA25 -XX:AOTCache=app.aot -jar quarkus-run.jar
# (add -XX:TieredStopAtLevel=1 -XX:+UseSerialGC for the fastest start: docs/operations.md, "Faster start").
#
# The training run is a throwaway node: the embedded PostgreSQL and broker in a temporary directory, free
# ports, a mesh of its own, some writes and reads through the REST API, then a clean stop (the JVM writes
# the cache as it exits). Nothing reaches your graph or your mesh. JAVA25 names the JDK 25+ `java`
# (default: /usr/lib/jvm/temurin-25-jdk-amd64/bin/java, else `java` on the PATH if it is 25 or later).
# AOT_TRAINING_OPTS adds JVM options to the training run.
set -euo pipefail
cd "$(dirname "$0")/.."

build=true
if [[ "${1:-}" == "--no-build" ]]; then
  build=false
  shift
fi
app_dir="$(realpath -m "${1:-target/aot-app}")"

java25="${JAVA25:-/usr/lib/jvm/temurin-25-jdk-amd64/bin/java}"
if [[ ! -x "$java25" ]]; then
  java25="$(command -v java)"
fi
version="$("$java25" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
if [[ "${version%%.*}" -lt 25 ]]; then
  echo "aot-cache: $java25 is Java $version; the AOT cache needs JDK 25 or later (set JAVA25)" >&2
  exit 1
fi

if $build; then
  mvn -B -ntp package -DskipTests \
    -Dquarkus.package.jar.type=aot-jar -Dquarkus.package.output-directory="$(basename "$app_dir")"
fi
[[ -f "$app_dir/quarkus-run.jar" ]] || { echo "aot-cache: no $app_dir/quarkus-run.jar" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
work="$(mktemp -d)"
http="$(free_port)"
node_pid=""
cleanup() {
  [[ -n "$node_pid" ]] && kill "$node_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

rm -f "$app_dir/app.aot"
echo "aot-cache: training run of $app_dir with $java25 (log: $work/node.log)"
(cd "$work" && exec "$java25" -Xmx256m ${AOT_TRAINING_OPTS:-} -XX:AOTCacheOutput="$app_dir/app.aot" \
  -Dloom.node-id=aot-training -Dloom.mesh="aot-training-$$" -Dquarkus.http.port="$http" \
  -Dloom.api.auth.enabled=false \
  -Dloom.embedded.postgres.port="$(free_port)" -Dloom.embedded.broker.port="$(free_port)" \
  -jar "$app_dir/quarkus-run.jar" >"$work/node.log" 2>&1) &
node_pid=$!

api="http://127.0.0.1:$http"
for _ in $(seq 1 600); do
  curl -sf -o /dev/null "$api/q/health/ready" && break
  kill -0 "$node_pid" 2>/dev/null || { tail -30 "$work/node.log" >&2; exit 1; }
  sleep 0.2
done
curl -sf -o /dev/null "$api/q/health/ready" || { echo "aot-cache: the node did not get ready" >&2; exit 1; }

# what a node does in its first minutes: writes, reads, lists, an edge, the status and the metrics
for i in $(seq 1 100); do
  curl -sf -o /dev/null -X PUT -H 'Content-Type: application/json' \
    -d "{\"type\":\"Training\",\"properties\":{\"n\":$i}}" "$api/api/nodes/t$i"
  curl -sf -o /dev/null "$api/api/nodes/t$i"
done
curl -sf -o /dev/null -X PUT -H 'Content-Type: application/json' \
  -d '{"type":"NEXT","source":"t1","target":"t2","properties":{}}' "$api/api/edges/e1"
curl -sf -o /dev/null "$api/api/nodes?type=Training"
curl -sf -o /dev/null "$api/api/sync/status"
curl -sf -o /dev/null "$api/q/metrics" || true

kill -TERM "$node_pid"
wait "$node_pid" || true
node_pid=""
[[ -f "$app_dir/app.aot" ]] || { tail -30 "$work/node.log" >&2; echo "aot-cache: no cache written" >&2; exit 1; }
echo "aot-cache: wrote $app_dir/app.aot ($(du -h "$app_dir/app.aot" | cut -f1))"
echo "aot-cache: run it with: cd $app_dir && $java25 -XX:AOTCache=app.aot -jar quarkus-run.jar"
echo "aot-cache: fastest start (devices, serverless): add -XX:TieredStopAtLevel=1 -XX:+UseSerialGC (docs/operations.md)"
