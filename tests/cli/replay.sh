#!/usr/bin/env bash
# vigil replay, the example client of the service. Most checks run against
# tests/cli/fake_vigil.py, a stand-in service that catches a client breaking
# per-case order (two requests of one case in flight at once, or a case's
# events out of log order) and can fail on purpose; the client is what is
# tested. When `vigil serve` is built, the deviations counted over HTTP are
# compared with `vigil check` on the same SEC logs: they must be equal.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
V=$VG_BIN
FAKE=$VG_SOURCE_DIR/tests/cli/fake_vigil.py
if ! command -v python3 >/dev/null; then
    echo "SKIP: python3 not found (the stand-in service needs it)" >&2
    echo "0 passed, 0 failed, 1 skipped"
    exit 77
fi

# Exit status 1 is expected here for a failed run, and is also what a
# sanitizer report gives: every run is also checked for such a report.
eval "$(declare -f expect_exit | sed '1s/^expect_exit/lib_expect_exit/')"
expect_exit() {
    lib_expect_exit "$@"
    if grep -qE 'Sanitizer|runtime error:' "$TMP/err"; then
        fail "sanitizer report: $*"; grep -m3 -E 'Sanitizer|runtime error:' "$TMP/err" >&2
    fi
}

SERVER_PID=
stop_server() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null
    fi
    SERVER_PID=
}
trap 'stop_server; rm -rf "$TMP"' EXIT

# wait_url FILE : wait up to 60 s for "listening on http://…" in FILE; sets URL
wait_url() {
    URL=
    for _ in $(seq 600); do
        URL=$(grep -o 'listening on http://[0-9.:]*' "$1" 2>/dev/null | head -1 | cut -d' ' -f3)
        [ -n "$URL" ] && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    fail "no 'listening on' line in $1"; sed 's/^/  server: /' "$1" | head -5 >&2
    return 1
}

# start_fake ARGS... : a fresh stand-in service (events recorded in $TMP/rec.jsonl)
# (The background job opens its stderr file itself, later: each server gets a
# new file, so wait_url never reads the previous one's.)
NSERVERS=0
start_fake() {
    stop_server
    rm -f "$TMP/rec.jsonl"
    NSERVERS=$((NSERVERS + 1))
    python3 "$FAKE" --record "$TMP/rec.jsonl" "$@" 2>"$TMP/fake-$NSERVERS.err" &
    SERVER_PID=$!
    wait_url "$TMP/fake-$NSERVERS.err"
}

# jf FILE PATH : a member of a JSON file (PATH like a.b.0), printed as JSON
# (strings bare)
jf() {
    python3 - "$1" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    d = d[int(k)] if isinstance(d, list) else d.get(k)
print(d if isinstance(d, str) else json.dumps(d))
PY
}

# get PATH : GET $URL/PATH into $TMP/stats.json
get() {
    python3 -c 'import sys, urllib.request as u; print(u.urlopen(sys.argv[1]).read().decode())' \
        "$URL/$1" >"$TMP/stats.json"
}
fake_stats() { get stats; }

# expect_eq WHAT GOT WANT
expect_eq() {
    if [ "$2" = "$3" ]; then pass; else fail "$1: got '$2', wanted '$3'"; fi
}
# expect_le WHAT A B : A ≤ B (numbers)
expect_le() {
    if python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) <= float(sys.argv[2]) else 1)' "$2" "$3"
    then pass; else fail "$1: $2 is not ≤ $3"; fi
}

# --- a log: 100 cases × 20 events, shuffled in the file, interleaved in time.
# Every event carries "n", its position in the time-ordered log, so the
# stand-in service can check per-case order; "x" events deviate there.
python3 - "$TMP" <<'PY'
import datetime, json, random, sys
random.seed(7)
t0 = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
evs = []
for c in range(100):
    t = random.randint(0, 100000)
    for a in random.choices(["a", "b", "c", "x"], weights=[5, 5, 5, 1], k=20):
        t += random.randint(1, 5000)
        evs.append((t, "c%03d" % c, a))
