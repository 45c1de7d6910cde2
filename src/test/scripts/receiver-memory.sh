#!/usr/bin/env bash
# The receiving node's resident memory after three loads (LOADS) of 100,000 upserts, for each set of JVM options
# given: node A (-Xmx256m) and, per variant, a new node B (target/quarkus-app, the machine's PostgreSQL 15 at
# 127.0.0.1:5432 and Mosquitto at 127.0.0.1:1883, debounce 0); each load commits 100 transactions of 1,000
# upserts on A and waits until B holds the last row. Prints the rows/s of each load and B's RSS when ready
# (idle) and after the loads, and the CPU per row of B's and A's JVMs over the loads and over
# the last one. A variant is "label|options"; MALLOC=2 among the options runs B with
# MALLOC_ARENA_MAX=2. SENDER_OPTS adds JVM options to node A.
# Usage: src/test/scripts/receiver-memory.sh "g1-256|-Xmx256m" "serial-64|-Xmx64m -XX:+UseSerialGC" ...
set -uo pipefail
cd "$(dirname "$0")/../../.."
APP=target/quarkus-app/quarkus-run.jar
p() { psql -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
dropdb() { for _ in $(seq 50); do [ "$(p -d postgres -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'loom_$1' AND active")" = 0 ] && break; sleep 0.2; done; p -d postgres -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'loom_$1'" >/dev/null 2>&1; p -d postgres -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" >/dev/null; }
node() { # id port opts...
  local id=$1 port=$2; shift 2
  local envs=()
  case "$*" in *MALLOC=2*) envs=(env MALLOC_ARENA_MAX=2);; esac
  set -- $(sed 's/MALLOC=2//' <<<"$*")
  "${envs[@]}" java -Xmx256m "$@" -Dloom.node-id=$id -Dloom.mesh=rm-$$ -Dloom.embedded.postgres=false -Dloom.embedded.broker=false \
    -Dloom.api.auth.enabled=false -Dloom.sync.bootstrap=false -Dloom.sync.anti-entropy.interval=0 -Dloom.debounce=0 \
    -Dquarkus.datasource.reactive.url=postgresql://127.0.0.1:5432/$id -Dquarkus.http.port=$port -jar $APP >> "${TMPDIR:-/tmp}/receiver-memory-$id.log" 2>&1 &
  echo $!
}
ticks=$(getconf CLK_TCK)
loads=${LOADS:-3}
cpu() { awk '{print $14 + $15}' /proc/$1/stat; } # user + system time of a process, in clock ticks
ready() { until curl -sf localhost:$1/q/health/ready >/dev/null 2>&1; do sleep 0.2; done; }
dropdb rss_a; p -d postgres -c "CREATE DATABASE rss_a" >/dev/null
pa=$(node rss_a 18601 ${SENDER_OPTS:-}); ready 18601
n=0
for v in "$@"; do
  label=${v%%|*}; opts=${v#*|}
  dropdb rss_b; p -d postgres -c "CREATE DATABASE rss_b" >/dev/null
  pb=$(node rss_b 18602 $opts); ready 18602
  idle=$(awk '/VmRSS/{print int($2/1024)}' /proc/$pb/status)
  cpu0=$(cpu $pb); cpua0=$(cpu $pa)
  rates=""
  for r in $(seq 1 $loads); do
    n=$((n+1)); pre="x$n-"
    [ "$r" != "$loads" ] || { lastb=$(cpu $pb); lasta=$(cpu $pa); }
    t0=$(date +%s%N)
    p -d rss_a -c "DO \$\$ BEGIN FOR b IN 0..99 LOOP INSERT INTO loom.nodes (id, type, properties) SELECT '$pre' || g, 'Bench', jsonb_build_object('g', g, 'payload', 'abcdefghijklmnopqrstuvwxyz') FROM generate_series(b*1000+1, b*1000+1000) g ON CONFLICT (id) DO UPDATE SET properties = EXCLUDED.properties; COMMIT; END LOOP; END \$\$"
    until [ "$(p -d rss_b -c "SELECT count(*) FROM loom.nodes WHERE id = '${pre}100000'")" = 1 ]; do sleep 0.05; done
    rates="$rates $((100000 * 1000000000 / ($(date +%s%N) - t0)))"
  done
  rss=$(awk '/VmRSS/{print int($2/1024)}' /proc/$pb/status)
  per_row() { echo $(( ($1 - $2) * 1000000 / ticks / $3 )); }
  echo "$label rows/s:$rates  RSS idle ${idle} MiB, after ${rss} MiB  JVM CPU per row, core-µs:" \
    "B $(per_row "$(cpu $pb)" "$cpu0" $((loads * 100000))) (last load $(per_row "$(cpu $pb)" "$lastb" 100000))," \
    "A $(per_row "$(cpu $pa)" "$cpua0" $((loads * 100000))) (last load $(per_row "$(cpu $pa)" "$lasta" 100000))"
  kill $pb; wait $pb 2>/dev/null
done
kill $pa; wait $pa 2>/dev/null
dropdb rss_a; dropdb rss_b
