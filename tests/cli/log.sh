#!/usr/bin/env bash
# vigil log verify|dump|export: on a log written by an independent writer of
# the documented format (Python, below), on damaged copies of it, and the
# export → train round trip (the models trained on the JSONL and XES exports
# equal the one trained on the same events as CSV).
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
V=$VG_BIN

# --- a log, written from the format description in include/vigil/wal.h -------
cat >"$TMP/mklog.py" <<'PY'
import json, os, struct, sys, zlib

out, seg_bytes = sys.argv[1], int(sys.argv[2])
os.makedirs(out, exist_ok=True)
NONE = -(1 << 63)

def s(b):
    b = b.encode() if isinstance(b, str) else b
    return struct.pack('<I', len(b)) + b

def payload(case, act, t, process=None, attrs=None):
    flags = (1 if act is not None else 0) | (2 if process is not None else 0) | \
            (4 if attrs is not None else 0)
    p = bytes([flags]) + s(case)
    if act is not None: p += s(act)
    p += struct.pack('<q', t)
    if process is not None: p += s(process)
    if attrs is not None: p += s(json.dumps(attrs, separators=(',', ':'), ensure_ascii=False))
    return p

variants = [['Register', 'Check', 'Approve', 'Ship'], ['Register', 'Check', 'Reject'],
            ['Register', 'Prüfung', 'Check', 'Approve', 'Ship', 'Invoice'],
            ['Register', 'Approve & "rush"', 'Ship']]
cases = ['order-%02d' % i for i in range(24)] + ['odd "<id>" & co']
queues = {c: list(variants[i % len(variants)]) for i, c in enumerate(cases)}
records, csv = [], ['case,activity']
base, i = 1709280000000, 0
while any(queues.values()):
    for c in cases:
        if not queues[c]:
            continue
        act = queues[c].pop(0)
        t = base + 60000 * i if i % 7 else NONE   # some events carry no time
        attrs = {'amount': 12.5 + i, 'who': 'ana & <bob>\n', 'n': i, 'ok': i % 2 == 0,
                 'tags': ['a', 'b'], 'nested': {'x': 1}, 'gone': None} if i % 3 else None
        proc = 'orders' if i % 4 == 0 else None
        records.append((1, base + 60000 * i + 5, payload(c, act, t, proc, attrs)))
        q = '"' + c.replace('"', '""') + '"'
        a = '"' + act.replace('"', '""') + '"'
        csv.append('%s,%s' % (q, a))
        if not queues[c] and i % 2:
            records.append((2, base + 60000 * i + 9, payload(c, None, NONE)))
        i += 1
# one event whose attrs clash with exported keys
records.append((1, base, payload('order-00', 'Archive', base, None,
                                 {'case': 'x', 'activity': 'y', 'concept:name': 'z', 'k': 'v'})))
csv.append('order-00,Archive')

seg, size, first = None, 0, 1
for seq, (typ, arrival, p) in enumerate(records, 1):
    if seg is None or size >= seg_bytes:
        if seg: seg.close()
        seg = open(os.path.join(out, 'seg-%020d.vlog' % seq), 'wb')
        h = b'VIGILLOG' + struct.pack('<IIQI', 1, 0, seq, 0)
        seg.write(h + struct.pack('<I', zlib.crc32(h)))
        size = 32
    body = struct.pack('<BQq', typ, seq, arrival) + p
    seg.write(struct.pack('<II', len(body), zlib.crc32(body)) + body)
    size += 8 + len(body)
seg.close()
open(os.path.join(out, '..', 'expected.csv'), 'w').write('\n'.join(csv) + '\n')
print(len(records), sum(1 for r in records if r[0] == 1))
PY
mkdir -p "$TMP/data"
read -r NREC NEV < <(python3 "$TMP/mklog.py" "$TMP/data/log" 2048)
NSEG=$(ls "$TMP/data/log" | wc -l)
[ "$NSEG" -ge 3 ] && pass || fail "the test log should span several segments, has $NSEG"
echo "README" >"$TMP/data/log/README"   # foreign files are ignored

