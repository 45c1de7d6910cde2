#!/usr/bin/env bash
# Where the tail of the propagation latency comes from: nodes A and B on the machine's PostgreSQL 15
# (127.0.0.1:5432, user postgres) and Mosquitto (127.0.0.1:1883), debounce 0, anti-entropy off; pgbench
# commits a 10-row transaction into A every 10 ms (1,000 changes/s) for SECONDS after a 20 s warm-up,
# each row carrying its insert time; a trigger on B stamps its arrival. Prints the count, p50 and p99
# (ms, per row), the 15 slowest rows, and keeps both nodes' GC and safepoint logs (-Xlog:gc*,safepoint,
# wall-clock decorations) and the per-row latencies (lat.txt) in the directory it names, to set the
# slow rows beside the pauses. SQL_BOTH, if set, is run in both nodes' databases once they are ready (to try
# a schema setting, e.g. SQL_BOTH="ALTER INDEX loom.nodes_properties_idx SET (fastupdate = off)"). BUSY=N
# keeps N busy processes running (shell loops in a session of their own, as `stress-ng --cpu N` from
# another terminal; each ends by itself if this script dies) while the measured load runs: the latency
# under contention. Needs `mvn package` first.
# Usage: src/test/scripts/latency-tail.sh [SECONDS, default 30] [-D/-X options of both nodes...]
set -euo pipefail
cd "$(dirname "$0")/../../.."
secs=${1:-30}; shift || true
source src/test/scripts/two-nodes-lib.sh
two_nodes_init tail
two_nodes_start a 18191 -Xlog:gc*,safepoint:file=$work/a.gc:time,uptime -Dloom.sync.bootstrap=false "$@"
two_nodes_start b 18192 -Xlog:gc*,safepoint:file=$work/b.gc:time,uptime -Dloom.sync.bootstrap=false "$@"
[ -z "${SQL_BOTH:-}" ] || for n in a b; do p -d loom_tail_$n -c "$SQL_BOTH"; done
p -d loom_tail_b -c "ALTER TABLE loom.nodes ADD COLUMN bench_applied_at timestamptz" \
  -c "CREATE OR REPLACE FUNCTION public.bench_stamp_applied() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN NEW.bench_applied_at := clock_timestamp(); RETURN NEW; END \$\$" \
  -c "CREATE OR REPLACE TRIGGER zz_bench_applied BEFORE INSERT OR UPDATE ON loom.nodes FOR EACH ROW EXECUTE FUNCTION public.bench_stamp_applied()"
cat > $work/tx.sql <<'SQL'
INSERT INTO loom.nodes (id, type, properties) SELECT md5(random()::text), 'Bench', jsonb_build_object('t', clock_timestamp()) FROM generate_series(1, 10);
SQL
$pgbench -h 127.0.0.1 -U postgres -n -f $work/tx.sql -R 100 -T 20 loom_tail_a >/dev/null 2>&1   # warm-up
sleep 3
p -d loom_tail_b -c "TRUNCATE loom.nodes" 2>/dev/null || p -d loom_tail_b -c "SET loom.purge='on'; DELETE FROM loom.nodes"
busy=()
for _ in $(seq 1 "${BUSY:-0}"); do setsid sh -c "while kill -0 $$ 2>/dev/null; do :; done" & busy+=($!); done
start_at=$(date +%s.%N)
$pgbench -h 127.0.0.1 -U postgres -n -f $work/tx.sql -R 100 -T $secs loom_tail_a >/dev/null 2>&1
[ ${#busy[@]} -eq 0 ] || kill "${busy[@]}"
sleep 3
# each row's insert time (epoch s) and latency (ms), read once; the figures below come from it
p -d loom_tail_b -F ' ' -c "SELECT extract(epoch FROM t), round((extract(epoch FROM a - t) * 1000)::numeric, 3)
  FROM (SELECT (properties->>'t')::timestamptz t, max(bench_applied_at) a FROM loom.nodes
        WHERE bench_applied_at IS NOT NULL AND (properties->>'t')::timestamptz > to_timestamp($start_at) GROUP BY 1) x
  ORDER BY 1" > $work/lat.txt
python3 - "$work/lat.txt" <<'PY'
import datetime, statistics, sys
rows = [tuple(map(float, line.split())) for line in open(sys.argv[1]) if line.strip()]
ms = sorted(r[1] for r in rows)
q = statistics.quantiles(ms, n=100, method="inclusive")
print("rows, p50, p99 (ms, per row):")
print(len(ms), round(q[49], 2), round(q[98], 2))
print("slowest rows (inserted at, ms):")
for t, lat in sorted(rows, key=lambda r: -r[1])[:15]:
    print(datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%H:%M:%S.%f")[:-3], lat)
PY
keep=/tmp/loom-latency-tail-$$
cp -r "$work" "$keep"
echo "GC and safepoint logs (a.gc, b.gc), node logs and per-row latencies (lat.txt): $keep"
echo "young-GC pauses of A / B since they started: $(grep -c 'Pause Young.*ms' "$work/a.gc") / $(grep -c 'Pause Young.*ms' "$work/b.gc")"