random.shuffle(evs)
order = sorted(range(len(evs)), key=lambda i: (evs[i][0], i))
pos = {i: k + 1 for k, i in enumerate(order)}
with open(sys.argv[1] + "/log.jsonl", "w") as f:
    for i, (t, c, a) in enumerate(evs):
        ts = (t0 + datetime.timedelta(seconds=t)).isoformat().replace("+00:00", "Z")
        f.write(json.dumps({"case": c, "activity": a, "time": ts, "n": pos[i],
                            "concept:name": a, "res": "r%d" % (i % 3)}) + "\n")
with open(sys.argv[1] + "/deviant", "w") as f:
    f.write("%d\n" % sum(1 for e in evs if e[2] == "x"))
PY
LOG=$TMP/log.jsonl
DEVIANT=$(cat "$TMP/deviant")

# --- usage and input errors: exit 2, a message, no request -------------------
expect_exit 0 "$V" replay --help
expect_grep "$TMP/out" '^usage: vigil replay'
expect_exit 2 "$V" replay "$LOG"
expect_grep "$TMP/err" 'missing --url'
expect_exit 2 "$V" replay --url http://127.0.0.1:9
expect_grep "$TMP/err" 'exactly one LOG'
expect_exit 2 "$V" replay "$LOG" "$LOG" --url http://127.0.0.1:9
expect_exit 2 "$V" replay "$LOG" --url ftp://127.0.0.1:9
expect_grep "$TMP/err" "is not an http:// or https:// URL"
expect_exit 2 "$V" replay "$LOG" --url 'http://127.0.0.1:9/?x=1'
for flag in "--batch 0" "--batch x" "--concurrency 0" "--concurrency 1000" "--rate -1" \
            "--rate fast" "--retries 101" "--timeout 0" "--skip -1" "--no-such-flag" \
            "--log-format yaml"; do
    # shellcheck disable=SC2086
    expect_exit 2 "$V" replay "$LOG" --url http://127.0.0.1:9 $flag
done
expect_exit 2 "$V" replay "$LOG" --url http://127.0.0.1:9 --token "$TMP/no-such-token"
expect_grep "$TMP/err" 'no-such-token: cannot open the token file'
printf ' \n' >"$TMP/empty.tok"
expect_exit 2 "$V" replay "$LOG" --url http://127.0.0.1:9 --token "$TMP/empty.tok"
expect_grep "$TMP/err" 'token file is empty'
printf 'a\nb\n' >"$TMP/two-lines.tok"
expect_exit 2 "$V" replay "$LOG" --url http://127.0.0.1:9 --token "$TMP/two-lines.tok"
expect_grep "$TMP/err" 'control characters'
expect_exit 2 "$V" replay "$TMP/nonexistent.xes" --url http://127.0.0.1:9
expect_grep "$TMP/err" '^vigil replay: .*nonexistent.xes: cannot open'
printf '{"case":"c1","activity":"a"}\n{"case":"c1",\n' >"$TMP/bad.jsonl"
expect_exit 2 "$V" replay "$TMP/bad.jsonl" --url http://127.0.0.1:9
expect_grep "$TMP/err" '^vigil replay: .*bad.jsonl:2'

# --- one event a request, one connection: the whole log in time order --------
start_fake
expect_exit 0 "$V" replay "$LOG" --url "$URL" --json
cp "$TMP/out" "$TMP/sum.json"
for k in events sent accepted rejected failed unsent status deviations results \
         results_by_prefix last_seq requests events_per_s latency_us wall_s; do
    [ "$(jf "$TMP/sum.json" "$k")" != null ] && pass || fail "summary lacks $k"
