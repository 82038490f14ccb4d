#!/usr/bin/env bash
# The fuzz harness stays whole: every target in fuzz/ has seeds, a
# dictionary, a CTest entry and a place in run-libfuzzer.sh's default list;
# the libFuzzer script parses; the fuzz sources keep the banned-function
# rule that scripts/test.sh checks for src/ and include/. (The targets
# themselves run as the fuzz_* CTest entries.)
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
F=$VG_SOURCE_DIR/fuzz

check() { if "$@"; then pass; else fail "$*"; fi; }

check bash -n "$F/run-libfuzzer.sh"
defaults=$(grep -E '^\[ \$\{#targets\[@\]\} -gt 0 \] \|\| targets=' "$F/run-libfuzzer.sh")
n=0
for src in "$F"/fuzz_*.c; do
    t=$(basename "$src" .c)
    t=${t#fuzz_}
    n=$((n + 1))
    check test -n "$(ls -A "$F/corpus/$t" 2>/dev/null)"
    check test -s "$F/dict/$t.dict"
    check grep -qE "^vg_fuzz_target\($t " "$F/CMakeLists.txt"
    check grep -qE "[( ]$t[ )]" <<<"$defaults"
    check grep -q "LLVMFuzzerTestOneInput" "$src"
done
check test "$n" -ge 6

if grep -nE '\b(sprintf|strcpy|strcat|strtok|atoi|sscanf|gets)\s*\(' "$F"/*.c "$F"/*.h; then
    fail "banned function in fuzz/"
else
    pass
fi
finish
