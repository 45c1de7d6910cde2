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
app=target/aot-app
[ -f "$app/app.aot" ] || bash jvm-build/aot-cache.sh --no-build "$app" >/dev/null
source src/test/scripts/start-cost-lib.sh
start_cost_init fsc_node 18494
start_cost first "$app" >/dev/null # the schema, the slot
for _ in $(seq 1 "$pairs"); do
  start_cost flyway "$app"
  start_cost none "$app" -Dquarkus.flyway.migrate-at-start=false
done
start_cost_medians flyway none
