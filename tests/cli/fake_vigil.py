#!/usr/bin/env python3
"""A stand-in for `vigil serve` that tests `vigil replay`, the client.

It answers POST /v1/events the way the service does (one verdict object for a
JSON object, one NDJSON line per event for application/x-ndjson) and watches
what the client must guarantee:

  * no two requests in flight at once carry events of the same case (each
    request is held for --delay ms to widen the window where a client that
    breaks this would be caught);
  * per case, the events arrive in log order: every test event carries an
    attribute "n", its position in the time-ordered log, which must grow.

GET /stats answers what it saw (also how many connections were used: the
client keeps them alive); --record FILE gets every event received, one
JSON line each, in arrival order. Verdicts are made up but deterministic: an
event whose activity is in --deviant deviates (result "missing" at prefix 1,
"unknown_state" at prefix 2), any other is "ok" at both.

Faults on demand: --token (401 without "Bearer TOKEN"), --reject ACTIVITY
(400 for a request holding it, nothing of it applied), --fail-first N (503 for
the first N requests), --die-after N (the process exits abruptly once N events
were received, before answering, like a crash).

Prints "fake_vigil: listening on http://127.0.0.1:PORT" on stderr, as
`vigil serve` does.
"""
import argparse
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.seq = 0
        self.requests = 0
        self.inflight_cases = {}
        self.inflight = 0
        self.max_inflight = 0
        self.overlaps = 0
        self.order_errors = 0
        self.last_n = {}
        self.auth = set()
        self.connections = set()
        self.content_types = set()
        self.record = open(args.record, "a") if args.record else None


def verdict(state, ev, seq):
    bad = ev.get("activity") in state.args.deviant
    checks = [
        {"prefix": 1, "state": [None], "result": "missing" if bad else "ok",
         "probability": 0.0 if bad else 1.0},
        {"prefix": 2, "state": [None, None], "result": "unknown_state" if bad else "ok",
         "probability": 0.0 if bad else 1.0},
    ]
    return {"seq": seq, "case": ev.get("case"), "activity": ev.get("activity"),
            "deviation": bad, "checks": checks}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without this, Nagle's algorithm
    # and the client's delayed ACK add 40 ms to every answer.
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):
        pass

    def answer(self, status, body, ctype="application/json"):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def error(self, status, code, msg):
        self.answer(status, json.dumps({"error": {"code": code, "message": msg}}))

    def do_GET(self):
        st = self.server.state
        if self.path != "/stats":
            return self.error(404, "not_found", self.path)
        with st.lock:
            out = {"requests": st.requests, "events": st.seq, "max_inflight": st.max_inflight,
                   "overlaps": st.overlaps, "order_errors": st.order_errors,
                   "cases": len(st.last_n), "auth": sorted(st.auth),
                   "connections": len(st.connections),
                   "content_types": sorted(st.content_types)}
        self.answer(200, json.dumps(out))

    def events(self, ctype):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n).decode()
        if ctype == "application/x-ndjson":
            return [json.loads(line) for line in body.split("\n") if line.strip()]
        return [json.loads(body)]

    def enter(self, cases):
        st = self.server.state
        with st.lock:
            st.requests += 1
            st.inflight += 1
            st.max_inflight = max(st.max_inflight, st.inflight)
            for c in cases:
                if st.inflight_cases.get(c):
                    st.overlaps += 1
                st.inflight_cases[c] = st.inflight_cases.get(c, 0) + 1

    def leave(self, cases):
        st = self.server.state
        with st.lock:
            st.inflight -= 1
            for c in cases:
                st.inflight_cases[c] -= 1

    def apply(self, evs):
        """Sequence numbers, order checks and the record, under the lock."""
        st = self.server.state
        out = []
        with st.lock:
            for ev in evs:
                if st.args.die_after and st.seq >= st.args.die_after:
                    if st.record:
                        st.record.flush()
                    os._exit(3)
                st.seq += 1
                c, n = ev.get("case"), int(ev.get("n", st.seq))
                if c in st.last_n and n <= st.last_n[c]:
                    st.order_errors += 1
                st.last_n[c] = n
                if st.record:
                    st.record.write(json.dumps(ev) + "\n")
                out.append(verdict(st, ev, st.seq))
            if st.record:
                st.record.flush()
        return out

    def do_POST(self):
        st = self.server.state
        ctype = self.headers.get("Content-Type", "")
        with st.lock:
            st.auth.add(self.headers.get("Authorization", ""))
            st.connections.add(self.client_address)
            st.content_types.add(ctype)
            fail = st.requests < st.args.fail_first
        try:
            evs = self.events(ctype)
        except (ValueError, UnicodeDecodeError) as e:
            return self.error(400, "invalid_json", str(e))
        if self.path != "/v1/events":
            return self.error(404, "not_found", self.path)
        if st.args.token and self.headers.get("Authorization") != "Bearer " + st.args.token:
            return self.error(401, "unauthorized", "bearer token required")
        cases = set(ev.get("case") for ev in evs)
        self.enter(cases)
        try:
            time.sleep(st.args.delay / 1000.0)
            if fail:
                return self.error(503, "not_ready", "failing on purpose")
            if any(ev.get("activity") == st.args.reject for ev in evs):
                return self.error(400, "bad_event", "rejected on purpose")
            vs = self.apply(evs)
        finally:
            self.leave(cases)
        if ctype == "application/x-ndjson":
            self.answer(200, "".join(json.dumps(v) + "\n" for v in vs), ctype)
        else:
            self.answer(200, json.dumps(vs[0]))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--delay", type=float, default=0.0, help="ms to hold each request")
    p.add_argument("--token")
    p.add_argument("--reject")
    p.add_argument("--deviant", action="append", default=[])
    p.add_argument("--fail-first", type=int, default=0)
    p.add_argument("--die-after", type=int, default=0)
    p.add_argument("--record")
    args = p.parse_args()
    if not args.deviant:
        args.deviant = ["x"]
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.state = State(args)
    print("fake_vigil: listening on http://127.0.0.1:%d" % srv.server_address[1],
          file=sys.stderr, flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
