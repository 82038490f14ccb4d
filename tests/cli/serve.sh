#!/usr/bin/env bash
# vigil serve for real: bad configuration is refused with FILE:LINE or
# --flag and exit 2; the server starts on a free port, answers curl, keeps
# answering while a request is half-sent, requires the token when one is
# set, speaks TLS with a self-signed certificate, stops cleanly on SIGINT
# and comes back with its state from the data directory. Also checks that
# docs/config.md holds the option table (vigil serve --config-doc).
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
V=$VG_BIN
if ! command -v curl >/dev/null; then
    echo "SKIP: curl is not installed" >&2
    echo "0 passed, 0 failed, 1 skipped"
    exit 77
fi
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$TMP"' EXIT

# start_server NAME ARGS... : start vigil serve in the background, wait for its
# "listening on" line; sets PID and URL (empty when it did not come up).
start_server() {
    local name=$1; shift
    "$V" serve "$@" 2>"$TMP/$name.err" &
    PID=$!
    PIDS+=("$PID")
    URL=
    for _ in $(seq 1 100); do
        URL=$(sed -n 's/^vigil serve: listening on \(https\{0,1\}:\/\/[^ ]*\)$/\1/p' "$TMP/$name.err")
        [ -n "$URL" ] && return 0
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.1
    done
    fail "$name did not start:"; sed 's/^/  /' "$TMP/$name.err" >&2
    return 1
}

# stop_server [SIGNAL]: SIGINT (or SIGNAL), then wait (at most 10 s) for a
# clean exit.
stop_server() {
    kill "-${1:-INT}" "$PID"
    for _ in $(seq 1 100); do
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.1
    done
    local rc=0
    wait "$PID" || rc=$?
    [ "$rc" = 0 ] && pass || fail "serve exited $rc after SIG${1:-INT}"
}

# expect_http CODE CURL-ARGS... : the status code; body in $TMP/body
expect_http() {
    local want=$1; shift
    local got
    got=$(curl -s -o "$TMP/body" -w '%{http_code}' --max-time 10 "$@")
    if [ "$got" = "$want" ]; then pass; else
        fail "HTTP $got (wanted $want): curl $*"; head -c 300 "$TMP/body" | sed 's/^/  body: /' >&2; echo >&2; fi
}

# --- a model ----------------------------------------------------------------
printf 'case,activity\n1,a\n1,b\n1,c\n2,a\n2,b\n2,c\n3,a\n3,b\n3,d\n' >"$TMP/t.csv"
expect_exit 0 "$V" train -q "$TMP/t.csv" -o "$TMP/m.vgm"

# --- refused at start ---------------------------------------------------------
expect_exit 0 "$V" serve --help
expect_grep "$TMP/out" '^usage: vigil serve'
expect_grep "$TMP/out" '--auth-token-file'
printf '# test\nlisten = 127.0.0.1:0\nfrobnicate = 1\n' >"$TMP/bad.conf"
expect_exit 2 "$V" serve -c "$TMP/bad.conf"
expect_grep "$TMP/err" "^vigil serve: $TMP/bad.conf:3: unknown key 'frobnicate'"
printf 'threshold = 7\n' >"$TMP/bad2.conf"
expect_exit 2 "$V" serve -c "$TMP/bad2.conf" --model "$TMP/m.vgm"
expect_grep "$TMP/err" "bad2.conf:1: threshold: '7' is not a number within 0..1"
expect_exit 2 "$V" serve -c "$TMP/missing.conf"
expect_grep "$TMP/err" "missing.conf: cannot open"
expect_exit 2 "$V" serve --threshold 2 --model "$TMP/m.vgm"
expect_grep "$TMP/err" "^vigil serve: --threshold: '2' is not a number"
expect_exit 2 "$V" serve --max-body=lots
expect_grep "$TMP/err" "^vigil serve: --max-body: 'lots' is not a size"
expect_exit 2 "$V" serve --no-such-thing 1
expect_grep "$TMP/err" "--no-such-thing: unknown option"
expect_exit 2 "$V" serve --listen
expect_grep "$TMP/err" "--listen: needs a value"
expect_exit 2 "$V" serve stray
expect_grep "$TMP/err" "unexpected argument 'stray'"
expect_exit 2 "$V" serve --tls-cert x.pem --model "$TMP/m.vgm"
expect_grep "$TMP/err" "tls_cert and tls_key"
expect_exit 2 "$V" serve --model "$TMP/nope.vgm" --data-dir "$TMP/d0" --listen 127.0.0.1:0
expect_grep "$TMP/err" "nope.vgm"
expect_exit 2 "$V" serve --data-dir "$TMP/d0" --listen 127.0.0.1:0
expect_grep "$TMP/err" "no model given"
printf 'listen = 127.0.0.1:0\nmodel = %s\n' "$TMP/m.vgm" >"$TMP/ok.conf"
expect_exit 0 "$V" serve -c "$TMP/ok.conf" --check-config
expect_grep "$TMP/err" "configuration is valid"

