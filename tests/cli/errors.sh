#!/usr/bin/env bash
# Bad input and bad usage: every case gets a clear message on stderr and exit
# status 2, never a crash or a hang; --help of every command exits 0.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
V=$VG_BIN

# --- usage -----------------------------------------------------------------
expect_exit 2 "$V"
expect_grep "$TMP/err" '^usage: vigil COMMAND'
expect_exit 0 "$V" --help
expect_grep "$TMP/out" 'train'
expect_exit 2 "$V" frobnicate
expect_grep "$TMP/err" "unknown command 'frobnicate'"
for cmd in train check render; do
    expect_exit 0 "$V" "$cmd" --help
    expect_grep "$TMP/out" "^usage: vigil $cmd"
    expect_exit 2 "$V" "$cmd" --no-such-flag
done
expect_exit 0 "$V" model --help
expect_exit 2 "$V" model
expect_exit 2 "$V" model info

# --- a small valid log and model to work with ---------------------------------
printf 'case,activity,time\nc1,a,2020-01-01T00:00:00Z\nc1,b,2020-01-01T00:01:00Z\nc2,a,2020-01-01T00:02:00Z\nc2,c,2020-01-01T00:03:00Z\n' >"$TMP/ok.csv"
expect_exit 0 "$V" train -q "$TMP/ok.csv" -o "$TMP/ok.vgm"

# --- train -------------------------------------------------------------------
expect_exit 2 "$V" train "$TMP/ok.csv"
expect_grep "$TMP/err" 'missing -o MODEL'
expect_exit 2 "$V" train -o "$TMP/x.vgm"
expect_grep "$TMP/err" 'no LOG'
expect_exit 2 "$V" train "$TMP/nonexistent.xes" -o "$TMP/x.vgm"
expect_grep "$TMP/err" "nonexistent.xes: cannot open"
for bad in 0 17 1,1 1, x ""; do
    expect_exit 2 "$V" train "$TMP/ok.csv" -o "$TMP/x.vgm" --prefix "$bad"
    expect_grep "$TMP/err" '^vigil train: --prefix'
done
: >"$TMP/empty.csv"
expect_exit 2 "$V" train "$TMP/empty.csv" -o "$TMP/x.vgm"
printf 'case,activity\n' >"$TMP/header-only.csv"
expect_exit 2 "$V" train "$TMP/header-only.csv" -o "$TMP/x.vgm"
expect_grep "$TMP/err" 'no events'
head -c 65536 /dev/urandom >"$TMP/garbage.bin"
expect_exit 2 "$V" train "$TMP/garbage.bin" -o "$TMP/x.vgm"
expect_grep "$TMP/err" "garbage.bin"
printf '<log><trace><string key="concept:name" value="t1"/><event><string key="concept:name" value="a"/>' >"$TMP/torn.xes"
expect_exit 2 "$V" train "$TMP/torn.xes" -o "$TMP/x.vgm"
expect_grep "$TMP/err" 'torn.xes:[0-9]+'
printf '{"case":"c1","activity":"a"}\n{"case":"c1",\n' >"$TMP/bad.jsonl"
expect_exit 2 "$V" train "$TMP/bad.jsonl" -o "$TMP/x.vgm"
expect_grep "$TMP/err" 'bad.jsonl:2'
expect_exit 2 "$V" train "$TMP/ok.csv" -o /nonexistent-dir/x.vgm
expect_grep "$TMP/err" 'cannot write the model'
[ ! -e "$TMP/x.vgm" ] && pass || fail "a failed train left a model behind"

# --- check -------------------------------------------------------------------
expect_exit 2 "$V" check "$TMP/ok.csv"
expect_grep "$TMP/err" 'missing --model'
expect_exit 2 "$V" check --model "$TMP/ok.vgm"
expect_exit 2 "$V" check --model "$TMP/ok.vgm" "$TMP/ok.csv" "$TMP/ok.csv"
for flag in "--threshold 2" "--threshold x" "--policy most" "--on-deviation ignore" \
            "--format xml" "--order random" "--min-k 0" "--log-format yaml" "--separator ab"; do
    # shellcheck disable=SC2086
    expect_exit 2 "$V" check --model "$TMP/ok.vgm" "$TMP/ok.csv" $flag
