#!/usr/bin/env bash
# Where the CPU of two syncing nodes goes, per synced row: after a warm-up, LOADS loads (default 3) of 100
# transactions x 1,000 upserts on node A, each waited for on B; per load the CPU (core-µs per row) of A's and
# B's WAL senders, B's apply backend and both JVMs, and, with perf installed, the system calls per row of the
# two WAL senders; then the WAL records per row that A's writes and B's apply put in the server's WAL
# (pg_waldump over one load, counted by database). The machine's PostgreSQL 15 and Mosquitto, as
# two-nodes-lib.sh; LOOM_JAR=path measures another build. docs/benchmarks.md, "Sync throughput, sustained rate, CPU per row: what bounds them".
# Usage: src/test/scripts/wal-sender-cost.sh [LOADS]
set -euo pipefail
cd "$(dirname "$0")/../../.."
. src/test/scripts/two-nodes-lib.sh
loads=${1:-3}
two_nodes_init walcost
two_nodes_start a 18631
two_nodes_start b 18632
ja=${pids[0]}; jb=${pids[1]}
ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; } # user + system time, clock ticks
n=0
load() { # one load; returns when B holds its last row
  n=$((n + 1)); local pre="l$n-"
  p -d loom_walcost_a -c "DO \$\$ BEGIN FOR b IN 0..99 LOOP INSERT INTO loom.nodes (id, type, properties)
    SELECT '$pre' || g, 'Bench', jsonb_build_object('g', g, 'payload', 'abcdefghijklmnopqrstuvwxyz')
    FROM generate_series(b * 1000 + 1, b * 1000 + 1000) g ON CONFLICT (id) DO UPDATE SET properties = EXCLUDED.properties;
    COMMIT; END LOOP; END \$\$"
  until [ "$(p -d loom_walcost_b -c "SELECT count(*) FROM loom.nodes WHERE id = '${pre}100000'")" = 1 ]; do sleep 0.05; done
}
load # warm-up
backend() { p -d postgres -c "SELECT pid FROM pg_stat_activity WHERE datname = '$1' AND $2"; }
wa=$(backend loom_walcost_a "backend_type = 'walsender'"); wb=$(backend loom_walcost_b "backend_type = 'walsender'")
ab=$(backend loom_walcost_b "application_name = 'loom-apply'")
has_perf=$(command -v perf >/dev/null && perf stat -e raw_syscalls:sys_enter true >/dev/null 2>&1 && echo yes || true)
per_row() { echo $(( ($1 - $2) * 1000000 / ticks / 100000 )); }
for _ in $(seq 1 "$loads"); do
  c0=($(cpu "$wa") $(cpu "$wb") $(cpu "$ab") $(cpu "$ja") $(cpu "$jb")); t0=$(date +%s%N)
  if [ -n "$has_perf" ]; then
    perf stat -e raw_syscalls:sys_enter -p "$wa" -o "$work/sa" & sa=$!
    perf stat -e raw_syscalls:sys_enter -p "$wb" -o "$work/sb" & sb=$!
  fi
  load
  rate=$((100000 * 1000000000 / ($(date +%s%N) - t0)))
  line="$rate rows/s; core-µs per row: A's WAL sender $(per_row "$(cpu "$wa")" "${c0[0]}"), B's WAL sender"
  line="$line $(per_row "$(cpu "$wb")" "${c0[1]}"), B's apply backend $(per_row "$(cpu "$ab")" "${c0[2]}"), A's JVM"
  line="$line $(per_row "$(cpu "$ja")" "${c0[3]}"), B's JVM $(per_row "$(cpu "$jb")" "${c0[4]}")"
  if [ -n "$has_perf" ]; then
    kill -INT "$sa" "$sb"; wait "$sa" "$sb" 2>/dev/null || true
    line="$line; system calls per row: A's WAL sender $(awk '/raw_sys/{printf "%.2f", $1 / 100000}' "$work/sa"),"
    line="$line B's $(awk '/raw_sys/{printf "%.2f", $1 / 100000}' "$work/sb")"
  fi
  echo "$line"
done
waldump=$(ls /usr/lib/postgresql/*/bin/pg_waldump | tail -1)
pg_wal="$(p -d postgres -c "SHOW data_directory")/pg_wal"
if [ -r "$pg_wal" ]; then
  l0=$(p -d postgres -c "SELECT pg_current_wal_lsn()"); load; sleep 1; l1=$(p -d postgres -c "SELECT pg_current_wal_lsn()")
  "$waldump" -p "$pg_wal" -s "$l0" -e "$l1" > "$work/wal" 2>/dev/null || true
  for db in a b; do
    oid=$(p -d postgres -c "SELECT oid FROM pg_database WHERE datname = 'loom_walcost_$db'")
    echo "WAL records per row, node $db's database: $(grep -c "/$oid/" "$work/wal" | awk '{printf "%.2f", $1 / 100000}')" \
      "($(grep "/$oid/" "$work/wal" | sed -E 's/.*rmgr: ([A-Za-z0-9]+) .*desc: ([A-Z_+0-9a-z]+).*/\1 \2/' | sort | uniq -c \
        | sort -rn | awk '$1 >= 1000 {printf "%s%s %s %.2f", sep, $2, $3, $1 / 100000; sep = ", "}'))"
  done
else
  echo "WAL records: $pg_wal is not readable here (run as the postgres user or root)"
fi
