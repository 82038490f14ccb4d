#!/usr/bin/env bash
# The HTTP integration suite (tests/integration/, Python 3 standard library
# only) against the standalone server: `vigil serve` on a free port of
# 127.0.0.1, driven with real HTTP — every route and error status, batch
# atomicity, limits, concurrent clients, auth, TLS, the request log, the
# docs/api.md examples, kill -9 restart recovery during `vigil replay`,
# damaged data directories, and the rule stage (rules, alerts, webhooks,
# restarts). The suite prints one line per test and closes with
# "N passed, N failed"; every process it starts is killed at the end.
set -uo pipefail
: "${VG_BIN:?VG_BIN must point at the vigil binary}"
: "${VG_SOURCE_DIR:?}"
export VG_BIN VG_SOURCE_DIR
export VG_DATA_DIR=${VG_DATA_DIR:-$VG_SOURCE_DIR/../shared/data}
export VG_BUILD_DIR=${VG_BUILD_DIR:-$(dirname "$VG_BIN")}
if ! command -v python3 >/dev/null; then
    echo "SKIP: python3 not found (scripts/deps.sh installs it)" >&2
    echo "0 passed, 0 failed, 1 skipped"
    exit 77
fi
# Stop (and kill every server) before CTest's own 900 s timeout would.
exec python3 "$VG_SOURCE_DIR/tests/integration/run.py" --target standalone --time-limit 840 "$@"
