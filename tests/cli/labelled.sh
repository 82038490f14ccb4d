#!/usr/bin/env bash
# The labelled-log test: train on each noise-free SEC log, check its noisy
# variants with the defaults, and require that every injected `x` event is
# flagged and no other event is.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
need_data sec/dup-no-a.xes.gz

for family in dup nfc par skip; do
    model=$TMP/$family.vgm
    expect_exit 0 "$VG_BIN" train -q "$VG_DATA_DIR/sec/$family-no-a.xes.gz" -o "$model"
    for log in "$VG_DATA_DIR"/sec/"$family"-global-*.xes.gz "$VG_DATA_DIR/sec/$family-local-a.xes.gz" \
               "$VG_DATA_DIR/sec/$family-semi-a.xes.gz"; do
        name=$(basename "$log")
        expect_exit 0 "$VG_BIN" check --model "$model" "$log"
        # Count x events, flagged x events and flagged other events.
        read -r events xs flagged_x flagged_other < <(python3 - "$TMP/out" <<'PY'
import json, sys
events = xs = fx = fo = 0
for line in open(sys.argv[1]):
    v = json.loads(line)
    events += 1
    is_x = v["activity"] == "x"
    xs += is_x
    if v["deviation"]:
        fx += is_x
        fo += not is_x
print(events, xs, fx, fo)
PY
)
        if [ "$xs" -gt 0 ] && [ "$flagged_x" = "$xs" ] && [ "$flagged_other" = 0 ]; then
            pass
            echo "ok   $name: $events events, $xs x events, all flagged, no other flagged"
        else
            fail "$name: $events events, $xs x events, $flagged_x flagged, $flagged_other others flagged"
        fi
    done
done
finish