# --- usage -------------------------------------------------------------------
expect_exit 2 "$V" log
expect_grep "$TMP/err" '^usage: vigil log'
expect_exit 0 "$V" log --help
expect_grep "$TMP/out" 'verify'
for sub in verify dump export; do
    expect_exit 0 "$V" log "$sub" --help
    expect_grep "$TMP/out" "^usage: vigil log $sub"
    expect_exit 2 "$V" log "$sub" --no-such-flag "$TMP/data"
    expect_exit 2 "$V" log "$sub"
    expect_grep "$TMP/err" 'missing DIR'
done
expect_exit 2 "$V" log frobnicate "$TMP/data"
expect_grep "$TMP/err" "unknown subcommand 'frobnicate'"
expect_exit 2 "$V" log verify "$TMP/data" "$TMP/data"
expect_grep "$TMP/err" 'unexpected argument'
for bad in "--limit 0" "--limit x" "--from -1" "--from 99999999999999999999"; do
    # shellcheck disable=SC2086
    expect_exit 2 "$V" log dump "$TMP/data" $bad
done
expect_exit 2 "$V" log export "$TMP/data"
expect_grep "$TMP/err" 'missing --format'
expect_exit 2 "$V" log export "$TMP/data" --format csv
expect_exit 2 "$V" log export "$TMP/data" --format xes --max-memory 0
expect_exit 2 "$V" log verify "$TMP/nonexistent"
expect_grep "$TMP/err" 'nonexistent: cannot open the log directory'
mkdir "$TMP/empty"
expect_exit 2 "$V" log verify "$TMP/empty"
expect_grep "$TMP/err" 'no log segments'

# --- verify --------------------------------------------------------------------
for d in "$TMP/data" "$TMP/data/log"; do
    expect_exit 0 "$V" log verify "$d"
    expect_grep "$TMP/out" "^log +$TMP/data/log\$"
    expect_grep "$TMP/out" "^segments +$NSEG\$"
    expect_grep "$TMP/out" "^records +$NREC\$"
    expect_grep "$TMP/out" "^seqs +1\\.\\.$NREC\$"
    expect_grep "$TMP/out" '^torn tail +no$'
done

# --- dump ----------------------------------------------------------------------
expect_exit 0 "$V" log dump "$TMP/data"
[ "$(wc -l <"$TMP/out")" = "$NREC" ] && pass || fail "dump printed $(wc -l <"$TMP/out") lines, not $NREC"
expect_grep "$TMP/out" '^\{"seq":1,"arrival":"2024-03-01T08:00:00.005Z","type":"event","case":"order-00","activity":"Register","time":null,"process":"orders","attrs":null\}$'
expect_grep "$TMP/out" '^\{"seq":2,"arrival":"2024-03-01T08:01:00.005Z","type":"event","case":"order-01","activity":"Register","time":"2024-03-01T08:01:00.000Z","process":null,"attrs":\{"amount":13.5,"who":"ana & <bob>\\n","n":1,"ok":false,"tags":\["a","b"\],"nested":\{"x":1\},"gone":null\}\}$'
expect_grep "$TMP/out" '"type":"end","case":"[^"]*","activity":null,"time":null'
expect_grep "$TMP/out" '"case":"odd \\"<id>\\" & co"'
expect_grep "$TMP/out" '"activity":"Prüfung"'
python3 -c "
import json, sys
seqs = [json.loads(l)['seq'] for l in open('$TMP/out')]
sys.exit(0 if seqs == list(range(1, $NREC + 1)) else 1)" && pass || fail "dump lines are not valid JSON in seq order"
expect_exit 0 "$V" log dump "$TMP/data" --from 5 --limit 3
[ "$(wc -l <"$TMP/out")" = 3 ] && pass || fail "--limit 3 printed $(wc -l <"$TMP/out") lines"
expect_grep "$TMP/out" '^\{"seq":5,'
expect_grep "$TMP/out" '^\{"seq":7,'
expect_exit 0 "$V" log dump "$TMP/data" --from "$((NREC + 1))"
[ ! -s "$TMP/out" ] && pass || fail "dump past the end printed something"

# --- export → train round trip --------------------------------------------------
info() { "$V" model info "$1" | grep -E '^(traces|events|activities|prefixes|k=)'; }
expect_exit 0 "$V" train -q "$TMP/data/expected.csv" -o "$TMP/ref.vgm"
info "$TMP/ref.vgm" >"$TMP/ref.info"
expect_grep "$TMP/ref.info" "^events +$NEV\$"

