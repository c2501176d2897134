#!/usr/bin/env bash
# Installs every Debian 12 package hanko needs to build, run and test.
# Usage: scripts/install-deps.sh            (build + run + test)
set -euo pipefail
PKGS=(
  build-essential cmake pkg-config
  libssl-dev libcurl4-openssl-dev libpoco-dev libpq-dev libpugixml-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libxml2-utils xmlsec1
  softhsm2 libp11-kit-dev opensc
  postgresql postgresql-client
  openssl
  python3 python3-jwcrypto
  curl ca-certificates
)
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