done
expect_eq "accepted" "$(jf "$TMP/sum.json" accepted)" 2000
expect_eq "deviations" "$(jf "$TMP/sum.json" deviations)" "$DEVIANT"
expect_eq "missing at k=1" "$(jf "$TMP/sum.json" results_by_prefix.1.missing)" "$DEVIANT"
expect_eq "ok checks" "$(jf "$TMP/sum.json" results.ok)" $(((2000 - DEVIANT) * 2))
expect_eq "last seq" "$(jf "$TMP/sum.json" last_seq)" 2000
expect_eq "requests" "$(jf "$TMP/sum.json" requests)" 2000
expect_le "p50 ≤ max" "$(jf "$TMP/sum.json" latency_us.p50)" "$(jf "$TMP/sum.json" latency_us.max)"
[ ! -s "$TMP/err" ] && pass || fail "stderr not empty without a terminal: $(head -c 200 "$TMP/err")"
# In strict time order, and each event as {"case","activity","time",attributes as strings}.
python3 - "$TMP/rec.jsonl" <<'PY' && pass || fail "events not sent in time order as expected"
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
assert [int(e["n"]) for e in evs] == list(range(1, 2001)), "not in time order"
e = evs[0]
assert set(e) == {"case", "activity", "time", "n", "res"}, sorted(e)
assert isinstance(e["n"], str) and e["time"].endswith("Z"), e
PY
fake_stats
expect_eq "content types" "$(jf "$TMP/stats.json" content_types)" '["application/json"]'
expect_eq "auth header" "$(jf "$TMP/stats.json" auth)" '[""]'
expect_eq "connections (keep-alive)" "$(jf "$TMP/stats.json" connections)" 1
"$V" replay "$LOG" --url "$URL" --skip 1900 >"$TMP/text.out" 2>&1
expect_grep "$TMP/text.out" '^events +2000 \(1900 skipped\)$'
expect_grep "$TMP/text.out" '^deviations +[0-9]+ \([0-9.]+%\)$'
expect_grep "$TMP/text.out" '^result +k=1 +k=2 *$'

expect_grep "$TMP/text.out" '^missing +[0-9]+ +0$'
expect_grep "$TMP/text.out" '^latency +p50 [0-9.]+ ms +p99 [0-9.]+ ms'

# --- four connections: per-case order kept, requests really in parallel ------
start_fake --delay 2
expect_exit 0 "$V" replay "$LOG" --url "$URL" --concurrency 4 --json
expect_eq "accepted (c4)" "$(jf "$TMP/out" accepted)" 2000
expect_eq "deviations (c4)" "$(jf "$TMP/out" deviations)" "$DEVIANT"
fake_stats
expect_eq "one case in flight twice (c4)" "$(jf "$TMP/stats.json" overlaps)" 0
expect_eq "a case out of order (c4)" "$(jf "$TMP/stats.json" order_errors)" 0
expect_le "parallel requests (c4)" 2 "$(jf "$TMP/stats.json" max_inflight)"
expect_le "requests in flight (c4)" "$(jf "$TMP/stats.json" max_inflight)" 4
expect_eq "connections (c4, keep-alive)" "$(jf "$TMP/stats.json" connections)" 4

# --- NDJSON batches over three connections -------------------------------------
start_fake --delay 1
expect_exit 0 "$V" replay "$LOG" --url "$URL/" --batch 25 --concurrency 3 --json
expect_eq "accepted (batch)" "$(jf "$TMP/out" accepted)" 2000
expect_eq "deviations (batch)" "$(jf "$TMP/out" deviations)" "$DEVIANT"
expect_eq "unknown_state at k=2 (batch)" "$(jf "$TMP/out" results_by_prefix.2.unknown_state)" \
    "$DEVIANT"
expect_le "requests (batch)" "$(jf "$TMP/out" requests)" 83
fake_stats
expect_eq "content types (batch)" "$(jf "$TMP/stats.json" content_types)" '["application/x-ndjson"]'
expect_eq "one case in flight twice (batch)" "$(jf "$TMP/stats.json" overlaps)" 0
expect_eq "a case out of order (batch)" "$(jf "$TMP/stats.json" order_errors)" 0