done
expect_exit 2 "$V" check --model "$TMP/garbage.bin" "$TMP/ok.csv"
expect_grep "$TMP/err" 'not a vigil model file'
cp "$TMP/ok.vgm" "$TMP/flipped.vgm"
printf '\x00' | dd of="$TMP/flipped.vgm" bs=1 seek=40 conv=notrunc status=none
expect_exit 2 "$V" check --model "$TMP/flipped.vgm" "$TMP/ok.csv"
expect_grep "$TMP/err" 'flipped.vgm: checksum mismatch'
head -c 30 "$TMP/ok.vgm" >"$TMP/short.vgm"
expect_exit 2 "$V" check --model "$TMP/short.vgm" "$TMP/ok.csv"
expect_grep "$TMP/err" 'short.vgm: .*truncated'
expect_exit 2 "$V" check --model "$TMP/ok.vgm" "$TMP/garbage.bin"
expect_exit 0 "$V" check --model "$TMP/ok.vgm" "$TMP/header-only.csv"
[ ! -s "$TMP/out" ] && pass || fail "an empty log printed verdicts"

# --- render / model info ------------------------------------------------------
expect_exit 2 "$V" render --model "$TMP/ok.vgm" --prefix 7 -o "$TMP/x.png"
expect_grep "$TMP/err" 'no prefix length 7'
expect_exit 2 "$V" render --model "$TMP/ok.vgm" --prefix 2 -o "$TMP/x.png" --format gif
expect_exit 2 "$V" render --model "$TMP/ok.vgm" --prefix 2 -o "$TMP/x.png" --top -1
expect_exit 2 "$V" model info "$TMP/garbage.bin"
expect_grep "$TMP/err" 'not a vigil model file'

# --- unusual but valid input ---------------------------------------------------
# A 1 MB activity name is ordinary data.
python3 -c "
import sys
big = 'x' * (1 << 20)
sys.stdout.write('case,activity\nc1,a\nc1,' + big + '\nc2,a\nc2,b\n')" >"$TMP/big.csv"
expect_exit 0 "$V" train -q "$TMP/big.csv" -o "$TMP/big.vgm"
expect_exit 0 "$V" check --model "$TMP/big.vgm" "$TMP/big.csv" --format summary
expect_grep "$TMP/out" '^events +4'
# Events without timestamps: file order, with a warning.
printf 'case,activity\nc1,a\nc1,b\n' >"$TMP/untimed.csv"
expect_exit 0 "$V" check --model "$TMP/ok.vgm" "$TMP/untimed.csv"
expect_grep "$TMP/err" 'without a timestamp'
# A case id repeated across XES traces: merged, with a warning; a trace with no events.
cat >"$TMP/repeat.xes" <<'XES'
<?xml version="1.0" encoding="UTF-8"?>
<log xes.version="1.0" xmlns="http://www.xes-standard.org/">
  <trace><string key="concept:name" value="t1"/>
    <event><string key="concept:name" value="a"/></event></trace>
  <trace><string key="concept:name" value="empty"/></trace>
  <trace><string key="concept:name" value="t1"/>
    <event><string key="concept:name" value="b"/></event></trace>
</log>
XES
expect_exit 0 "$V" train "$TMP/repeat.xes" -o "$TMP/repeat.vgm"
expect_grep "$TMP/err" "warning: .*repeat.xes.*'t1'"
expect_exit 0 "$V" model info "$TMP/repeat.vgm"
expect_grep "$TMP/out" '^events +2'
expect_grep "$TMP/out" '^traces +1'

finish
