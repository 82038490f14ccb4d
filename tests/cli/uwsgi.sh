#!/usr/bin/env bash
# Smoke test of the uWSGI deployment, started for real: uwsgi-core with
# deploy/uwsgi.ini (through deploy/run-uwsgi.sh) and the handler in
# $VG_BUILD_DIR/libvigil_uwsgi.so, on a free port of 127.0.0.1. A few routes
# with curl (health, events single/NDJSON/chunked, HEAD, error statuses,
# metrics, the request log), a second instance refused on the same data
# directory, a stop with SIGINT (SIGTERM reloads by uWSGI's default) that
# writes the final snapshot, and a restart that comes back with the same
# counters. Also checks src/uwsgi/uwsgi_api.h against uWSGI's own header.
# The whole API suite runs against this deployment in integration_uwsgi.sh.
#
# Under the sanitizer build the plug-in needs the ASan runtime preloaded
# into uwsgi-core (a binary built without it); reports from uWSGI's own code
# are suppressed, and leak checking is off (uWSGI does not free its
# configuration before exit).
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

skip() {
    echo "SKIP: $*" >&2
    echo "0 passed, 0 failed, 1 skipped"
    exit 77
}

VG_BUILD_DIR=${VG_BUILD_DIR:-$(dirname "$VG_BIN")}
UWSGI_ENV=(env)
LIB=$VG_BUILD_DIR/libvigil_uwsgi.so
RUN=$VG_SOURCE_DIR/deploy/run-uwsgi.sh
command -v uwsgi-core >/dev/null || skip "uwsgi-core is not installed (scripts/deps.sh installs it)"
command -v curl >/dev/null || skip "curl is not installed"
[ -e "$LIB" ] || skip "$LIB is not built"

# --- the sanitizer build ---------------------------------------------------------
if grep -qs '^VG_SANITIZE:BOOL=ON' "$VG_BUILD_DIR/CMakeCache.txt"; then
    cc=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$VG_BUILD_DIR/CMakeCache.txt")
    asan=$("${cc:-cc}" -print-file-name=libasan.so 2>/dev/null)
    [ -e "$asan" ] || skip "sanitizer build, but libasan.so (to preload into uwsgi-core) not found"
    printf 'interceptor_via_lib:uwsgi-core\n' >"$TMP/asan.supp"
    # for uwsgi-core only: curl with the runtime preloaded hangs
    UWSGI_ENV=(env "LD_PRELOAD=$asan" "ASAN_OPTIONS=detect_leaks=0:suppressions=$TMP/asan.supp")
fi

# --- helpers ---------------------------------------------------------------------------
UWSGI_PID=
stop_uwsgi() { # signal: wait up to 30 s, then kill the group; sets STOP_STATUS
    local sig=$1 i
    STOP_STATUS=
    [ -n "$UWSGI_PID" ] || return 0
    kill -s "$sig" "$UWSGI_PID" 2>/dev/null
    for i in $(seq 300); do
        kill -0 "$UWSGI_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$UWSGI_PID" 2>/dev/null; then
        kill -KILL -- "-$UWSGI_PID" 2>/dev/null
        STOP_STATUS=killed
    fi
    wait "$UWSGI_PID" 2>/dev/null
    local st=$?
    [ -n "$STOP_STATUS" ] || STOP_STATUS=$st
    UWSGI_PID=
}
# on the way out, whatever happened: the whole group, master and worker
trap '[ -z "$UWSGI_PID" ] || kill -KILL -- "-$UWSGI_PID" 2>/dev/null; rm -rf "$TMP"' EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' \
        2>/dev/null || echo $((20000 + RANDOM % 20000))
}

# start LOG: uWSGI in its own process group (so that cleaning up reaches the
# worker too), then wait until /healthz answers. 0 when it does.
start_uwsgi() {
    PORT=$(free_port)
    B=http://127.0.0.1:$PORT
    "${UWSGI_ENV[@]}" setsid "$RUN" "$PORT" "$TMP/vigil.conf" >"$1" 2>&1 &
    UWSGI_PID=$!
    local i
    for i in $(seq 600); do
        curl -s -o /dev/null --max-time 2 "$B/healthz" && return 0
        kill -0 "$UWSGI_PID" 2>/dev/null || break
        sleep 0.1
    done
    fail "uWSGI did not answer on $B"
    sed 's/^/  log: /' "$1" | tail -20 >&2
    return 1
}

# req NAME CURL_ARGS... : body in $TMP/NAME.body, headers in $TMP/NAME.hdr;
# prints the status code
req() {
    local name=$1
    shift
    curl -s -o "$TMP/$name.body" -D "$TMP/$name.hdr" -w '%{http_code}' --max-time 30 "$@"
}

expect_status() { # WANT GOT WHAT
    if [ "$1" = "$2" ]; then pass; else fail "$3: status $2 (wanted $1)"; fi
}

# --- the declarations against uWSGI's header --------------------------------------------
if uwsgi-core --dot-h >"$TMP/uwsgi.h" 2>/dev/null; then
    printf '#include "uwsgi.h"\n#include "uwsgi/uwsgi_api.h"\n' >"$TMP/api.c"
    if cc -fsyntax-only -I"$TMP" -I"$VG_SOURCE_DIR/src" "$TMP/api.c" 2>"$TMP/api.err"; then
        pass
    elif grep -q 'conflicting types' "$TMP/api.err"; then
        fail "src/uwsgi/uwsgi_api.h disagrees with uwsgi-core's header:"
        grep 'conflicting' "$TMP/api.err" | head -5 >&2
    else
        echo "NOTE: uwsgi-core's header does not compile here; declarations not cross-checked" >&2
    fi