# --- --skip: resume after the first 1500 events of the time-ordered stream ------
start_fake
expect_exit 0 "$V" replay "$LOG" --url "$URL" --skip 1500 --json
expect_eq "skipped" "$(jf "$TMP/out" skipped)" 1500
expect_eq "sent after skip" "$(jf "$TMP/out" sent)" 500
expect_eq "first event after skip" "$(head -1 "$TMP/rec.jsonl" | python3 -c 'import json,sys; print(json.load(sys.stdin)["n"])')" 1501
expect_exit 0 "$V" replay "$LOG" --url "$URL" --skip 5000 --json
expect_eq "skip past the end" "$(jf "$TMP/out" sent)" 0
expect_grep "$TMP/err" 'warning: --skip 5000 passes the 2000 events'

# --- --rate: 200 events at 1000/s take about 0.2 s, never much less -----------
start_fake
t0=$(date +%s%N)
expect_exit 0 "$V" replay "$LOG" --url "$URL" --skip 1800 --rate 1000 --concurrency 2 --json
t1=$(date +%s%N)
expect_le "200 events at --rate 1000 (s)" 0.15 "$(((t1 - t0) / 1000000))e-3"
expect_le "events/s at --rate 1000" "$(jf "$TMP/out" events_per_s)" 1200

# --- bearer token --------------------------------------------------------------
start_fake --token s3cret
printf '  s3cret\n' >"$TMP/ok.tok"
expect_exit 0 "$V" replay "$LOG" --url "$URL" --skip 1990 --token "$TMP/ok.tok"
fake_stats
expect_eq "auth header" "$(jf "$TMP/stats.json" auth)" '["Bearer s3cret"]'
expect_exit 1 "$V" replay "$LOG" --url "$URL" --skip 1990 --json
expect_grep "$TMP/err" 'HTTP 401 for 1 event from #1991 .*unauthorized'
expect_eq "status 401" "$(jf "$TMP/out" status.401)" 10
expect_eq "rejected (401)" "$(jf "$TMP/out" rejected)" 10

# --- 4xx: counted as rejected, the run goes on, the first answer is shown ------
start_fake --reject x
expect_exit 1 "$V" replay "$LOG" --url "$URL" --batch 10 --concurrency 2 --json
expect_grep "$TMP/err" 'HTTP 400 for 10 events from #[0-9]+ .*rejected on purpose'
expect_eq "accepted + rejected" \
    $(($(jf "$TMP/out" accepted) + $(jf "$TMP/out" rejected))) 2000
expect_le "some rejected" 1 "$(jf "$TMP/out" rejected)"
expect_grep "$TMP/out" '"first_error":"HTTP 400'

# --- 5xx: a clean failure by default, retried with --retries ---------------------
start_fake --fail-first 2
expect_exit 1 "$V" replay "$LOG" --url "$URL" --skip 1900
expect_grep "$TMP/err" 'HTTP 503: .*not_ready.*after 1 attempt; stopping'
expect_grep "$TMP/err" '0 of 100 events acknowledged'
start_fake --fail-first 2
expect_exit 0 "$V" replay "$LOG" --url "$URL" --skip 1900 --retries 3 --json
expect_eq "retries" "$(jf "$TMP/out" retries)" 2
expect_eq "accepted after retries" "$(jf "$TMP/out" accepted)" 100

