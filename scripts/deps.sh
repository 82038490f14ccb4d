#!/usr/bin/env bash
# Install the Debian packages vigil needs to build and test, only those missing.
# Run as root or with sudo available. Safe to run again.
set -euo pipefail

PKGS=(build-essential cmake pkg-config
      libexpat1-dev zlib1g-dev libjansson-dev libcsv-dev
      libgraphviz-dev graphviz
      libmicrohttpd-dev libcurl4-openssl-dev uwsgi-core
      python3 file curl openssl)

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=
[ "$(id -u)" -ne 0 ] && SUDO=sudo
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
