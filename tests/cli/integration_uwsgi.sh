#!/usr/bin/env bash
# The HTTP integration suite (tests/integration/) against the uWSGI
# deployment, started by deploy/run-uwsgi.sh (uwsgi-core with
# deploy/uwsgi.ini and the handler in
# $VG_BUILD_DIR/libvigil_uwsgi.so) on a free port of 127.0.0.1. Tests of
# features that belong to `vigil serve` alone (TLS, its flags, stopping
# with 503) are reported as skipped. Skipped as a whole (77)
# when the plug-in or uwsgi-core is missing.
set -uo pipefail
: "${VG_BIN:?VG_BIN must point at the vigil binary}"
: "${VG_SOURCE_DIR:?}"
export VG_BIN VG_SOURCE_DIR
export VG_DATA_DIR=${VG_DATA_DIR:-$VG_SOURCE_DIR/../shared/data}
export VG_BUILD_DIR=${VG_BUILD_DIR:-$(dirname "$VG_BIN")}
skip() {
    echo "SKIP: $*" >&2
    echo "0 passed, 0 failed, 1 skipped"
    exit 77
}
command -v python3 >/dev/null || skip "python3 not found (scripts/deps.sh installs it)"
[ -e "$VG_BUILD_DIR/libvigil_uwsgi.so" ] || skip "$VG_BUILD_DIR/libvigil_uwsgi.so is not built"
command -v uwsgi-core >/dev/null || skip "uwsgi-core is not installed"
[ -e "$VG_SOURCE_DIR/deploy/uwsgi.ini" ] && [ -e "$VG_SOURCE_DIR/deploy/run-uwsgi.sh" ] ||
    skip "deploy/uwsgi.ini or deploy/run-uwsgi.sh is missing"
exec python3 "$VG_SOURCE_DIR/tests/integration/run.py" --target uwsgi --time-limit 840 "$@"
