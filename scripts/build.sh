#!/usr/bin/env bash
# Configures and builds hanko into ./build (binary: build/bin/hanko).
# Usage: scripts/build.sh [extra cmake arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS="${HANKO_JOBS:-2}"
cmake -S . -B build -DCMAKE_BUILD_TYPE="${HANKO_BUILD_TYPE:-RelWithDebInfo}" "$@"
cmake --build build -j"$JOBS"
