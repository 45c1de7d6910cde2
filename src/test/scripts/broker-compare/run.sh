#!/usr/bin/env bash
# Compares the embedded MQTT brokers a node could host: the node's own (loom, the default), Moquette 0.17
# and HiveMQ CE embedded 2025.5. For each: start time, throughput of 20,000 QoS 1 messages of 500 bytes to a persistent
# subscriber, the JVM's RSS after it, and what a persistent subscriber that was away gets after the broker's
# process is killed (SIGKILL-like halt) right after it acknowledged N messages. Usage: run.sh [rounds]
set -euo pipefail
cd "$(dirname "$0")"
rounds=${1:-3}
mvn -B -q -ntp compile dependency:build-classpath -Dmdep.outputFile=target/cp.txt
all=$(cat target/cp.txt)
# Moquette binds slf4j 1.7 to reload4j; HiveMQ casts the slf4j factory to logback's and needs slf4j 2
moquette="target/classes:$(tr ':' '\n' <<<"$all" | grep -v reload4j | paste -sd:)"
slf4j2=$(find ~/.m2/repository/org/slf4j/slf4j-api -name 'slf4j-api-2.0.*.jar' | sort -V | tail -1)
# the node's own broker from the node's classes (compile the node first: mvn -B compile) and its run-time class path
(cd ../../../.. && mvn -B -q -ntp dependency:build-classpath -Dmdep.includeScope=runtime -Dmdep.outputFile=target/broker-compare-cp.txt)
paho=$(tr ':' '\n' <<<"$all" | grep paho | paste -sd:)
loom="target/classes:$paho:../../../../target/classes:$(cat ../../../../target/broker-compare-cp.txt)"
hivemq="target/classes:$(tr ':' '\n' <<<"$all" | grep -v 'reload4j\|slf4j-api' | paste -sd:):$slf4j2"
data=$(mktemp -d)
for r in $(seq "$rounds"); do
  for b in loom moquette hivemq; do
    cp=${!b}
    rm -rf "$data/$b"
    timeout 150 java -Xmx512m -cp "$cp" cmp.Harness "$b" "$data/$b" throughput 20000 2>&1 | grep 'rate=' \
      || echo "$b: fewer than 20000 messages in 120 s"
  done
done
for b in loom moquette hivemq; do
  cp=${!b}
  rm -rf "$data/k-$b"
  java -cp "$cp" cmp.Harness "$b" "$data/k-$b" fill 900 2>&1 | grep published || true
  timeout 60 java -cp "$cp" cmp.Harness "$b" "$data/k-$b" drain 2>&1 | grep -E 'delivered|Exception' | head -1
done
rm -rf "$data"