# --- the service dies mid-way: exit 1, what was acknowledged, then resume -------
start_fake --die-after 300
expect_exit 1 "$V" replay "$LOG" --url "$URL" --json
expect_grep "$TMP/err" 'stopping$'
expect_grep "$TMP/err" '^vigil replay: 300 of 2000 events acknowledged \(last seq 300\)'
expect_eq "accepted before the crash" "$(jf "$TMP/out" accepted)" 300
expect_eq "unsent after the crash" "$(jf "$TMP/out" unsent)" 1700
start_fake
expect_exit 0 "$V" replay "$LOG" --url "$URL" --skip 300 --concurrency 3 --json
expect_eq "resumed" "$(jf "$TMP/out" accepted)" 1700
fake_stats
expect_eq "a case out of order (resumed)" "$(jf "$TMP/stats.json" order_errors)" 0
start_fake --die-after 300 --delay 1
expect_exit 1 "$V" replay "$LOG" --url "$URL" --concurrency 4 --json
expect_grep "$TMP/err" 'events acknowledged'
expect_le "acknowledged with four connections" "$(jf "$TMP/out" accepted)" 300
stop_server
# Nobody listening at all.
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
expect_exit 1 "$V" replay "$LOG" --url "http://127.0.0.1:$PORT" --timeout 5
expect_grep "$TMP/err" "127.0.0.1:$PORT/v1/events: .*onnect"
expect_grep "$TMP/err" '0 of 2000 events acknowledged'

