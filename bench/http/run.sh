#!/usr/bin/env bash
# bench/http/run.sh — the HTTP service benchmarks (BENCHMARKS.md, "HTTP
# service"). Not a test: it prints figures, it does not judge them.
#
#   bench/http/run.sh [STEP...]      default: every step, in this order
#
#   single    single-event POSTs with keep-alive (wrk + single.lua), vigil
#             with fsync = interval between the two ceilings (a trivial
#             libmicrohttpd handler, mhd_ceiling.c: "add" = vigil's own
#             threading, accept + MHD_add_connection; "pool" = plain MHD
#             thread pool), ROUNDS rounds, medians reported
#   batch     NDJSON batches of 1,000 events (wrk + batch.lua), fsync = interval
#   always    single and batch again with fsync = always
#   latency   p99 at a fixed 10,000 requests/s (fixed_rate.c, open loop)
#   replay    ingest REPLAY_EVENTS events, kill -9, restart: replay speed
#   uwsgi     the uWSGI deployment (deploy/run-uwsgi.sh), single events;
#             skipped with a message when the plug-in or uwsgi-core is missing
#   threads   (not in the default list) single events with vigil's threads =
#             1, 2, 4, ROUNDS rounds
#
# Environment (defaults in brackets):
#   BUILD [build]     build directory (scripts/build.sh BUILD)
#   OUT [/tmp/vigil-bench-http]   work directory: tools, model, events, data
#   LOG [../shared/data/real/bpic2012.xes.gz]   the log to train on and send
#   DUR [10]          seconds per wrk run       ROUNDS [3]   rounds of `single`
#   WRK_T [2] WRK_C [32]   wrk threads and connections for single events
#   THREADS [0]       vigil's threads (0 = one per processor)
#   PORT [18080]      first of the ports used on 127.0.0.1
#   RATE [10000] LAT_SECS [30]   the fixed-rate run
#   REPLAY_EVENTS [2000000]
#
# Everything listens on and is sent to 127.0.0.1; every run is bounded
# (wrk -d, timeouts on starts, stops and the fixed-rate run). Results:
# OUT/results.txt (one line per run) and a summary at the end.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/bench/http
cd "$ROOT"
BUILD=${BUILD:-build}
OUT=${OUT:-/tmp/vigil-bench-http}
LOG=${LOG:-$ROOT/../shared/data/real/bpic2012.xes.gz}
DUR=${DUR:-10}
ROUNDS=${ROUNDS:-3}
WRK_T=${WRK_T:-2}
WRK_C=${WRK_C:-32}
THREADS=${THREADS:-0}
PORT=${PORT:-18080}
RATE=${RATE:-10000}
LAT_SECS=${LAT_SECS:-30}
REPLAY_EVENTS=${REPLAY_EVENTS:-2000000}
STEPS=${*:-single batch always latency replay uwsgi}

VIGIL=$ROOT/$BUILD/vigil
EVENTS=$OUT/events.jsonl
MODEL=$OUT/model.vgm
RESULTS=$OUT/results.txt
SERVER_PID=

