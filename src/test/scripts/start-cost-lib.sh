# Shared by the start-cost scripts (sourced, not run): a database of the machine's PostgreSQL
# (127.0.0.1:5432) for a node started with the JDK 25 AOT cache against it and the machine's Mosquitto,
# interleaved starts timed to /q/health/ready, and their medians.
#   start_cost_init NAME PORT   # the database NAME (made anew, dropped with its slot on exit) and the HTTP port
#   start_cost LABEL APP_DIR [JVM options...]   # one start: prints "LABEL ms started_in_s", appended to results
#   start_cost_medians LABEL...                 # medians and spreads of the results per label
java25="${JAVA25:-/usr/lib/jvm/temurin-25-jdk-amd64/bin/java}"
sc_p() { psql -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
sc_cleanup() {
  sc_p -d postgres -c "SELECT pg_drop_replication_slot('loom_$sc_name') WHERE EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = 'loom_$sc_name')" >/dev/null 2>&1 || true
  sc_p -d postgres -c "DROP DATABASE IF EXISTS $sc_name WITH (FORCE)" >/dev/null 2>&1 || true
  [ -z "$sc_results" ] || rm -f "$sc_results"
}
start_cost_init() {
  sc_name=$1 sc_port=$2 sc_results=""
  trap sc_cleanup EXIT
  sc_cleanup
  sc_results=$(mktemp)
  sc_p -d postgres -c "CREATE DATABASE $sc_name" >/dev/null
}
start_cost() {
  local label=$1 app=$2 log t0 pid ms
  shift 2
  log=$(mktemp)
  t0=$(date +%s%N)
  (cd "$app" && exec "$java25" -XX:AOTCache=app.aot -Xmx256m -Dloom.node-id="$sc_name" -Dloom.mesh="$sc_name-$$" \
    -Dloom.embedded.postgres=false -Dloom.embedded.broker=false -Dloom.api.auth.enabled=false \
    -Dloom.sync.bootstrap=false -Dloom.sync.anti-entropy.interval=0 \
    -Dquarkus.datasource.reactive.url="postgresql://127.0.0.1:5432/$sc_name" -Dquarkus.http.port="$sc_port" "$@" \
    -jar quarkus-run.jar) >"$log" 2>&1 &
  pid=$!
  until curl -sf "localhost:$sc_port/q/health/ready" >/dev/null 2>&1; do sleep 0.02; done
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  kill $pid; wait $pid 2>/dev/null || true
  echo "$label $ms $(grep -o 'started in [0-9.]*' "$log" | awk '{print $3}')" | tee -a "$sc_results"
  rm -f "$log"
}
start_cost_medians() {
  python3 - "$sc_results" "$@" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
for label in sys.argv[2:]:
    ms = [float(r[1]) for r in rows if r[0] == label]
    si = [float(r[2]) for r in rows if r[0] == label]
    print(f"{label:9s} to ready {statistics.median(ms):7.0f} ms (spread {max(ms)-min(ms):.0f})"
          f"   started in {statistics.median(si):.3f} s (spread {max(si)-min(si):.3f})")
PY
}