# --- other inputs: CSV without timestamps (file order), XES attributes --------
start_fake
printf 'case,activity,who\nc1,a,ann\nc2,b,bob\nc1,x,ann\n' >"$TMP/untimed.csv"
expect_exit 0 "$V" replay "$TMP/untimed.csv" --url "$URL" --json
expect_grep "$TMP/err" 'without a timestamp; sending in file order'
expect_eq "untimed deviations" "$(jf "$TMP/out" deviations)" 1
python3 - "$TMP/rec.jsonl" <<'PY' && pass || fail "untimed CSV sent wrongly"
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
assert [(e["case"], e["activity"]) for e in evs] == [("c1", "a"), ("c2", "b"), ("c1", "x")]
assert all("time" not in e and e["who"] for e in evs), evs
PY
if [ -e "$VG_DATA_DIR/real/running-example.xes" ]; then
    start_fake
    expect_exit 0 "$V" replay "$VG_DATA_DIR/real/running-example.xes" --url "$URL" --json
    python3 - "$TMP/rec.jsonl" <<'PY' && pass || fail "XES attributes sent wrongly"
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
assert evs and all(isinstance(v, str) for e in evs for v in e.values())
assert not any(k in e for e in evs for k in ("concept:name", "time:timestamp", "case_id"))
assert all("time" in e for e in evs)
assert sorted(e["time"] for e in evs) == [e["time"] for e in evs], "not in time order"
PY
    expect_exit 0 "$V" replay "$VG_DATA_DIR/real/running-example.xes" --url "$URL" --no-attrs
    python3 - "$TMP/rec.jsonl" <<'PY' && pass || fail "--no-attrs sent attributes"
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
assert {k for e in evs[len(evs) // 2:] for k in e} == {"case", "activity", "time"}
PY
else
    echo "note: $VG_DATA_DIR/real/running-example.xes missing; XES checks skipped" >&2
fi
stop_server

# --- the real service: deviations over HTTP equal `vigil check` -----------------
# Each SEC "-semi-a" log is replayed to a service trained on the matching
# "-no-a" log; `vigil check` judges the same log, both in time order.
# start_vigil TRAIN_LOG DATA_DIR
start_vigil() {
    stop_server
    NSERVERS=$((NSERVERS + 1))
    "$V" serve --listen 127.0.0.1:0 --train "$1" --data-dir "$2" 2>"$TMP/serve-$NSERVERS.err" &
    SERVER_PID=$!
    wait_url "$TMP/serve-$NSERVERS.err"
}
# same_counts WHAT CHECK_SUMMARY REPLAY_SUMMARY : deviations and the result table agree
same_counts() {
    local a b
    a=$(grep -E '^(deviations|result|ok|low|missing|unknown_state) ' "$2" | awk '{$NF=$NF; print}' | sed 's/ (.*//')
    b=$(grep -E '^(deviations|result|ok|low|missing|unknown_state) ' "$3" | awk '{$NF=$NF; print}' | sed 's/ (.*//')
    if [ -n "$a" ] && [ "$a" = "$b" ]; then pass; else
        fail "$1: vigil check and vigil replay disagree"
        diff <(echo "$a") <(echo "$b") | head -10 >&2
    fi
}
if ! "$V" serve --help >/dev/null 2>&1; then
    echo "note: vigil serve is not built; the checks against the real service were skipped" >&2
elif [ ! -e "$VG_DATA_DIR/sec/skip-semi-a.xes.gz" ]; then
    echo "note: SEC logs missing in $VG_DATA_DIR; the checks against the real service were skipped" >&2
else
    for p in skip nfc dup par; do
        train=$VG_DATA_DIR/sec/$p-no-a.xes.gz log=$VG_DATA_DIR/sec/$p-semi-a.xes.gz
        [ -e "$train" ] && [ -e "$log" ] || continue
        "$V" train -q "$train" -o "$TMP/$p.vgm" &&
            "$V" check --model "$TMP/$p.vgm" "$log" --format summary >"$TMP/$p.check" ||
            fail "$p: vigil check failed"
        start_vigil "$train" "$TMP/data-$p" || continue
        expect_exit 0 "$V" replay "$log" --url "$URL" --concurrency 4
        cp "$TMP/out" "$TMP/$p.single"
        same_counts "$p, one event a request" "$TMP/$p.check" "$TMP/$p.single"
        start_vigil "$train" "$TMP/data-$p-batch" || continue
        expect_exit 0 "$V" replay "$log" --url "$URL" --batch 100 --concurrency 2
        cp "$TMP/out" "$TMP/$p.batch"
        same_counts "$p, batches of 100" "$TMP/$p.check" "$TMP/$p.batch"
        events=$(awk '/^events/ {print $2}' "$TMP/$p.check")
        expect_grep "$TMP/$p.batch" "^last seq +$events\$"
    done
    # The service is killed (-9) in the middle of a replay: the client says
    # how far it got and exits 1; restarted on the same data directory, the
    # service recovers, and the replay resumes after its last seq (one
    # connection: what it applied is a prefix of the stream). The service
    # then counts what an uninterrupted run counts.
    p=par train=$VG_DATA_DIR/sec/par-no-a.xes.gz log=$VG_DATA_DIR/sec/par-semi-a.xes.gz
    if [ -e "$train" ] && [ -e "$log" ] && [ -s "$TMP/$p.check" ] &&
        start_vigil "$train" "$TMP/data-crash"; then
        "$V" replay "$log" --url "$URL" --rate 5000 --json >"$TMP/crash.out" 2>"$TMP/crash.err" &
        replay_pid=$!
        sleep 0.4
        kill -9 "$SERVER_PID"
        wait "$SERVER_PID" 2>/dev/null
        SERVER_PID=
        rc=0
        wait "$replay_pid" || rc=$?
        expect_eq "exit status after kill -9" "$rc" 1
        expect_grep "$TMP/crash.err" '^vigil replay: [0-9]+ of [0-9]+ events acknowledged'
        start_vigil "$train" "$TMP/data-crash"
        get v1/stats
        seq=$(jf "$TMP/stats.json" log.last_seq)
        expect_le "acknowledged ≤ logged" "$(jf "$TMP/crash.out" accepted)" "$seq"
        expect_exit 0 "$V" replay "$log" --url "$URL" --skip "$seq" --batch 50
        get v1/stats
        expect_eq "deviations after a crash and a resumed replay" \
            "$(jf "$TMP/stats.json" deviations)" "$(awk '/^deviations/ {print $2}' "$TMP/$p.check")"
        expect_eq "events after a crash and a resumed replay" \
            "$(jf "$TMP/stats.json" events)" "$(awk '/^events/ {print $2}' "$TMP/$p.check")"
    fi
    stop_server
fi

finish
