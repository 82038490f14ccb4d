#!/usr/bin/env bash
# The main job on bundled defaults: install what is missing, build, train a
# model on the example purchase-order log, judge a log of new orders against
# it, and draw the k=2 automaton with the deviations found.
# Outputs go to out/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/build.sh build
out=out/demo
mkdir -p "$out"
vigil=build/vigil

echo "== train on examples/orders.csv"
$vigil train examples/orders.csv -o "$out/orders.vgm"
echo
echo "== check examples/orders-new.csv (deviations only; every verdict is in $out/verdicts.jsonl)"
$vigil check --model "$out/orders.vgm" examples/orders-new.csv --end-cases \
       -o "$out/orders-checked.vgm" > "$out/verdicts.jsonl"
grep '"deviation":true' "$out/verdicts.jsonl" | cut -c1-200 || true
echo
$vigil check --model "$out/orders.vgm" examples/orders-new.csv --end-cases --format summary
echo
echo "== render the k=2 automaton with this run's deviation counts"
$vigil render --model "$out/orders-checked.vgm" --prefix 2 -o "$out/orders-k2.png"
$vigil model info "$out/orders-checked.vgm"
echo
echo "done: picture in $out/orders-k2.png, verdicts in $out/verdicts.jsonl"
