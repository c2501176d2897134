#!/usr/bin/env bash
# Installs what hanko needs, builds it with its tests, and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh -DHANKO_BUILD_TESTS=ON -DHANKO_WERROR=ON
cd build
# PostgreSQL is installed above: if the store tests cannot start a cluster,
# they fail instead of skipping.
export HANKO_REQUIRE_POSTGRES=1
ctest --output-on-failure -j"${HANKO_JOBS:-2}" --timeout 600