expect_exit 0 "$V" log export "$TMP/data" --format jsonl -o "$TMP/export.jsonl"
expect_grep "$TMP/err" 'warning: .*attribute "case" left out'
[ "$(wc -l <"$TMP/export.jsonl")" = "$NEV" ] && pass || fail "jsonl export has $(wc -l <"$TMP/export.jsonl") lines, not $NEV"
expect_grep "$TMP/export.jsonl" '^\{"case":"order-01","activity":"Register","time":"2024-03-01T08:01:00.000Z","amount":13.5,"who":"ana & <bob>\\n","n":1,"ok":false,"tags":\["a","b"\],"nested":\{"x":1\},"gone":null\}$'
# an event without a time of its own has its arrival time; process kept
expect_grep "$TMP/export.jsonl" '^\{"case":"order-00","activity":"Register","time":"2024-03-01T08:00:00.005Z","process":"orders"\}$'
expect_grep "$TMP/export.jsonl" '"activity":"Archive","time":"[^"]*","concept:name":"z","k":"v"\}$'
expect_exit 0 "$V" train -q "$TMP/export.jsonl" -o "$TMP/jsonl.vgm"
info "$TMP/jsonl.vgm" >"$TMP/jsonl.info"
diff "$TMP/ref.info" "$TMP/jsonl.info" >/dev/null && pass || fail "model from the jsonl export differs: $(diff "$TMP/ref.info" "$TMP/jsonl.info")"

expect_exit 0 "$V" log export "$TMP/data/log" --format xes -o "$TMP/export.xes"
expect_grep "$TMP/err" 'warning: .*attribute "concept:name" left out'
python3 - "$TMP/export.xes" <<'PY' && pass || fail "the XES export is not what it should be"
import sys, xml.etree.ElementTree as ET
ns = '{http://www.xes-standard.org/}'
root = ET.parse(sys.argv[1]).getroot()
traces = root.findall(ns + 'trace')
names = [t.find(ns + 'string').get('value') for t in traces]
assert names[0] == 'order-00' and 'odd "<id>" & co' in names, names
assert len(names) == len(set(names)) == 25, len(names)
ev = traces[1].findall(ns + 'event')[0]
attrs = {a.get('key'): a.get('value') for a in ev}
assert attrs['concept:name'] == 'Register', attrs
assert attrs['time:timestamp'] == '2024-03-01T08:01:00.000Z', attrs
assert attrs['who'] == 'ana & <bob>\n' and attrs['nested'] == '{"x":1}', attrs
assert attrs['ok'] == 'false' and attrs['amount'] == '13.5' and 'gone' not in attrs, attrs
last = traces[0].findall(ns + 'event')[-1]
assert [a.get('value') for a in last if a.get('key') == 'concept:name'] == ['Archive']
PY
expect_exit 0 "$V" train -q "$TMP/export.xes" -o "$TMP/xes.vgm"
info "$TMP/xes.vgm" >"$TMP/xes.info"
diff "$TMP/ref.info" "$TMP/xes.info" >/dev/null && pass || fail "model from the xes export differs: $(diff "$TMP/ref.info" "$TMP/xes.info")"
# gathering one trace per pass gives the same file
expect_exit 0 "$V" log export "$TMP/data" --format xes --max-memory 1 -o "$TMP/export1.xes"
cmp -s "$TMP/export.xes" "$TMP/export1.xes" && pass || fail "--max-memory 1 changed the XES export"
expect_exit 0 "$V" log export "$TMP/data" --format xes
cmp -s "$TMP/export.xes" "$TMP/out" && pass || fail "XES to stdout differs from -o"

# --- damaged copies -------------------------------------------------------------
damaged() { rm -rf "$TMP/bad"; cp -r "$TMP/data" "$TMP/bad"; }
SEG1="$TMP/bad/log/seg-00000000000000000001.vlog"
LAST=$(ls "$TMP/data/log"/seg-*.vlog | tail -1)
LASTB="$TMP/bad/log/$(basename "$LAST")"

