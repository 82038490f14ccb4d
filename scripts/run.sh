#!/usr/bin/env bash
# The main job on bundled defaults: install what is missing, build, and start
# the compliance service with the example configuration (vigil.conf): on the
# first run it trains a model on examples/orders.csv; its data directory is
# ./vigil-data (event log, snapshots, request log). Stop it with Ctrl-C; the
# next start recovers the state from ./vigil-data.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/build.sh build
listen=${VIGIL_LISTEN:-127.0.0.1:8080}
cat <<MSG

vigil: starting the service on http://$listen (Ctrl-C stops it)
Try, in another terminal:

  curl -s -X POST http://$listen/v1/events -H 'Content-Type: application/json' \\
       -d '{"case":"PO-1","activity":"create order"}'

More: docs/api.md. The old offline demo (train, check, render a PNG): scripts/demo.sh

MSG
exec build/vigil serve -c vigil.conf --listen "$listen"
