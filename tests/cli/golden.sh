#!/usr/bin/env bash
# Golden CLI tests: each case runs a vigil command and compares what it
# printed (stdout, then stderr after a "--- stderr" line), with the temporary
# directory, data directory and timings masked, against tests/golden/NAME.out.
# VG_GOLDEN_UPDATE=1 rewrites the expected files (then review the diff!).
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
need_data sec/Simple_Training2.xes.gz
G=$VG_SOURCE_DIR/tests/golden
D=$VG_DATA_DIR
V=$VG_BIN

golden() {
    local name=$1; shift
    local status=0
    (cd "$TMP" && "$@") >"$TMP/g.out" 2>"$TMP/g.err" || status=$?
    {
        cat "$TMP/g.out"
        echo "--- stderr"
        cat "$TMP/g.err"
        echo "--- exit $status"
    } | sed -e "s#$TMP#TMP#g" -e "s#$D#DATA#g" -e "s#$VG_SOURCE_DIR#SRC#g" \
            -e 's/in [0-9.]* s$/in N s/' -e 's/^time .*/time N/' \
            -e 's/^\(trained at\|file size\|memory\) .*/\1 N/' >"$TMP/g.actual"
    if [ "${VG_GOLDEN_UPDATE:-}" = 1 ]; then
        cp "$TMP/g.actual" "$G/$name.out"
    fi
    if diff -u "$G/$name.out" "$TMP/g.actual" >"$TMP/g.diff" 2>&1; then
        pass
    else
        fail "golden $name differs:"
        head -40 "$TMP/g.diff" >&2
    fi
}

S2=$D/sec/Simple_Training2.xes.gz
S1=$D/sec/Simple_Training1.xes.gz
golden train_simple2_k1 "$V" train "$S2" -o s2k1.vgm --prefix 1
golden info_simple2_k1 "$V" model info s2k1.vgm
golden check_simple1_k1 "$V" check --model s2k1.vgm "$S1" -o s1checked.vgm
golden render_json_k1 "$V" render --model s1checked.vgm --prefix 1 --format json -o -
golden train_simple2_k12 "$V" train -q "$S2" -o s2k12.vgm --prefix 2,1
golden check_simple1_k12_end "$V" check --model s2k12.vgm "$S1" --end-cases
golden check_simple1_k12_all "$V" check --model s2k12.vgm "$S1" --policy all --format summary
golden check_simple1_k12_drop "$V" check --model s2k12.vgm "$S1" --on-deviation drop --order file
golden train_running_xes "$V" train "$D/real/running-example.xes" -o running.vgm
golden check_running_csv "$V" check --model running.vgm "$D/real/running-example.csv" --format summary
golden train_orders "$V" train "$VG_SOURCE_DIR/examples/orders.csv" -o orders.vgm --prefix 1,2,3
golden check_orders_new "$V" check --model orders.vgm "$VG_SOURCE_DIR/examples/orders-new.csv" --end-cases --threshold 0.01
finish