damaged   # a flipped byte in the first record (its seq field)
printf '\xaa' | dd of="$SEG1" bs=1 seek=45 conv=notrunc status=none
expect_exit 2 "$V" log verify "$TMP/bad"
expect_grep "$TMP/err" "^vigil log: $SEG1: byte [0-9]+: record CRC mismatch after seq [0-9]+, but a valid record"
expect_exit 2 "$V" log dump "$TMP/bad"
expect_grep "$TMP/err" "^vigil log: $SEG1: byte [0-9]+: "
expect_exit 2 "$V" log export "$TMP/bad" --format jsonl -o "$TMP/bad.jsonl"
[ ! -e "$TMP/bad.jsonl" ] && pass || fail "a failed export left its output behind"
ls "$TMP"/bad.jsonl.tmp-* >/dev/null 2>&1 && fail "a failed export left a temporary file" || pass
expect_exit 2 "$V" log export "$TMP/bad" --format xes -o "$TMP/bad.xes"
[ ! -e "$TMP/bad.xes" ] && pass || fail "a failed export left its output behind"

damaged   # a torn tail: sound, reported, left as it is
size=$(stat -c %s "$LASTB")
truncate -s $((size - 5)) "$LASTB"
expect_exit 0 "$V" log verify "$TMP/bad"
expect_grep "$TMP/out" '^torn tail +yes'
expect_grep "$TMP/out" "^records +$((NREC - 1))\$"
[ "$(stat -c %s "$LASTB")" = $((size - 5)) ] && pass || fail "verify changed the log"
expect_exit 0 "$V" log dump "$TMP/bad"   # and dump shows the rest
[ "$(wc -l <"$TMP/out")" = $((NREC - 1)) ] && pass || fail "dump of a torn log printed $(wc -l <"$TMP/out") lines"
expect_exit 0 "$V" log export "$TMP/bad" --format jsonl -o "$TMP/torn.jsonl"

damaged   # bad magic
printf 'X' | dd of="$SEG1" bs=1 seek=0 conv=notrunc status=none
expect_exit 2 "$V" log verify "$TMP/bad"
expect_grep "$TMP/err" "^vigil log: $SEG1: byte 0: bad magic"

damaged   # bad header CRC
printf '\x07' | dd of="$SEG1" bs=1 seek=24 conv=notrunc status=none
expect_exit 2 "$V" log verify "$TMP/bad/log"
expect_grep "$TMP/err" "^vigil log: $SEG1: byte 28: segment header CRC mismatch"

damaged   # a missing middle segment: a gap in the seqs
rm "$(ls "$TMP/bad/log"/seg-*.vlog | sed -n 2p)"
expect_exit 2 "$V" log verify "$TMP/bad"
expect_grep "$TMP/err" 'byte 16: segment starts at seq [0-9]+, but the one before ended at seq [0-9]+'

damaged   # garbage: a record length far beyond anything
printf '\xff\xff\xff\x7f' | dd of="$SEG1" bs=1 seek=32 conv=notrunc status=none
expect_exit 2 "$V" log verify "$TMP/bad"
expect_grep "$TMP/err" "$SEG1: byte 32: record length 2147483647 out of range"

# --- payloads that are not what the service writes --------------------------------
python3 - "$TMP/raw" <<'PY'
import os, struct, sys, zlib
os.makedirs(sys.argv[1])
def s(b): return struct.pack('<I', len(b)) + b
good = bytes([5]) + s(b'c1') + s(b'a') + struct.pack('<q', 0) + s(b'[1,2]')
with open(os.path.join(sys.argv[1], 'seg-%020d.vlog' % 1), 'wb') as f:
    h = b'VIGILLOG' + struct.pack('<IIQI', 1, 0, 1, 0)
    f.write(h + struct.pack('<I', zlib.crc32(h)))
    for seq, p in ((1, good), (2, b'xyz')):
        body = struct.pack('<BQq', 1, seq, 0) + p
        f.write(struct.pack('<II', len(body), zlib.crc32(body)) + body)
PY
expect_exit 0 "$V" log verify "$TMP/raw"
expect_exit 2 "$V" log dump "$TMP/raw"
expect_grep "$TMP/out" '"case":"c1","activity":"a",.*"attrs":null,"attrs_raw":"\[1,2\]"\}$'
expect_grep "$TMP/err" "^vigil log: $TMP/raw: record seq 2: payload is not a valid event"
expect_exit 0 "$V" log dump "$TMP/raw" --limit 1
expect_exit 2 "$V" log export "$TMP/raw" --format jsonl
expect_grep "$TMP/err" 'record seq 1: attrs are not a JSON object'

finish
