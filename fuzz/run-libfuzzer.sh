#!/usr/bin/env bash
# Build every fuzz target with clang's libFuzzer (+ ASan + UBSan) straight
# from the library's sources, and run each for SECONDS on its seed corpus.
# For developers, not CI (CI runs the same targets through fuzz/driver.c).
#
# usage: fuzz/run-libfuzzer.sh [SECONDS] [TARGET...]
#        SECONDS per target, default 60; targets default to all of:
#        xes csv jsonl log_auto model time wal checker_state rules_text cep_rules
# environment:
#   CC             clang to use (default: clang-14, else clang)
#   VG_FUZZ_OUT    work directory (default: build-libfuzzer/ in the checkout)
#   VG_FUZZ_JOBS   targets fuzzed at once (default: nproc)
#   VG_FUZZ_FLAGS  more libFuzzer flags, e.g. "-fork=2 -ignore_crashes=1" to
#                  go on past a known crash
#   VG_DATA_DIR    shared data; xes-edge/ there seeds the XES targets
#                  (default: ../shared/data beside the checkout)
#
# The corpus libFuzzer grows is kept in $VG_FUZZ_OUT/corpus/<target> (never
# in fuzz/corpus); crashes land in $VG_FUZZ_OUT/artifacts/. Replay one with
#   $VG_FUZZ_OUT/fuzz_<target> FILE
# or, without clang, with the CTest build's driver: build/fuzz/fuzz_<target> --iters 0 FILE
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(xes csv jsonl log_auto model time wal checker_state rules_text cep_rules)
out=${VG_FUZZ_OUT:-$root/build-libfuzzer}
jobs=${VG_FUZZ_JOBS:-$(nproc)}
data=${VG_DATA_DIR:-$root/../shared/data}
cc=${CC:-$(command -v clang-14 || command -v clang || true)}
[ -n "$cc" ] || { echo "run-libfuzzer.sh: clang not found (set CC)" >&2; exit 2; }

mkdir -p "$out/obj" "$out/corpus" "$out/artifacts" "$out/log" "$out/extra"
# shellcheck disable=SC2207
pc_cflags=($(pkg-config --cflags expat zlib jansson))
# shellcheck disable=SC2207
pc_libs=($(pkg-config --libs expat zlib jansson))
cflags=(-std=c17 -g -O1 -fno-omit-frame-pointer -Wall -Wextra
        -fsanitize=address,undefined -fno-sanitize-recover=all
        -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
        -I"$root/include" -I"$root/src" -I"$root/fuzz" "${pc_cflags[@]}")

echo "== building with $cc into $out"
# The library's parsing parts (rules/ needs cep/ to check what it parsed):
# not render/ (graphviz draws, it parses nothing) nor pipeline/ (it drives
# the others).
srcs=("$root"/src/core/*.c "$root"/src/io/*.c "$root"/src/model/*.c "$root"/src/log/*.c
      "$root"/src/rules/*.c "$root"/src/cep/*.c)
objs=()
for s in "${srcs[@]}"; do
    rel=${s#"$root"/src/}
    objs+=("$out/obj/${rel//\//_}.o")
done
# Coverage instrumentation only (fuzzer-no-link); libFuzzer is linked once
# per target below.
printf '%s\n' "${srcs[@]}" | xargs -P "$jobs" -I{} sh -c '
    s=$1; shift; out=$1; root=$2; shift 2
    rel=${s#"$root"/src/}; rel=$(printf %s "$rel" | tr / _)
    exec "$@" -fsanitize=fuzzer-no-link -c "$s" -o "$out/obj/$rel.o"
' _ {} "$out" "$root" "$cc" "${cflags[@]}"
for t in "${targets[@]}"; do
    "$cc" "${cflags[@]}" -fsanitize=fuzzer "$root/fuzz/fuzz_$t.c" "$root/fuzz/common.c" \
        "${objs[@]}" "${pc_libs[@]}" -lcsv -lm -pthread -o "$out/fuzz_$t" &
done
wait

# Seeds of the XES targets from the shared data, behind the reader header
# (fuzz/README.md): copied, never committed.
shared_seeds() {
    local dir=$out/extra/$1
    rm -rf "$dir"
    [ -d "$data/xes-edge" ] || return 0
    mkdir -p "$dir"
    for f in "$data"/xes-edge/*; do
        { printf 0000; cat "$f"; } >"$dir/$(basename "$f")"
    done
    echo "$dir"
}

dict_for() {
    if [ "$1" = log_auto ]; then
        cat "$root"/fuzz/dict/{log_auto,xes,csv,jsonl}.dict >"$out/extra/log_auto.dict"
        echo "$out/extra/log_auto.dict"
    else
        echo "$root/fuzz/dict/$1.dict"
    fi
}

run_target() {
    local t=$1 extra=()
    mkdir -p "$out/corpus/$t"
    case $t in xes | log_auto) extra=($(shared_seeds "$t")) ;; esac
    # VG_FUZZ_WRITE_SEEDS: the model target writes its in-process seeds there.
    # shellcheck disable=SC2086
    VG_FUZZ_WRITE_SEEDS="$out/corpus/$t" \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$out/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -max_len=70000 -dict="$(dict_for "$t")" -artifact_prefix="$out/artifacts/$t-" \
        -print_final_stats=1 ${VG_FUZZ_FLAGS:-} \
        "$out/corpus/$t" "$root/fuzz/corpus/$t" "${extra[@]}" >"$out/log/$t.log" 2>&1
}

echo "== fuzzing ${targets[*]} for $secs s each, $jobs at a time (logs: $out/log/)"
declare -A status
running=0
for t in "${targets[@]}"; do
    if [ "$running" -ge "$jobs" ]; then
        wait -n || true
        running=$((running - 1))
    fi
    (run_target "$t" && echo ok >"$out/log/$t.status" || echo "failed ($?)" >"$out/log/$t.status") &
    running=$((running + 1))
done
wait

fails=0
for t in "${targets[@]}"; do
    status[$t]=$(cat "$out/log/$t.status")
    stats=$(grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|INFO: exiting)' \
        "$out/log/$t.log" | tr '\n' ' ' || true)
    echo "$t: ${status[$t]}; $stats"
    if [ "${status[$t]}" != ok ]; then
        fails=$((fails + 1))
        grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error|.*fuzz invariant violated|Parse)' \
            "$out/log/$t.log" | head -5 | sed 's/^/    /' || true
    fi
done
ls "$out"/artifacts/ 2>/dev/null | sed 's/^/artifact: /' || true
[ "$fails" -eq 0 ]