fi

# --- start ---------------------------------------------------------------------------------
cat >"$TMP/vigil.conf" <<EOF
train = $VG_SOURCE_DIR/examples/orders.csv
data_dir = $TMP/data
max_body = 64KiB
EOF
start_uwsgi "$TMP/uwsgi.log" || { finish; exit 1; }

# --- routes -------------------------------------------------------------------------------
expect_status 200 "$(req h "$B/healthz")" "GET /healthz"
expect_grep "$TMP/h.body" '"ok"'
expect_status 200 "$(req r "$B/readyz")" "GET /readyz"

JSON=(-H 'Content-Type: application/json')
expect_status 200 "$(req e1 "${JSON[@]}" -d '{"case":"c1","activity":"create order"}' "$B/v1/events")" \
    "POST /v1/events"
expect_grep "$TMP/e1.body" '^\{"seq":1,"case":"c1","activity":"create order",'
expect_grep "$TMP/e1.hdr" '^X-Request-Id: '
expect_grep "$TMP/e1.hdr" '^Content-Type: application/json'

expect_status 200 "$(req e2 -H 'Content-Type: application/x-ndjson' \
    --data-binary $'{"case":"c1","activity":"approve order"}\n{"case":"c2","activity":"create order"}\n' \
    "$B/v1/events")" "POST /v1/events (NDJSON)"
[ "$(grep -c '"seq":' "$TMP/e2.body")" = 2 ] && pass || fail "NDJSON: wanted 2 verdicts"
expect_grep "$TMP/e2.body" '"seq":3,"case":"c2"'

expect_status 200 "$(req e3 "${JSON[@]}" -H 'Transfer-Encoding: chunked' -H 'Expect:' \
    -d '{"case":"c2","activity":"approve order"}' "$B/v1/events")" "POST /v1/events (chunked)"
expect_grep "$TMP/e3.body" '"seq":4,'

expect_status 200 "$(req head -I "$B/v1/stats")" "HEAD /v1/stats"
expect_grep "$TMP/head.hdr" '^Content-Length: [1-9]'
grep -q '^{' "$TMP/head.body" && fail "HEAD answered with a body" || pass # -I: headers only

# error statuses: the same JSON errors as the standalone server
expect_status 404 "$(req nf "$B/no/such/route")" "unknown route"
expect_grep "$TMP/nf.body" '"error":\{"code":"not_found"'
expect_status 405 "$(req m -X DELETE "$B/v1/events")" "DELETE /v1/events"
expect_status 400 "$(req bad "${JSON[@]}" -d '{"case":' "$B/v1/events")" "invalid JSON"
expect_grep "$TMP/bad.body" '"code":"invalid_json"'
expect_status 411 "$(req nolen -X POST "$B/v1/events")" "POST without a length"
head -c 100000 /dev/zero | tr '\0' ' ' >"$TMP/big.json"
expect_status 413 "$(req big "${JSON[@]}" -H 'Expect:' --data-binary @"$TMP/big.json" "$B/v1/events")" \
    "body over max_body"
expect_grep "$TMP/big.body" '"code":"too_large"'
expect_status 413 "$(req bigc "${JSON[@]}" -H 'Expect:' -H 'Transfer-Encoding: chunked' \
    --data-binary @"$TMP/big.json" "$B/v1/events")" "chunked body over max_body"

expect_status 200 "$(req met "$B/metrics")" "GET /metrics"
expect_grep "$TMP/met.hdr" '^Content-Type: text/plain'
expect_grep "$TMP/met.body" '^vigil_events_total 4$'

# --- one process per data directory ------------------------------------------------------------
st=0
"${UWSGI_ENV[@]}" "$RUN" "$(free_port)" "$TMP/vigil.conf" >"$TMP/second.log" 2>&1 || st=$?
expect_status 22 "$st" "a second instance on the same data directory"
expect_grep "$TMP/second.log" 'in use by another vigil process'

# --- stop, restart -------------------------------------------------------------------------------
stop_uwsgi INT
expect_status 0 "$STOP_STATUS" "stop with SIGINT"
expect_grep "$TMP/uwsgi.log" '^vigil: stopped'
ls "$TMP/data"/snapshot-*.vsnap >/dev/null 2>&1 && pass || fail "no snapshot after the stop"
# (the request log is written every 100 ms: complete once stopped)
expect_grep "$TMP/data/requests.log" '"method":"POST","path":"/v1/events","status":413'
expect_grep "$TMP/data/requests.log" '"method":"HEAD","path":"/v1/stats","status":200'

if start_uwsgi "$TMP/uwsgi2.log"; then
    expect_status 200 "$(req st "$B/v1/stats")" "GET /v1/stats after a restart"
    expect_grep "$TMP/st.body" '"events":4,'
    expect_status 200 "$(req e5 "${JSON[@]}" -d '{"case":"c1","activity":"ship order"}' "$B/v1/events")" \
        "POST after a restart"
    expect_grep "$TMP/e5.body" '"seq":5,'
    stop_uwsgi INT
    expect_status 0 "$STOP_STATUS" "second stop"
fi

for log in "$TMP"/uwsgi*.log; do
    if grep -qE 'AddressSanitizer|runtime error:' "$log"; then
        fail "sanitizer report in $(basename "$log"):"
        grep -E -A12 'AddressSanitizer|runtime error:' "$log" | head -30 >&2
    fi
done
finish
