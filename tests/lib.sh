# Shared helpers for the shell-driven tests in tests/cli/ (sourced).

: "${VG_BIN:?VG_BIN must point at the vigil binary}"
: "${VG_SOURCE_DIR:?}"
VG_DATA_DIR=${VG_DATA_DIR:-$VG_SOURCE_DIR/../shared/data}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
PASSED=0
FAILED=0

pass() { PASSED=$((PASSED + 1)); }
fail() { FAILED=$((FAILED + 1)); echo "FAIL: $*" >&2; }

# expect_exit CODE CMD... : run CMD, check its exit status; output in $TMP/out, $TMP/err
expect_exit() {
    local want=$1; shift
    local got=0
    "$@" >"$TMP/out" 2>"$TMP/err" || got=$?
    if [ "$got" = "$want" ]; then pass; else
        fail "exit $got (wanted $want): $*"; sed 's/^/  stderr: /' "$TMP/err" | head -5 >&2; fi
}

# expect_grep FILE PATTERN : FILE contains a line matching PATTERN (grep -E)
expect_grep() {
    if grep -qE -- "$2" "$1"; then pass; else
        fail "$1 lacks /$2/"; head -5 "$1" | sed 's/^/  got: /' >&2; fi
}

need_data() {
    if [ ! -e "$VG_DATA_DIR/$1" ]; then
        echo "SKIP: shared data $1 not found in $VG_DATA_DIR" >&2
        echo "0 passed, 0 failed, 1 skipped"
        exit 77
    fi
}

finish() {
    echo "$PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ]
}