say() { printf '%s\n' "$*" >&2; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

# ---- setup -------------------------------------------------------------------

need_tools() {
    if ! command -v wrk >/dev/null; then
        say "installing wrk"
        apt-get install -y wrk >/dev/null
    fi
    command -v curl >/dev/null || { say "curl is needed"; exit 2; }
    command -v python3 >/dev/null || { say "python3 is needed (to read /v1/stats)"; exit 2; }
}

build() {
    say "building into $BUILD"
    bash scripts/build.sh "$BUILD" >/dev/null
    mkdir -p "$OUT/bin"
    # Not built by CMake: bench/*.c programs link libvigil only, and these
    # need libmicrohttpd (the ceiling) or nothing (the load generator).
    # shellcheck disable=SC2046 # pkg-config output is meant to be split
    cc -O2 -o "$OUT/bin/mhd_ceiling" "$HERE/mhd_ceiling.c" \
        $(pkg-config --cflags --libs libmicrohttpd)
    cc -O2 -o "$OUT/bin/fixed_rate" "$HERE/fixed_rate.c"
}

# The model, and the events to send: the same log, exported by vigil itself
# in the timestamp order `vigil replay` sends (a service fed the log once,
# then `vigil log export`), so every request is a real event of a real case.
prepare_data() {
    [ -s "$MODEL" ] || "$VIGIL" train "$LOG" -o "$MODEL" 2>/dev/null
    [ -s "$EVENTS" ] && return
    say "exporting the events of $LOG"
    start_vigil export --request-log false
    "$VIGIL" replay "$LOG" --url "http://127.0.0.1:$PORT" --batch 1000 --quiet >/dev/null
    stop_server
    "$VIGIL" log export "$OUT/data-export" --format jsonl -o "$EVENTS"
}

# ---- servers -----------------------------------------------------------------

wait_up() { # url seconds
    local i
    for i in $(seq $(($2 * 10))); do
        curl -sf -o /dev/null "$1" && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    say "the server at $1 did not come up"
    return 1
}

# start_vigil NAME [serve options]: a fresh data directory OUT/data-NAME
# (unless KEEP_DATA=1), on PORT, in its own session.
start_vigil() {
    local name=$1
    shift
    [ "${KEEP_DATA:-0}" = 1 ] || rm -rf "$OUT/data-$name"
    setsid "$VIGIL" serve --model "$MODEL" --data-dir "$OUT/data-$name" \
        --listen "127.0.0.1:$PORT" --threads "$THREADS" "$@" \
        >"$OUT/serve-$name.log" 2>&1 </dev/null &
    SERVER_PID=$!
    wait_up "http://127.0.0.1:$PORT/healthz" 120
}

start_ceiling() { # mode: as many threads as vigil runs
    local t=$THREADS
    [ "$t" != 0 ] || t=$(nproc)
    setsid "$OUT/bin/mhd_ceiling" "$PORT" "$1" "$t" >"$OUT/ceiling.log" 2>&1 </dev/null &
    SERVER_PID=$!
    wait_up "http://127.0.0.1:$PORT/healthz" 10
}

stop_server() { # SIGINT, then SIGKILL after 30 s
    [ -n "$SERVER_PID" ] || return 0
    kill -INT "$SERVER_PID" 2>/dev/null || true
    local i
    for i in $(seq 300); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
}
trap 'stop_server' EXIT

stat_field() { # python expression on the /v1/stats object d
    curl -sf "http://127.0.0.1:$PORT/v1/stats" | python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$SERVER_PID/stat"; }

field() { # field NAME LINE: the value of NAME=… in a RESULT line
    printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

errs() { # failed requests in a wrk RESULT line
    local n=0 f v
    for f in errors_status errors_read errors_timeout; do
        v=$(field $f "$1")
        n=$((n + ${v:-0}))
    done
    echo $n
}

record() { # one result line, also on stderr
    printf '%s load=%s\n' "$*" "$(load | tr ' ' '/')" | tee -a "$RESULTS" >&2
}

# ---- wrk runs ---------------------------------------------------------------------

URL() { printf 'http://127.0.0.1:%s' "$PORT"; }

wrk_single() { # label: one wrk run of single events against what runs on PORT
    local cmd=(wrk -t"$WRK_T" -c"$WRK_C" -d"${DUR}s" --timeout 10s -s "$HERE/single.lua" "$(URL)"
               -- "$EVENTS" "$WRK_T")
    say "  ${cmd[*]}"
    local r
    r=$(timeout $((DUR + 120)) "${cmd[@]}" | grep '^RESULT' || true)
    printf '%s\n' "$r"
}

# single-event run against vigil: rps, latency, server CPU per request and
# the deviation rate (a check that the stream is judged as the log would be).
vigil_single() { # name [serve options]
    local name=$1
    shift
    start_vigil "$name" "$@"
    local t0 r t1 n dev
    t0=$(cpu_ticks)
    r=$(wrk_single "$name")
    t1=$(cpu_ticks)
    n=$(stat_field 'd["http"]["events_accepted"]')
    dev=$(stat_field 'round(100.0 * d["deviations"] / max(1, d["events"]), 2)')
    stop_server
    record "$name rps=$(field rps "$r") p50_us=$(field p50_us "$r") p99_us=$(field p99_us "$r")" \
        "errors=$(errs "$r")" \
        "events=$n deviations_pct=$dev" \
        "server_cpu_us_per_req=$(python3 -c "print(round(($t1 - $t0) * 1e6 / $(getconf CLK_TCK) / max(1, $n), 2))")"
}

ceiling_single() { # mode
    start_ceiling "$1"
    local r
    r=$(wrk_single "ceiling-$1")
    stop_server
    record "ceiling-$1 rps=$(field rps "$r") p50_us=$(field p50_us "$r") p99_us=$(field p99_us "$r")" \
        "errors=$(errs "$r")"
}

# NDJSON batches: one connection per wrk thread, so each case's events reach
# the server in order; events/s from the server's own count.
vigil_batch() { # name [serve options]
    local name=$1
    shift
    start_vigil "$name" "$@"
    local cmd=(wrk -t2 -c2 -d"${DUR}s" --timeout 30s -s "$HERE/batch.lua" "$(URL)" -- "$EVENTS" 2)
    say "  VG_BATCH=1000 ${cmd[*]}"
    local t0 r t1 n dev
    t0=$(cpu_ticks)
    r=$(VG_BATCH=1000 timeout $((DUR + 120)) "${cmd[@]}" | grep '^RESULT' || true)
    t1=$(cpu_ticks)
    n=$(stat_field 'd["http"]["events_accepted"]')
    dev=$(stat_field 'round(100.0 * d["deviations"] / max(1, d["events"]), 2)')
    stop_server
    local secs
    secs=$(field seconds "$r")
    record "$name events_per_s=$(python3 -c "print(round($n / ${secs:-1}))")" \
        "requests_per_s=$(field rps "$r") p50_us=$(field p50_us "$r") p99_us=$(field p99_us "$r")" \
        "errors=$(errs "$r")" \
        "events=$n deviations_pct=$dev" \
        "server_cpu_us_per_event=$(python3 -c "print(round(($t1 - $t0) * 1e6 / $(getconf CLK_TCK) / max(1, $n), 3))")"
}

# ---- steps ---------------------------------------------------------------------

step_single() {
    local i
    for i in $(seq "$ROUNDS"); do
        say "single events, round $i of $ROUNDS (load $(load))"
        ceiling_single add
        vigil_single single-interval
        ceiling_single pool
    done
}

step_threads() {
    local i t save=$THREADS
    for i in $(seq "$ROUNDS"); do
        for t in 1 2 4; do
            say "single events, threads = $t, round $i of $ROUNDS (load $(load))"
            THREADS=$t
            vigil_single "single-threads-$t"
        done
    done
    THREADS=$save
}

step_batch() {
    say "batches of 1,000, fsync = interval (load $(load))"
    vigil_batch batch-interval
}

step_always() {
    say "fsync = always (load $(load))"
    vigil_single single-always --fsync always
    vigil_batch batch-always --fsync always
}

# Open loop at RATE requests/s; the client runs SCHED_FIFO when it may, so
# its own wake-ups on the shared cores do not count against the server.
step_latency() {
    say "fixed rate $RATE requests/s for $LAT_SECS s (load $(load))"
    start_vigil latency
    local rt=()
    chrt -f 50 true 2>/dev/null && rt=(chrt -f 50)
    local cmd=("${rt[@]}" "$OUT/bin/fixed_rate" "127.0.0.1:$PORT" "$EVENTS" "$RATE" "$LAT_SECS" 8)
    say "  ${cmd[*]}"
    local r
    r=$(timeout $((LAT_SECS + 60)) "${cmd[@]}" | grep '^RESULT' || true)
    # The server's own view: its request duration histogram (/metrics).
    local hist
    hist=$(curl -sf "$(URL)/metrics" | grep 'duration_seconds_bucket{route="/v1/events"' |
        sed 's/.*le="\([^"]*\)"} \(.*\)/\1:\2/' | tr '\n' ' ')
    stop_server
    record "latency-${RATE} ${r#RESULT } server_histogram=${hist// /,}"
}

# Ingest REPLAY_EVENTS with batches (snapshot_every far above, so the
# restart replays them all from the first snapshot), kill -9, restart, and
# read what the pipeline reports about its replay.
step_replay() {
    say "replay after kill -9 (load $(load))"
    start_vigil replay --snapshot-every 1000000000 --request-log false
    local n=0 tries=0
    while [ "$n" -lt "$REPLAY_EVENTS" ] && [ $tries -lt 60 ]; do
        VG_BATCH=1000 timeout 60 wrk -t2 -c2 -d5s --timeout 30s -s "$HERE/batch.lua" "$(URL)" \
            -- "$EVENTS" 2 >/dev/null
        n=$(stat_field 'd["log"]["last_seq"]')
        tries=$((tries + 1))
    done
    local bytes
    bytes=$(stat_field 'd["log"]["bytes"]')
    kill -KILL "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
    local t0 t1
    t0=$(date +%s.%N)
    KEEP_DATA=1 start_vigil replay --snapshot-every 1000000000 --request-log false
    t1=$(date +%s.%N)
    local recs secs
    recs=$(stat_field 'd["replay"]["records"]')
    secs=$(stat_field 'd["replay"]["seconds"]')
    stop_server
    record "replay logged=$n log_bytes=$bytes replayed=$recs replay_seconds=$secs" \
        "replay_events_per_s=$(python3 -c "print(round($recs / max($secs, 1e-9)))")" \
        "restart_to_healthz_s=$(python3 -c "print(round($t1 - $t0, 2))")"
}

# The uWSGI deployment (deploy/), single events, the same wrk command, as
# deployed (http-socket: one request per connection, "Connection: close",
# so wrk reconnects for every request) and with VIGIL_UWSGI_HTTP11=1
# (http11-socket, keep-alive; each open connection holds one of the
# deployment's threads, so wrk's WRK_C must not exceed them).
step_uwsgi() {
    local lib=$ROOT/$BUILD/libvigil_uwsgi.so
    if [ ! -x "$ROOT/deploy/run-uwsgi.sh" ] || [ ! -e "$lib" ] || ! command -v uwsgi-core >/dev/null; then
        say "uwsgi: SKIPPED (needs deploy/run-uwsgi.sh, $lib and uwsgi-core)"
        record "uwsgi skipped"
        return 0
    fi
    local mode
    printf 'model = %s\n' "$MODEL" >"$OUT/uwsgi.conf"
    for mode in deployed http11; do
        say "uWSGI deployment, $mode (load $(load))"
        rm -rf "$OUT/data-uwsgi"
        local env=(VG_BUILD_DIR="$ROOT/$BUILD")
        [ $mode = deployed ] || env+=(VIGIL_UWSGI_HTTP11=1)
        env "${env[@]}" setsid "$ROOT/deploy/run-uwsgi.sh" "$PORT" "$OUT/uwsgi.conf" \
            "$OUT/data-uwsgi" >"$OUT/uwsgi-$mode.log" 2>&1 </dev/null &
        SERVER_PID=$!
        wait_up "http://127.0.0.1:$PORT/healthz" 120
        local r n dev secs
        r=$(wrk_single "uwsgi-$mode")
        n=$(stat_field 'd["http"]["events_accepted"]')
        dev=$(stat_field 'round(100.0 * d["deviations"] / max(1, d["events"]), 2)')
        stop_server
        secs=$(field seconds "$r")
        record "uwsgi-$mode rps=$(field rps "$r") p50_us=$(field p50_us "$r")" \
            "p99_us=$(field p99_us "$r") errors=$(errs "$r") events=$n deviations_pct=$dev" \
            "events_per_s=$(python3 -c "print(round($n / ${secs:-1}, 1))")"
    done
}

# ---- main --------------------------------------------------------------------------

mkdir -p "$OUT"
need_tools
build
prepare_data
touch "$RESULTS"
first=$(($(wc -l <"$RESULTS") + 1))
{
    echo "# $(date -u +%FT%TZ) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
    echo "# load before: $(load); DUR=$DUR WRK_T=$WRK_T WRK_C=$WRK_C THREADS=$THREADS"
} >>"$RESULTS"
for s in $STEPS; do
    "step_$s"
done
say ""
say "results (also in $RESULTS):"
tail -n +"$first" "$RESULTS" >&2
