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
source src/test/scripts/start-cost-lib.sh
start_cost_init sjc_node 18496
start_cost first target/aot-app >/dev/null # the schema, the slot
for _ in $(seq 1 "$pairs"); do
  start_cost signed target/aot-signed
  start_cost unsigned target/aot-app
done
start_cost_medians signed unsigned
