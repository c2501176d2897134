#!/usr/bin/env bash
# Installs what hanko needs, builds it, and starts the service on its embedded
# development defaults: a development PKI, an in-process development TSA and
# SQLite, all under ./var, listening on http://127.0.0.1:8080/.
# DEVELOPMENT ONLY: the dev PKI's keys are unencrypted and its TSA is not accredited.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh -DHANKO_BUILD_TESTS=OFF -DHANKO_BUILD_BENCH=OFF
exec build/bin/hanko serve --listen "${HANKO_LISTEN:-127.0.0.1:8080}" --data "${HANKO_DATA:-var}" "$@"
