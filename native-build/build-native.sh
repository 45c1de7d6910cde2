#!/usr/bin/env bash
# Builds the GraalVM/Mandrel native binary of LoomDB Edge: target/loomdb-edge-*-runner.
# Needs a GraalVM or Mandrel with native-image on PATH (or GRAALVM_HOME), or a container runtime
# with -Dquarkus.native.container-build=true. Not verified on the development machines, which have neither.
# In a native binary, run with an external PostgreSQL (LOOM_EMBEDDED_POSTGRES=false: the embedded one is
# JVM-only); the node's own embedded broker runs in it (or LOOM_EMBEDDED_BROKER=false and LOOM_MQTT_HOST).
set -euo pipefail
cd "$(dirname "$0")/.."
exec mvn -B -Pnative package -DskipTests "$@"
