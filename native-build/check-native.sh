#!/usr/bin/env bash
# Checks the native build as far as this machine can: Quarkus' real native build runs the GraalVM image
# builder (svm 25.0.4 from Maven Central, on Temurin 25) through build-time class initialization and the
# points-to analysis of the whole node, then stops; linking an executable needs a full GraalVM or Mandrel
# (build-native.sh). About 5 minutes and 2.5 GB. The partial toolchain lives beside the repository in
# ../shared/tools/native-image (or NATIVE_TOOLS=dir); its README says what a pass means and what it does not.
# The last line is the verdict; the exit status is 0 exactly when the analysis passed.
set -euo pipefail
cd "$(dirname "$0")/.."
tools="${NATIVE_TOOLS:-../shared/tools/native-image}"
if [ ! -x "$tools/check.sh" ] && [ ! -f "$tools/check.sh" ]; then
  echo "native check: no partial native-image toolchain at $tools (set NATIVE_TOOLS)" >&2
  exit 2
fi
bash "$tools/setup.sh" >/dev/null
exec bash "$tools/check.sh" "$PWD" "$@"
