#!/usr/bin/env bash
# How fast one writer commits one-row transactions into node A's graph while A syncs them to B, on the
# machine's PostgreSQL 15 (127.0.0.1:5432, user postgres) and Mosquitto (127.0.0.1:1883), debounce 0,
# anti-entropy off: pgbench, one connection, upserts of random ids into loom.nodes, offered at RATE/s.
# First with the nodes frozen (SIGSTOP: the writer and PostgreSQL alone), then with them syncing;
# each ROUNDS times, 15 s each, after a 30 s warm-up at 1,000/s. Prints the writer's commits/s and,
# for one 20 s run at 1,000/s, the CPU of each process per row (the PostgreSQL backends by node and
# application name: loom-capture is the node's WAL sender, loom-apply its apply session). Needs `mvn package` first.
# Usage: src/test/scripts/writer-under-sync.sh [RATE, default 2400] [ROUNDS, default 2] [-D options of node B...]
set -euo pipefail
cd "$(dirname "$0")/../../.."
rate=${1:-2400}; rounds=${2:-2}; shift $(( $# > 2 ? 2 : $# ))
source src/test/scripts/two-nodes-lib.sh
two_nodes_init writer
two_nodes_start a 18181
two_nodes_start b 18182 -Dloom.sync.bootstrap=false "$@"
cat > "$work/w.sql" <<'SQL'
\set g random(1, 100000000)
INSERT INTO loom.nodes (id, type, properties) VALUES ('w-' || :g, 'Bench', jsonb_build_object('g', :g)) ON CONFLICT (id) DO UPDATE SET properties = EXCLUDED.properties;
SQL
write() { "$pgbench" -h 127.0.0.1 -U postgres -n -f "$work/w.sql" -R "$1" -T "$2" -c 1 -j 1 loom_writer_a 2>&1 | awk '/^tps/ {printf "%.0f", $3}'; }
write 1000 30 >/dev/null
ticks() { local t=0 v; for pid in "$@"; do v=$(awk '{print $14+$15}' /proc/$pid/stat 2>/dev/null || echo 0); t=$((t + v)); done; echo $t; }
# the nodes' PostgreSQL backends and WAL senders, as "pid node:application_name"
backends() { p -d postgres -F' ' -c "SELECT pid, right(datname, 1) || ':' || application_name FROM pg_stat_activity WHERE datname IN ('loom_writer_a', 'loom_writer_b') AND application_name <> 'pgbench' AND pid <> pg_backend_pid()"; }
a=$(pgrep -f "loom.node-id=writer-a"); b=$(pgrep -f "loom.node-id=writer-b"); list=$(backends)
declare -A by0 by1
each() { local -n into=$1; while read -r pid name; do into[$name]=$(( ${into[$name]:-0} + $(ticks "$pid") )); done <<< "$list"; }
sum() { local -n from=$1; local t=0 v; for v in "${from[@]}"; do t=$((t + v)); done; echo $t; }
wa0=$(ticks $a); wb0=$(ticks $b); each by0
done_rows=$(write 1000 20)
wa1=$(ticks $a); wb1=$(ticks $b); each by1
pg0=$(sum by0); pg1=$(sum by1)
rows=$((done_rows * 20))
echo "CPU per row at 1,000 one-row commits/s (core-µs): node A $(( (wa1-wa0)*10000/rows )), node B $(( (wb1-wb0)*10000/rows )), the nodes' PostgreSQL backends and WAL senders $(( (pg1-pg0)*10000/rows ))"
for name in "${!by1[@]}"; do
  per=$(( (by1[$name] - by0[$name]) * 10000 / rows ))
  if [ "$per" -gt 0 ]; then echo "  of which node ${name%%:*}'s ${name#*:}: $per"; fi
done | sort
for r in $(seq 1 "$rounds"); do
  kill -STOP $a $b; frozen=$(write "$rate" 15); kill -CONT $a $b; sleep 10
  syncing=$(write "$rate" 15)
  echo "round $r, offered $rate/s: writer alone (nodes frozen) $frozen commits/s, syncing $syncing commits/s"
  sleep 5
done