# the example vigil.conf is valid, also with every commented default turned on
expect_exit 0 "$V" serve -c "$VG_SOURCE_DIR/vigil.conf" --check-config
sed -E 's/^#([a-z_]+ = )/\1/; /^model = /d' "$VG_SOURCE_DIR/vigil.conf" >"$TMP/all.conf"
expect_exit 0 "$V" serve -c "$TMP/all.conf" --check-config

# --- docs/config.md holds the option table ------------------------------------
"$V" serve --config-doc >"$TMP/table.md"
awk '/^\| key \| flag \|/ {t = 1} t && !/^\|/ {exit} t' "$VG_SOURCE_DIR/docs/config.md" \
    >"$TMP/doc-table.md" 2>/dev/null
if diff -u "$TMP/table.md" "$TMP/doc-table.md" >"$TMP/diff"; then pass; else
    fail "docs/config.md differs from 'vigil serve --config-doc'"; head -20 "$TMP/diff" >&2; fi

# --- a running server -----------------------------------------------------------
if start_server s1 -c "$TMP/ok.conf" --data-dir "$TMP/d1"; then
    pass
    expect_http 200 "$URL/healthz"
    expect_grep "$TMP/body" '^\{"status":"ok"\}$'
    expect_http 200 "$URL/readyz"
    expect_http 200 -H 'Content-Type: application/json' -d '{"case":"c1","activity":"a"}' "$URL/v1/events"
    expect_grep "$TMP/body" '^\{"seq":1,"case":"c1","activity":"a",.*"deviation":false'
    expect_http 200 -H 'Content-Type: application/x-ndjson' --data-binary $'{"case":"c1","activity":"b"}\n{"case":"c2","activity":"zz"}\n' "$URL/v1/events"
    expect_grep "$TMP/body" '"seq":3,"case":"c2".*"deviation":true'
    expect_http 400 -H 'Content-Type: application/json' -d '[{"case":"c1","activity":"c"},{"case":"c1"}]' "$URL/v1/events"
    expect_grep "$TMP/body" '"code":"missing_field".*"index":1'
    expect_http 415 -d 'case=c1' "$URL/v1/events"
    expect_http 404 "$URL/v1/cases/nobody"
    expect_http 405 "$URL/v1/events"
    expect_http 200 "$URL/v1/cases/c1"
    expect_grep "$TMP/body" '"events":2'
    expect_http 200 "$URL/v1/automata/2.dot?top=5"
    expect_grep "$TMP/body" 'digraph'
    expect_http 200 "$URL/metrics"
    expect_grep "$TMP/body" '^vigil_events_total 3$'
    # 10,000 levels of nesting: a quick 400
    python3 -c 'print("{\"case\":1,\"activity\":\"a\",\"x\":" + "["*10000 + "]"*10000 + "}")' >"$TMP/deep.json"
    expect_http 400 -H 'Content-Type: application/json' --data-binary @"$TMP/deep.json" "$URL/v1/events"
    expect_grep "$TMP/body" '"code":"invalid_json".*deeper than 64'
    # a body over max_body
    head -c 5000000 /dev/zero | tr '\0' ' ' >"$TMP/big.json"
    expect_http 413 -H 'Content-Type: application/json' --data-binary @"$TMP/big.json" "$URL/v1/events"
    # a half-sent request does not hold up others
    hostport=${URL#http://}
    if exec 3<>"/dev/tcp/${hostport%:*}/${hostport##*:}"; then
        printf 'POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"ca' >&3
        expect_http 200 --max-time 2 "$URL/healthz"
        exec 3>&-
    fi
    # a second server on the same data directory is refused
    expect_exit 2 "$V" serve -c "$TMP/ok.conf" --data-dir "$TMP/d1"
    expect_grep "$TMP/err" 'in use by another vigil process'
    # the same port is refused
    expect_exit 2 "$V" serve --model "$TMP/m.vgm" --data-dir "$TMP/d9" --listen "${URL#http://}"
    expect_grep "$TMP/err" 'cannot listen on'
    stop_server
    expect_grep "$TMP/s1.err" '^vigil serve: stopped$'
    expect_grep "$TMP/d1/requests.log" '"path":"/v1/events","status":200'
    # restart: the state comes back from the data directory, no model needed
    if start_server s2 --data-dir "$TMP/d1" --listen 127.0.0.1:0; then
        expect_http 200 "$URL/v1/cases/c1"
        expect_grep "$TMP/body" '"events":2'
        expect_http 200 -H 'Content-Type: application/json' -d '{"case":"c1","activity":"c"}' "$URL/v1/events"
        expect_grep "$TMP/body" '"seq":4,'
        stop_server TERM
    fi
fi

# --- bearer token ---------------------------------------------------------------
printf 'tok-123\n' >"$TMP/token"
chmod 600 "$TMP/token"
if start_server s3 --model "$TMP/m.vgm" --data-dir "$TMP/d3" --listen 127.0.0.1:0 --auth-token-file "$TMP/token"; then
    expect_http 401 "$URL/v1/stats"
    expect_grep "$TMP/body" '"code":"unauthorized"'
    expect_http 401 -H 'Authorization: Bearer wrong' "$URL/v1/stats"
    expect_http 200 -H 'Authorization: Bearer tok-123' "$URL/v1/stats"
    expect_http 200 "$URL/healthz"
    expect_http 401 -H 'Content-Type: application/json' -d '{"case":"c1","activity":"a"}' "$URL/v1/events"
    stop_server
fi
: >"$TMP/empty-token"
expect_exit 2 "$V" serve --model "$TMP/m.vgm" --data-dir "$TMP/d4" --listen 127.0.0.1:0 --auth-token-file "$TMP/empty-token"
expect_grep "$TMP/err" 'is empty'

# --- TLS with a self-signed certificate -----------------------------------------------
if command -v openssl >/dev/null &&
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/key.pem" -out "$TMP/cert.pem" \
        -days 1 -subj '/CN=localhost' >/dev/null 2>&1; then
    if start_server s5 --model "$TMP/m.vgm" --data-dir "$TMP/d5" --listen 127.0.0.1:0 \
        --tls-cert "$TMP/cert.pem" --tls-key "$TMP/key.pem"; then
        case $URL in https://*) pass ;; *) fail "TLS server says $URL" ;; esac
        expect_http 200 -k "$URL/healthz"
        expect_http 200 -k -H 'Content-Type: application/json' -d '{"case":"t","activity":"a"}' "$URL/v1/events"
        expect_http 000 "${URL/https/http}/healthz"
        stop_server
    fi
else
    echo "note: openssl missing, TLS not tested" >&2
fi

finish
