#!/usr/bin/env bash
# Golden tests of the CEP examples (examples/*/rules.rules): each example's
# events.jsonl through `vigil cep --actions --stats` must give exactly its
# expected.jsonl (complex events and action events, in order) and
# expected-stats.json (completed/halted/active). The expected files were
# checked by hand against the rules' meaning — see the comments in each
# rules.rules; regenerate only after reviewing the diff.
# Also: `vigil rules check|explain` on each, and the CLI's error paths.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
V=$VG_BIN
EX=$VG_SOURCE_DIR/examples

n=0
for dir in "$EX"/*/; do
    [ -f "$dir/rules.rules" ] || continue
    n=$((n + 1))
    name=$(basename "$dir")
    expect_exit 0 "$V" cep --rules "$dir/rules.rules" --actions --stats "$dir/events.jsonl"
    if diff -u "$dir/expected.jsonl" "$TMP/out" >"$TMP/diff"; then pass; else
        fail "$name: complex events differ"; head -30 "$TMP/diff" >&2; fi
    if diff -u "$dir/expected-stats.json" "$TMP/err" >"$TMP/diff"; then pass; else
        fail "$name: stats differ"; cat "$TMP/diff" >&2; fi
    # The same from standard input.
    "$V" cep --rules "$dir/rules.rules" --actions - <"$dir/events.jsonl" >"$TMP/stdin.out" 2>&1
    if cmp -s "$dir/expected.jsonl" "$TMP/stdin.out"; then pass; else fail "$name: stdin differs"; fi
    # Without --actions: exactly the complex events.
    "$V" cep --rules "$dir/rules.rules" "$dir/events.jsonl" >"$TMP/c.out" 2>&1
    grep '"type":"complex"' "$dir/expected.jsonl" >"$TMP/c.want"
    if cmp -s "$TMP/c.want" "$TMP/c.out"; then pass; else fail "$name: without --actions"; fi
    expect_exit 0 "$V" rules check "$dir/rules.rules"
    expect_exit 0 "$V" rules explain "$dir/rules.rules"
    [ -s "$TMP/out" ] && pass || fail "$name: explain printed nothing"
done
[ "$n" -ge 3 ] && pass || fail "only $n examples found"

# Errors: a bad rule is located as file:line:col; bad events name the line.
printf 'phenomenon x {\n    pattern p {\n        next a: type ==\n    }\n}\n' >"$TMP/bad.rules"
expect_exit 2 "$V" rules check "$TMP/bad.rules"
expect_grep "$TMP/err" "^$TMP/bad.rules:3:[0-9]+: "
expect_exit 2 "$V" cep --rules "$TMP/bad.rules" /dev/null
expect_grep "$TMP/err" "^$TMP/bad.rules:3:[0-9]+: "
printf '{"phenomenon":"j","patterns":[{"name":"p","blocks":[{"op":"next","group":"a","predicate":"v > 1"}]}]}\n' >"$TMP/j.json"
printf '{"v":2,"time":1}\nnot json\n' >"$TMP/ev.jsonl"
expect_exit 1 "$V" cep --rules "$TMP/j.json" "$TMP/ev.jsonl"
expect_grep "$TMP/err" "ev.jsonl:2: "
expect_grep "$TMP/out" '"phenomenon":"j"'
expect_exit 2 "$V" cep --rules "$TMP/missing.rules" /dev/null
expect_exit 2 "$V" cep /dev/null
expect_exit 2 "$V" rules frobnicate x
expect_exit 0 "$V" cep --help
finish
