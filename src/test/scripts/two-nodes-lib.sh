# Shared by the two-node diagnostic scripts (sourced, not run): nodes A and B of the built fast-jar on the
# machine's PostgreSQL (127.0.0.1:5432, user postgres) and Mosquitto (127.0.0.1:1883), debounce 0,
# anti-entropy off, each on a new database loom_NAME_a / loom_NAME_b, dropped with its slot on exit.
#   two_nodes_init NAME          # sets work (a temporary directory, removed on exit), p (psql), pgbench, pids
#   two_nodes_start a|b PORT [JVM and -D options...]   # starts the node and waits until it is ready
# LOOM_JAR=path runs another build (default: target/quarkus-app/quarkus-run.jar of this checkout).
two_nodes_init() {
  tn_name=$1
  work=$(mktemp -d "/tmp/loom-$tn_name-XXXX")
  pgbench=$(ls /usr/lib/postgresql/*/bin/pgbench | tail -1)
  pids=()
  trap tn_cleanup EXIT
}
p() { psql -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
tn_cleanup() {
  for pid in "${pids[@]}"; do kill -CONT "$pid" 2>/dev/null; kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for n in a b; do
    p -d postgres -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = 'loom_${tn_name}_$n'" >/dev/null 2>&1 || true
    p -d postgres -c "DROP DATABASE IF EXISTS loom_${tn_name}_$n WITH (FORCE)" >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
two_nodes_start() {
  local n=$1 port=$2 db=loom_${tn_name}_$1; shift 2
  p -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
  mkdir -p "$work/$n"
  (cd "$work/$n" && exec java -Xmx256m -Dloom.node-id="$tn_name-$n" -Dloom.mesh="$tn_name-$$" -Dquarkus.http.port="$port" \
    -Dloom.api.auth.enabled=false -Dloom.embedded.postgres=false \
    -Dquarkus.datasource.reactive.url="postgresql://127.0.0.1:5432/$db" -Dloom.embedded.broker=false \
    -Dloom.mqtt.host=127.0.0.1 -Dloom.mqtt.port=1883 -Dloom.debounce=0 -Dloom.sync.anti-entropy.interval=0 \
    "$@" -jar "${LOOM_JAR:-$OLDPWD/target/quarkus-app/quarkus-run.jar}" > "$work/$n.log" 2>&1) &
  pids+=($!)
  for _ in $(seq 1 240); do curl -sf "localhost:$port/q/health/ready" >/dev/null && return; sleep 0.5; done
  echo "node $n not ready: $work/$n.log" >&2; exit 1
}
