"""The rule stage (complex event processing, issue 4) over HTTP.

Every test runs the real service (`vigil serve`, or the uWSGI deployment)
with the orders model (examples/orders.csv, prefix 1,2) and speaks HTTP:

* Examples: `rules = FILE` with each examples/*/rules.rules; its events.jsonl
  is POSTed (one request per event, and once as one NDJSON batch). What each
  event must trigger is derived from the example's expected.jsonl (the golden
  output of `vigil cep --actions` on the same events): `vigil cep` is run on
  every prefix of events.jsonl, and the lines the k-th event adds are the
  ones that event triggered. Each verdict's "complex" list must be exactly
  those complex events; GET /v1/alerts the alert actions in order (since,
  limit, next); DATA_DIR/actions.log the log actions; the metrics count them.
  The HTTP events carry "case" and "activity" (required by the service), and
  their time is parsed, so history events are compared without those two
  members and with "time" in epoch ms. `{"advance_to":T}` lines (clock
  moves) become an event at time T that no rule matches.
* Rules API: GET/PUT/DELETE /v1/rules[/{name}], text and JSON, live changes
  (the next event sees them, pending runs are dropped; under concurrent
  posting every verdict agrees with the rule version the event log says it
  met), located errors (docs/rules.md's error examples, with "body" as the
  origin), name mismatches, garbage bodies (the server keeps answering,
  nothing is logged); case ends offered as events of kind "ends".
* Webhooks against a receiver in this process (127.0.0.1): the body is the
  complex event; a receiver that fails N times gets the request N+1 times
  with growing gaps and it is delivered once; one that always fails or is
  down is given up after 1 + 3 attempts; one that never answers never holds
  up event POSTs; queue overflow is counted; non-HTTP URLs never connect.
* The alert store keeps the newest 10,000 (since/next past the dropped ones).
* Restarts: rules (PUT, DELETE: log records) survive a restart; kill -9 in
  the middle of each example, restart, go on: verdicts, alert store,
  actions.log, webhook deliveries and the engine's counters equal an
  uninterrupted run's (nothing repeated); an absence whose window passes
  across the restart fires exactly once.
* Deviations as events (`from deviations`).
* Metrics: the rule-stage series of /metrics and "cep" of /v1/stats move as
  the events say.
"""
import datetime
import http.server
import json
import os
import random
import re
import select
import socket
import threading
import time
import unittest
import urllib.parse

import harness as H

EXAMPLES = ("insurance-claims", "access-control", "home-health")
T0 = 1714557600000  # 2024-05-01T10:00:00Z
MIN = 60 * 1000
HOUR = 60 * MIN
# Webhook delivery as src/actions/actions.c sets it (not configurable): 1 + 3 attempts,
# the first retry after 200 ms, doubled each time; 5 s per attempt; 1,024 waiting.
WEBHOOK_RETRIES = 3
WEBHOOK_BACKOFF = 0.2
WEBHOOK_TIMEOUT = 5.0
WEBHOOK_QUEUE = 1024


def q(name):
    return urllib.parse.quote(name, safe="")


def ms(text):
    """RFC 3339 (as the examples write it) → epoch ms."""
    d = datetime.datetime.strptime(text.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S%z")
    return int(d.timestamp() * 1000)


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()]


def write_file(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def norm_event(e):
    """A history event as the service holds it → as `vigil cep` printed the
    example's event: without the case and activity members the HTTP events
    need, time in epoch ms; nested complex events likewise."""
    e = dict(e)
    e.pop("case", None)
    e.pop("activity", None)
    if isinstance(e.get("time"), str):
        e["time"] = ms(e["time"])
    if isinstance(e.get("history"), dict):
        e["history"] = {g: [norm_event(x) for x in v] for g, v in e["history"].items()}
    return e


def norm(c):
    c = dict(c)
    if isinstance(c.get("history"), dict):
        c["history"] = {g: [norm_event(x) for x in v] for g, v in c["history"].items()}
    return c


def to_http(ev, case):
    """An example event as the service takes it."""
    if "advance_to" in ev:
        return {"case": "clock", "activity": "clock", "time": ev["advance_to"]}
    out = dict(ev)
    out["case"] = case
    out["activity"] = ev.get("type", "event")
    return out


def metrics(srv):
    r = srv.get("/metrics")
    if r.status != 200:
        raise AssertionError("GET /metrics: %r" % r)
    return H.parse_prometheus(r.text)


def cep_stats(srv):
    return srv.stats()["cep"]


def put_rule(tc, srv, name, body, status=200):
    r = srv.request("PUT", "/v1/rules/" + q(name), body=body)
    tc.assertEqual(r.status, status, r)
    return r


def post_events(tc, srv, evs):
    """POST each event on its own; the verdicts."""
    out = []
    for ev in evs:
        r = srv.event(ev)
        tc.assertEqual(r.status, 200, (ev, r))
        out.append(r.json())
    return out


def all_alerts(srv):
    r = srv.get("/v1/alerts?since=0")
    if r.status != 200:
        raise AssertionError("GET /v1/alerts: %r" % r)
    return r.json()


def actions_log(data_dir):
    p = os.path.join(data_dir, "actions.log")
    if not os.path.exists(p):
        return []
    return read_jsonl(p)


# ---- the examples' golden outputs ---------------------------------------------------------
_GOLDEN = {}


class Golden:
    """An example and what its events trigger, derived from expected.jsonl."""

    def __init__(self, name):
        d = os.path.join(H.SOURCE_DIR, "examples", name)
        self.name = name
        self.rules = os.path.join(d, "rules.rules")
        with open(os.path.join(d, "events.jsonl"), encoding="utf-8") as f:
            self.lines = [l for l in f if l.strip()]
        self.events = [json.loads(l) for l in self.lines]
        self.expected = read_jsonl(os.path.join(d, "expected.jsonl"))
        with open(os.path.join(d, "expected-stats.json")) as f:
            self.stats = json.load(f)
        full = self.cep(self.lines)
        if full != self.expected:
            raise AssertionError("%s: vigil cep no longer gives expected.jsonl" % name)
        # What event k adds to the output of events 1..k-1.
        bounds = [0]
        for k in range(1, len(self.lines) + 1):
            out = self.cep(self.lines[:k])
            if out != self.expected[:len(out)] or len(out) < bounds[-1]:
                raise AssertionError("%s: the output of the first %d events is not a prefix "
                                     "of expected.jsonl" % (name, k))
            bounds.append(len(out))
        if bounds[-1] != len(self.expected):
            raise AssertionError("%s: prefixes do not add up" % name)
        self.per_event = [self.expected[bounds[k]:bounds[k + 1]] for k in range(len(self.lines))]
        self.complex = [o for o in self.expected if o["type"] == "complex"]
        self.actions = [o for o in self.expected if o["type"] == "action"]
        # alerts: each alert action with the complex event that requested it
        # (the latest complex event of its phenomenon and pattern before it)
        self.alerts = []
        last = {}
        for o in self.expected:
            if o["type"] == "complex":
                last[(o["phenomenon"], o["pattern"])] = o
            elif o["action"] == "alert":
                c = last[(o["phenomenon"], o["pattern"])]
                self.alerts.append({"time": o["time"], "phenomenon": o["phenomenon"],
                                    "pattern": o["pattern"], "message": o["message"],
                                    "event": c})
        self.logs = [o for o in self.actions if o["action"] == "log"]

    def cep(self, lines):
        path = os.path.join(H.scratch(), "golden-%s-%d.jsonl" % (self.name, len(lines)))
        write_file(path, "".join(lines))
        r = H.vigil("cep", "--rules", self.rules, "--actions", path)
        return [json.loads(l) for l in r.stdout.decode().splitlines() if l.strip()]

    def http_events(self):
        return [to_http(e, self.name) for e in self.events]

    def want_complex(self, k):
        return [norm(o) for o in self.per_event[k] if o["type"] == "complex"]


def golden(name):
    if name not in _GOLDEN:
        _GOLDEN[name] = Golden(name)
    return _GOLDEN[name]


# ---- a webhook receiver ---------------------------------------------------------------
class Receiver:
    """An HTTP server on 127.0.0.1 in a thread that records every POST.
    fail_first: answer 500 to the first N; fail_all: always 500; hang: hold
    every request unanswered until release() (then 200)."""

    def __init__(self, fail_first=0, fail_all=False, hang=False):
        self.fail_first = fail_first
        self.fail_all = fail_all
        self.hang = hang
        self.lock = threading.Lock()
        self.attempts = []      # (monotonic time, path, content type, body bytes, status)
        self.released = threading.Event()
        self.arrived = threading.Event()
        rec = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                t = time.monotonic()
                with rec.lock:
                    i = len(rec.attempts)
                    status = 500 if rec.fail_all or i < rec.fail_first else 200
                    rec.attempts.append([t, self.path, self.headers.get("Content-Type"), body,
                                         None])
                rec.arrived.set()
                if rec.hang:
                    rec.released.wait(120 * H.SCALE)
                with rec.lock:
                    rec.attempts[i][4] = status
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        class Server(http.server.ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # a client (curl giving up, a killed server) went away

        self.httpd = Server((H.HOST, 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return "http://%s:%d/hook" % (H.HOST, self.port)

    def snapshot(self):
        with self.lock:
            return [list(a) for a in self.attempts]

    def delivered(self):
        """Bodies answered 2xx, parsed, in order of arrival."""
        return [json.loads(a[3]) for a in self.snapshot() if a[4] == 200]

    def release(self):
        self.hang = False
        self.released.set()

    def close(self):
        self.release()
        self.httpd.shutdown()
        self.httpd.server_close()


def dead_url():
    """A URL on 127.0.0.1 where nothing listens."""
    return "http://%s:%d/hook" % (H.HOST, H.free_port())


def webhook_rule(name, url, predicate):
    return ('phenomenon %s {\n    pattern p {\n        next a: %s\n    }\n    webhook "%s"\n}\n'
            % (name, predicate, url))


# ---------------------------------------------------------------------------------------
class RulesTest(unittest.TestCase):
    """A fresh server per test (the orders model; opts from server_opts)."""
    server_opts = {}

    def start(self, name=None, data_dir=None, **opts):
        o = dict(self.server_opts)
        o.setdefault("model", H.model("orders"))
        o.update(opts)
        srv = H.new_server(name=name or self._testMethodName, data_dir=data_dir, **o)
        self.addCleanup(srv.kill)
        srv.start()
        return srv

    def stop(self, srv):
        rc = srv.stop()
        self.assertEqual(rc, 0, "the server did not stop cleanly (None: it had to be "
                         "killed):\n" + srv.stderr()[-2000:])

    def receiver(self, **kw):
        r = Receiver(**kw)
        self.addCleanup(r.close)
        return r

    def assertError(self, r, status, code, msg_re=None):
        self.assertEqual(r.status, status, r)
        body = r.json()
        self.assertEqual(set(body), {"error"}, body)
        self.assertEqual(body["error"].get("code"), code, body)
        if msg_re:
            self.assertRegex(body["error"]["message"], msg_re)
        return body["error"]["message"]

    def wait_cep(self, srv, pred, what, timeout=30):
        return H.wait_until(lambda: (lambda s: s if pred(s) else None)(cep_stats(srv)),
                            timeout=timeout, step=0.05, what=what)


# ---------------------------------------------------------------------------------------
class Examples(RulesTest):
    """`rules = FILE` with the bundled examples, against their golden output."""

    def run_example(self, name, batch=False):
        g = golden(name)
        srv = self.start(name="ex-" + name, rules=g.rules)
        evs = g.http_events()
        if batch:
            r = srv.post("/v1/events", ndjson=evs)
            self.assertEqual(r.status, 200, r)
            verdicts = r.ndjson()
        else:
            verdicts = post_events(self, srv, evs)
        self.assertEqual(len(verdicts), len(evs))
        for k, (ev, v) in enumerate(zip(g.events, verdicts)):
            with self.subTest(example=name, event=k + 1, line=g.lines[k].strip()):
                self.assertIn("complex", v, "rules are loaded: every verdict lists them")
                self.assertEqual([norm(c) for c in v["complex"]], g.want_complex(k))
        return g, srv, verdicts

    def check_alerts(self, g, srv):
        got = all_alerts(srv)
        self.assertEqual(len(got["alerts"]), len(g.alerts), got)
        for i, (a, w) in enumerate(zip(got["alerts"], g.alerts)):
            with self.subTest(alert=i + 1):
                self.assertEqual(a["seq"], i + 1)
                self.assertEqual(set(a), {"seq", "time", "phenomenon", "pattern", "message",
                                          "event"})
                for k in ("time", "phenomenon", "pattern", "message"):
                    self.assertEqual(a[k], w[k], k)
                self.assertEqual(norm(a["event"]), norm(w["event"]))
        self.assertEqual(got["next"], len(g.alerts))
        return got

    def check_paging(self, srv, full):
        n = len(full["alerts"])
        self.assertGreaterEqual(n, 2, "the example has too few alerts to page")
        # limit=2 pages, following "next"
        since, pages, seen = 0, 0, []
        while True:
            r = srv.get("/v1/alerts?since=%d&limit=2" % since)
            self.assertEqual(r.status, 200, r)
            page = r.json()
            self.assertLessEqual(len(page["alerts"]), 2)
            if not page["alerts"]:
                self.assertEqual(page["next"], since)
                break
            self.assertEqual(page["next"], page["alerts"][-1]["seq"])
            seen += page["alerts"]
            since = page["next"]
            pages += 1
            self.assertLessEqual(pages, n)
        self.assertEqual(seen, full["alerts"])
        self.assertEqual(pages, (n + 1) // 2)
        # since in the middle, limit 1, limit 0 (= all), since past the end
        mid = full["alerts"][n // 2 - 1]["seq"]
        r = srv.get("/v1/alerts?since=%d" % mid).json()
        self.assertEqual(r["alerts"], [a for a in full["alerts"] if a["seq"] > mid])
        r = srv.get("/v1/alerts?since=%d&limit=1" % mid).json()
        self.assertEqual(r, {"alerts": [full["alerts"][n // 2]], "next": mid + 1})
        self.assertEqual(srv.get("/v1/alerts?limit=0").json(), full)
        self.assertEqual(srv.get("/v1/alerts").json(), full)
        last = full["alerts"][-1]["seq"]
        self.assertEqual(srv.get("/v1/alerts?since=%d" % last).json(),
                         {"alerts": [], "next": last})
        self.assertEqual(srv.get("/v1/alerts?since=%d" % (last + 100)).json(),
                         {"alerts": [], "next": last})
        for bad in ("since=x", "since=-1", "limit=1.5", "since=", "limit=1e3"):
            with self.subTest(query=bad):
                self.assertError(srv.get("/v1/alerts?" + bad), 400, "bad_request")

    def check_metrics(self, g, srv, events_posted):
        m = metrics(srv)
        n_alert = sum(1 for a in g.actions if a["action"] == "alert")
        self.assertEqual(H.sample(m, "vigil_cep_complex_events_total"), len(g.complex))
        self.assertEqual(H.sample(m, "vigil_cep_action_requests_total"), len(g.actions))
        self.assertEqual(H.sample(m, "vigil_actions_total", action="alert", outcome="success"),
                         n_alert)
        self.assertEqual(H.sample(m, "vigil_actions_total", action="log", outcome="success"),
                         len(g.logs))
        for a in ("alert", "log", "webhook"):
            self.assertEqual(H.sample(m, "vigil_actions_total", action=a, outcome="failure"), 0)
        self.assertEqual(H.sample(m, "vigil_alert_seq"), n_alert)
        self.assertEqual(H.sample(m, "vigil_alerts_kept"), n_alert)
        self.assertEqual(H.sample(m, "vigil_alerts_dropped_total"), 0)
        self.assertEqual(H.sample(m, "vigil_actions_unknown_total"), 0)
        # Every event, its deviation (each deviates: the orders model does not
        # know these activities) and every action event is offered.
        st = srv.stats()
        self.assertGreaterEqual(H.sample(m, "vigil_cep_events_total"),
                                events_posted + st["deviations"] + len(g.actions))
        # The engine's run counters as `vigil cep --stats` printed them.
        c = st["cep"]
        self.assertEqual(c["complex"], g.stats["completed"])
        self.assertEqual(c["runs"]["halted"], g.stats["halted"])
        self.assertEqual(c["runs"]["active"], g.stats["active"])
        self.assertEqual(H.sample(m, "vigil_cep_runs_active"), g.stats["active"])
        self.assertEqual(H.sample(m, "vigil_cep_runs_halted_total"), g.stats["halted"])
        self.assertEqual(c["alerts"]["stored"], n_alert)
        self.assertEqual(c["log"]["written"], len(g.logs))

    def test_insurance_claims(self):
        g, srv, _ = self.run_example("insurance-claims")
        full = self.check_alerts(g, srv)
        self.check_paging(srv, full)
        self.assertEqual(actions_log(srv.data_dir), g.logs)
        self.check_metrics(g, srv, len(g.events))
        self.stop(srv)

    def test_access_control(self):
        g, srv, _ = self.run_example("access-control")
        full = self.check_alerts(g, srv)
        self.check_paging(srv, full)
        self.assertEqual(actions_log(srv.data_dir), g.logs)
        self.check_metrics(g, srv, len(g.events))
        self.stop(srv)

    def test_home_health(self):
        g, srv, _ = self.run_example("home-health")
        full = self.check_alerts(g, srv)
        self.check_paging(srv, full)
        self.check_metrics(g, srv, len(g.events))
        self.stop(srv)

    def test_batches(self):
        """The same per-event complex lists when all events come in one
        NDJSON request, and in JSON arrays of three."""
        for name in EXAMPLES:
            g, srv, _ = self.run_example(name, batch=True)
            self.check_alerts(g, srv)
            self.stop(srv)
        g = golden("access-control")
        srv = self.start(name="ex-arrays", rules=g.rules)
        evs = g.http_events()
        got = []
        for i in range(0, len(evs), 3):
            r = srv.event(evs[i:i + 3])
            self.assertEqual(r.status, 200, r)
            got += r.json()
        for k, v in enumerate(got):
            self.assertEqual([norm(c) for c in v["complex"]], g.want_complex(k), k)
        self.check_alerts(g, srv)

    def test_rules_file_at_start(self):
        """The rules file shows in GET /v1/rules; a restart with the same file
        logs nothing; a changed file is logged as one change and applied:
        removed phenomena are gone, changed ones reloaded (their runs
        dropped), unchanged ones keep their runs; a bad file refuses the
        start with the place of the mistake."""
        g = golden("insurance-claims")
        srv = self.start(rules=g.rules)
        rules = srv.get("/v1/rules").json()
        self.assertEqual([r["phenomenon"] for r in rules],
                         ["claim_paid", "paid_without_acceptance", "large_claim",
                          "unpaid_claim"])
        for r in rules:
            one = srv.get("/v1/rules/" + q(r["phenomenon"]))
            self.assertEqual(one.status, 200, one)
            self.assertEqual(one.json(), r)
        self.assertEqual(srv.stats()["log"]["last_seq"], 1, "loading the rules file is one record")
        evs = g.http_events()
        cut = 6  # apply P1, P2, P3, accept P1, P3; claim k2 on P2 (large)
        for k, v in enumerate(post_events(self, srv, evs[:cut])):
            self.assertEqual([norm(c) for c in v["complex"]], g.want_complex(k))
        seq0 = srv.stats()["log"]["last_seq"]
        self.stop(srv)

        srv = self.start(data_dir=srv.data_dir, rules=g.rules)
        self.assertEqual(srv.stats()["log"]["last_seq"], seq0, "the same rules: nothing logged")
        self.assertEqual(srv.get("/v1/rules").json(), rules)
        self.stop(srv)

        # drop large_claim and change claim_paid's message
        with open(g.rules, encoding="utf-8") as f:
            text = f.read()
        text = re.sub(r"# A claim above the threshold\.\nphenomenon large_claim \{.*?\n\}\n", "",
                      text, flags=re.S)
        self.assertNotIn("large_claim", text)
        text = text.replace('log "policy {a.policyId}', 'log "changed: policy {a.policyId}')
        changed = write_file(os.path.join(H.tmpdir("rules"), "changed.rules"), text)
        srv = self.start(data_dir=srv.data_dir, rules=changed)
        self.assertEqual(srv.stats()["log"]["last_seq"], seq0 + 1)
        now = srv.get("/v1/rules").json()
        self.assertEqual([r["phenomenon"] for r in now],
                         ["claim_paid", "paid_without_acceptance", "unpaid_claim"])
        self.assertEqual(now[1:], [rules[1], rules[3]])
        self.assertIn("changed: policy", json.dumps(now[0]))
        self.assertError(srv.get("/v1/rules/large_claim"), 404, "not_found")
        # The rest of the example: what the golden output says, less
        # large_claim (removed) and less claim_paid for P1, whose run (apply,
        # accept before the change) was dropped; P4's run starts after it.
        # paid_without_acceptance (P2's run) and unpaid_claim (k3) kept theirs.
        for k, v in enumerate(post_events(self, srv, evs[cut:]), cut):
            want = [c for c in g.want_complex(k) if c["phenomenon"] != "large_claim"
                    and (c["phenomenon"], c["key"]) != ("claim_paid", "P1")]
            self.assertEqual([norm(c) for c in v["complex"]], want, "event %d" % (k + 1))
        got = [(a["phenomenon"], a["message"]) for a in actions_log(srv.data_dir)]
        self.assertEqual(got, [("claim_paid",
                                "changed: policy P4: claim k4 paid 800 after acceptance")])
        self.stop(srv)

        bad = write_file(os.path.join(H.tmpdir("rules"), "bad.rules"),
                         "phenomenon p {\n    pattern q {\n        next a: x = 1\n    }\n}\n")
        b = H.new_server(name="bad-rules", model=H.model("orders"), rules=bad)
        self.addCleanup(b.kill)
        with self.assertRaises(H.ServerStartError):
            b.start(timeout=30)
        b.proc.wait(timeout=30 * H.SCALE)
        b.assert_refused(self)
        if b.kind == "standalone":
            self.assertIn("bad.rules:3:19: rule 'p' pattern 'q' block 1: predicate: at offset 2: "
                          "unexpected character", b.stderr())


# ---------------------------------------------------------------------------------------
BIG = 'phenomenon big {\n    pattern p {\n        next a: amount > %d\n    }\n    alert "big {a.amount}"\n}\n'


def big_json(threshold):
    """BIG in the JSON form, as docs/rules.md's table says the text becomes."""
    return {"phenomenon": "big",
            "patterns": [{"name": "p", "blocks": [{"op": "next", "group": "a",
                                                   "predicate": "amount > %d" % threshold}]}],
            "actions": [{"type": "alert", "message": "big {a.amount}"}]}


PAIR = ('phenomenon pair {\n    pattern p {\n        key case\n'
        '        next a: activity == "create order"\n'
        '        followed_by b: activity == "approve order"\n    }\n}\n')


class RulesApi(RulesTest):
    """GET/PUT/DELETE /v1/rules, live."""

    def ev(self, srv, case, activity, **attrs):
        e = {"case": case, "activity": activity}
        e.update(attrs)
        r = srv.event(e)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def phenomena(self, v):
        return [c["phenomenon"] for c in v.get("complex", [])]

    def test_put_get_delete(self):
        srv = self.start()
        self.assertEqual(srv.get("/v1/rules").json(), [])
        v = self.ev(srv, "o1", "create order", amount=500)
        self.assertNotIn("complex", v, "no rules: verdicts keep their compliance-only shape")
        seq = srv.stats()["log"]["last_seq"]

        put_rule(self, srv, "big", BIG % 100)
        self.assertEqual(srv.stats()["log"]["last_seq"], seq + 1, "a PUT is one log record")
        self.assertEqual(srv.get("/v1/rules/big").json(), big_json(100))
        self.assertEqual(srv.get("/v1/rules").json(), [big_json(100)])
        v = self.ev(srv, "o2", "create order", amount=150)
        self.assertEqual(self.phenomena(v), ["big"])
        c = v["complex"][0]
        self.assertEqual((c["type"], c["pattern"], c["key"]), ("complex", "p", None))
        self.assertEqual(c["history"]["a"][0]["amount"], 150)
        self.assertEqual(self.ev(srv, "o3", "create order", amount=50)["complex"], [])

        # JSON replaces it: the very next event sees the new threshold
        put_rule(self, srv, "big", json.dumps(big_json(1000)))
        self.assertEqual(srv.get("/v1/rules/big").json(), big_json(1000))
        self.assertEqual(self.ev(srv, "o4", "create order", amount=150)["complex"], [])
        self.assertEqual(self.phenomena(self.ev(srv, "o5", "create order", amount=1500)), ["big"])

        # a second rule; load order is kept; a replaced rule keeps its place
        put_rule(self, srv, "pair", PAIR)
        put_rule(self, srv, "big", BIG % 10)
        self.assertEqual([r["phenomenon"] for r in srv.get("/v1/rules").json()], ["big", "pair"])
        self.assertEqual(srv.get("/v1/rules").json()[0], big_json(10))
        self.assertEqual(self.phenomena(self.ev(srv, "p1", "create order", amount=11)), ["big"])
        v = self.ev(srv, "p1", "approve order")
        self.assertEqual(self.phenomena(v), ["pair"])
        self.assertEqual(v["complex"][0]["key"], "p1")

        # alerts of "big" so far: 150, 1500, 11
        msgs = [a["message"] for a in all_alerts(srv)["alerts"]]
        self.assertEqual(msgs, ["big 150", "big 1500", "big 11"])

        seq = srv.stats()["log"]["last_seq"]
        r = srv.request("DELETE", "/v1/rules/big")
        self.assertEqual((r.status, r.json()), (200, {"ok": True}))
        self.assertEqual(srv.stats()["log"]["last_seq"], seq + 1, "a DELETE is one log record")
        self.assertError(srv.get("/v1/rules/big"), 404, "not_found", "big")
        self.assertError(srv.request("DELETE", "/v1/rules/big"), 404, "not_found")
        self.assertEqual(srv.stats()["log"]["last_seq"], seq + 1)
        self.assertEqual(self.ev(srv, "o6", "create order", amount=5000)["complex"], [])
        self.assertEqual(srv.request("DELETE", "/v1/rules/pair").status, 200)
        self.assertEqual(srv.get("/v1/rules").json(), [])
        self.assertNotIn("complex", self.ev(srv, "o7", "create order"))
        # the alerts stay
        self.assertEqual(len(all_alerts(srv)["alerts"]), 3)

    def test_case_end_offered_as_ends(self):
        """POST /v1/cases/{case}/end is offered to the rules as an event of
        kind "ends" (docs/rules.md, "Sources": a claim never paid by the end
        of its case); its verdict lists the complex events it triggered; it
        never breaks the strict contiguity of a rule that does not name ends;
        its deviation is not offered as a deviations event. (Times are left
        to the arrival clock: an end carries no time of its own.)"""
        srv = self.start()
        put_rule(self, srv, "unpaid_at_end", (
            'phenomenon unpaid_at_end {\n    pattern p {\n        from events, ends\n'
            '        key case\n        haltcondition activity == "pay"\n'
            '        followed_by c: activity == "claim"\n        followed_by z: kind == "ends"\n'
            '    }\n    alert "claim of {c.case} never paid"\n}\n'))
        put_rule(self, srv, "strict", (
            'phenomenon strict {\n    pattern p {\n        key case\n'
            '        next a: activity == "claim"\n        next b: activity == "pay"\n    }\n}\n'))
        put_rule(self, srv, "devs", (
            'phenomenon devs {\n    pattern p {\n        from deviations\n'
            '        next a: true\n    }\n}\n'))
        for case, act in (("c1", "claim"), ("c2", "claim"), ("c1", "pay"), ("c3", "create order")):
            v = self.ev(srv, case, act)
            # the event first, then its deviation
            self.assertEqual(self.phenomena(v), ["strict"] * (case == "c1" and act == "pay")
                             + ["devs"] * v["deviation"], v)
        before = cep_stats(srv)["events"]
        r = srv.post("/v1/cases/c1/end")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json()["end"])
        self.assertEqual(r.json()["complex"], [], "c1 was paid")
        self.assertEqual(cep_stats(srv)["events"], before + 1, "the end, offered once")
        v = srv.post("/v1/cases/c2/end").json()
        self.assertTrue(v["end"] and v["deviation"], v)  # claim was never a way to end
        self.assertEqual(self.phenomena(v), ["unpaid_at_end"], "no devs: ends are not deviations")
        c = v["complex"][0]
        self.assertEqual((c["key"], c["history"]["c"][0]["activity"]), ("c2", "claim"))
        self.assertEqual(c["history"]["z"], [{"kind": "ends", "time": c["time"], "case": "c2"}])
        self.assertEqual([a["message"] for a in all_alerts(srv)["alerts"]],
                         ["claim of c2 never paid"])
        # an end between two events of a strict (next, next) rule that does not name ends
        self.ev(srv, "c4", "claim")
        self.assertEqual(self.phenomena(srv.post("/v1/cases/c4/end").json()), ["unpaid_at_end"])
        self.assertIn("strict", self.phenomena(self.ev(srv, "c4", "pay")))
        # an end that triggers nothing still lists []; a case that is not open: 404, nothing offered
        self.assertEqual(srv.post("/v1/cases/c3/end").json()["complex"], [])
        before = cep_stats(srv)["events"]
        self.assertError(srv.post("/v1/cases/c3/end"), 404, "not_found")
        self.assertEqual(cep_stats(srv)["events"], before)
        # kill -9: the ends are log records; replay offers them again, at the same place
        self.ev(srv, "c5", "claim")
        alerts = all_alerts(srv)
        st = Restart.durable(cep_stats(srv))
        srv.kill()
        srv2 = self.start(name="ends-2", data_dir=srv.data_dir)
        self.assertEqual(all_alerts(srv2), alerts)
        self.assertEqual(Restart.durable(cep_stats(srv2)), st)
        self.assertEqual(self.phenomena(srv2.post("/v1/cases/c5/end").json()), ["unpaid_at_end"])
        self.assertEqual(len(all_alerts(srv2)["alerts"]), 3)
        self.stop(srv2)

    def test_replace_drops_runs(self):
        """PUT over a phenomenon drops its runs; other phenomena keep theirs."""
        srv = self.start()
        put_rule(self, srv, "pair", PAIR)
        put_rule(self, srv, "pair2", PAIR.replace("pair", "pair2"))
        self.ev(srv, "r1", "create order")
        put_rule(self, srv, "pair", PAIR.replace('"approve order"', '"approve order" and true'))
        v = self.ev(srv, "r1", "approve order")
        self.assertEqual(self.phenomena(v), ["pair2"], "the run of the replaced pair is gone")
        # an identical PUT replaces too (runs dropped)
        self.ev(srv, "r2", "create order")
        put_rule(self, srv, "pair2", PAIR.replace("pair", "pair2"))
        self.assertEqual(self.phenomena(self.ev(srv, "r2", "approve order")), ["pair"])

    def test_names(self):
        """Names that need percent-encoding in the path."""
        srv = self.start()
        name = "late delivery (EU)/ü"
        text = ('phenomenon "%s" {\n    pattern p { next a: type == "late" }\n}\n' % name)
        put_rule(self, srv, name, text)
        r = srv.get("/v1/rules/" + q(name))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["phenomenon"], name)
        v = self.ev(srv, "n1", "create order", type="late")
        self.assertEqual(self.phenomena(v), [name])
        self.assertEqual(srv.request("DELETE", "/v1/rules/" + q(name)).status, 200)
        self.assertError(srv.get("/v1/rules/%zz"), 400, "bad_request", "rule name")
        self.assertError(srv.request("PUT", "/v1/rules/%zz", body=BIG % 1), 400, "bad_request",
                         "rule name")
        self.assertError(srv.get("/v1/rules/" + "x" * 5000), 404, "not_found",
                         "no rule with a name that long")

    def test_methods(self):
        srv = self.start()
        r = srv.post("/v1/rules/x", body=BIG % 1)
        self.assertError(r, 405, "method_not_allowed")
        self.assertEqual(r.headers.get("allow"), "GET, HEAD, PUT, DELETE")
        r = srv.request("PUT", "/v1/rules", body=BIG % 1)
        self.assertError(r, 405, "method_not_allowed")
        self.assertError(srv.request("DELETE", "/v1/alerts"), 405, "method_not_allowed")
        self.assertEqual(srv.request("HEAD", "/v1/rules").status, 200)

    def test_put_answer(self):
        """The answer says whether a phenomenon was replaced or added."""
        srv = self.start()
        r = put_rule(self, srv, "big", BIG % 1)
        self.assertEqual(r.json(), {"ok": True, "replaced": False})
        r = put_rule(self, srv, "big", BIG % 2)
        self.assertEqual(r.json(), {"ok": True, "replaced": True})
        srv.request("DELETE", "/v1/rules/big")
        r = put_rule(self, srv, "big", BIG % 3)
        self.assertEqual(r.json(), {"ok": True, "replaced": False})

    def test_bad_rules(self):
        """400 bad_rules with the place; nothing changes, nothing is logged."""
        srv = self.start()
        put_rule(self, srv, "big", BIG % 100)
        before = srv.get("/v1/rules").json()
        seq = srv.stats()["log"]["last_seq"]

        # docs/rules.md's error examples: the same message, "body" as the origin
        with open(os.path.join(H.SOURCE_DIR, "docs", "rules.md"), encoding="utf-8") as f:
            md = f.read()
        pairs = re.findall(r"```rules\n([^`]*)```\s*```error\n([^`]*?)\n```", md)
        self.assertGreaterEqual(len(pairs), 3, "docs/rules.md's error examples")
        for text, want in pairs:
            name = re.match(r"\s*(?:phenomenon|aggregate|absence)\s+(\w+)", text).group(1)
            with self.subTest(error=want):
                r = srv.request("PUT", "/v1/rules/" + name, body=text)
                self.assertError(r, 400, "bad_rules")
                self.assertEqual(r.json()["error"]["message"],
                                 want.replace("example.rules:", "body:", 1))

        cases = [
            # (name, body, message pattern)
            ("x", "phenomenon x {\n    pattern p {\n        next a: type ==\n    }\n}\n",
             r"^body:3:\d+: "),
            ("x", "phenomenon x {\n  pattern p {\n    next a: (type == 1\n  }\n}\n", r"^body:\d+:\d+: "),
            ("x", "phenomenon x {", r"^body:1:\d+: "),
            ("x", "frobnicate x { }", r"^body:1:1: "),
            ("x", '{"phenomenon":"x","patterns":[', r"^body:1:\d+: "),
            ("x", '{"phenomenon":"x"}', r"^body: rule 'x': "),
            ("x", '{"phenomenon":"x","patterns":[{"name":"p","blocks":[{"op":"next",'
                  '"group":"a","predicate":"type == = 2"}]}]}',
             r"^body: rule 'x' pattern 'p' block 1: predicate: at offset \d+: "),
            ("x", "", r"^body: "),
            ("x", "[]", r"exactly one phenomenon, named 'x'"),
            ("x", '"x"', r"^body:1:1: "),
            # name mismatches
            ("x", BIG % 1, r"exactly one phenomenon, named 'x'"),
            ("big", BIG % 1 + PAIR, r"exactly one phenomenon, named 'big'"),
            ("big", json.dumps([big_json(1), json.loads(json.dumps(big_json(2)).replace(
                '"big"', '"big2"'))]), r"exactly one phenomenon, named 'big'"),
            ("big", json.dumps([big_json(1), big_json(2)]), r"^body: rule 'big': defined twice"),
            ("Big", BIG % 1, r"named 'Big'"),
        ]
        for name, body, pat in cases:
            with self.subTest(body=body[:60]):
                r = srv.request("PUT", "/v1/rules/" + q(name), body=body)
                self.assertError(r, 400, "bad_rules", pat)
        self.assertEqual(srv.get("/v1/rules").json(), before)
        self.assertEqual(srv.stats()["log"]["last_seq"], seq, "a refused PUT logs nothing")
        self.assertEqual(self.phenomena(self.ev(srv, "b1", "create order", amount=101)), ["big"])

    def test_garbage_bodies(self):
        """Random and hostile bodies never crash the server: each gets an
        answer (400, or 413 past max_body), the server keeps answering, and
        nothing is logged."""
        srv = self.start(max_body="2MiB")
        put_rule(self, srv, "big", BIG % 100)
        before = srv.get("/v1/rules").json()
        seq = srv.stats()["log"]["last_seq"]
        rnd = random.Random(4)
        bodies = [bytes(rnd.randrange(256) for _ in range(n)) for n in (1, 7, 64, 1000, 20000)]
        alphabet = 'phenomenon pattern next followed_by{}();:"#\\\n\t []a1=<>!'
        bodies += ["".join(rnd.choice(alphabet) for _ in range(n)).encode()
                   for n in (10, 200, 5000)]
        toks = ["phenomenon", "x", "{", "}", "pattern", "p", "next", "a:", "type", "==", '"s"',
                "(", ")", "[", "]", "within", "10m", "alert", "webhook", "\n", ";", "loop",
                "times", "0", "-1", "1e999", "\\", "#", "\u00e9", "\x00"]
        bodies += [" ".join(rnd.choice(toks) for _ in range(n)).encode() for n in (20, 300)]
        bodies += [
            b"[" * 100000 + b"]" * 100000,
            b"{\"phenomenon\":" * 5000,
            ("phenomenon x { pattern p { next a: " + "(" * 10000 + "1" + ")" * 10000
             + " } }").encode(),
            ("phenomenon x { pattern p { next a: " + "a." * 50000 + "b } }").encode(),
            b"phenomenon x { pattern p { next a: \"\xff\xfe\" } }",
            b"phenomenon \"\\u0000\" { }",
            b"phenomenon " + b"n" * 100000 + b" { }",
            b"phenomenon x { pattern p { next times 100000000000 a: true } }",
            (BIG % 1).encode() * 15000,  # about 1.4 MiB: over the 1 MiB rules limit
            b"\x00" * 1000,
        ]
        for i, body in enumerate(bodies):
            with self.subTest(body=i, head=body[:40]):
                r = srv.request("PUT", "/v1/rules/x", body=body,
                                headers={"Content-Type": "application/octet-stream"})
                self.assertIn(r.status, (400, 413), r)
                self.assertEqual(srv.get("/healthz").status, 200)
        # past max_body: refused on the Content-Length (the server may answer
        # and close before the body is sent, so it goes through a raw socket)
        big = b"x" * (3 << 20)
        out = srv.raw(b"PUT /v1/rules/x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n"
                      % len(big), send_chunks=[big[i:i + 65536] for i in range(0, len(big), 65536)])
        resp = H.parse_raw_response(out)
        self.assertIsNotNone(resp, "no answer: %r" % out[:200])
        self.assertEqual(resp[0], 413, resp)
        self.assertTrue(srv.alive())
        self.assertEqual(srv.get("/v1/rules").json(), before)
        self.assertEqual(srv.stats()["log"]["last_seq"], seq)
        self.assertEqual(self.phenomena(self.ev(srv, "g1", "create order", amount=101)), ["big"])
        self.stop(srv)

    def test_live_change_under_load(self):
        """Rules replaced while three clients post: a change applies between
        two events. The event log says which rule version each event met
        (the last rules record before its seq); every verdict's complex list
        agrees with it. Nothing is refused."""
        srv = self.start(threads=4)
        put_rule(self, srv, "big", BIG % 0)
        errors, verdicts = [], []

        def client(n):
            c = srv.client()
            for i in range(150):
                r = c.event({"case": "L%d-%d" % (n, i), "activity": "create order", "amount": 50})
                if r.status != 200:
                    errors.append(r)
                    break
                verdicts.append(r.json())
            c.close()

        ts = [threading.Thread(target=client, args=(n,)) for n in range(3)]
        for t in ts:
            t.start()
        puts = 0
        while any(t.is_alive() for t in ts) and puts < 5000:
            puts += 1
            put_rule(self, srv, "big", BIG % (0 if puts % 2 == 0 else 100))
        for t in ts:
            t.join(60 * H.SCALE)
        self.assertEqual(errors, [])
        self.assertEqual(len(verdicts), 450)
        self.stop(srv)
        threshold, fires = None, {}
        for rec in H.log_dump(srv.data_dir):
            if rec["type"] == "rules":
                pred = rec["change"]["rules"][0]["patterns"][0]["blocks"][0]["predicate"]
                threshold = int(pred.split(">")[1])
            elif rec.get("activity") == "create order":
                fires[rec["seq"]] = 1 if 50 > threshold else 0
        self.assertEqual({v["seq"]: len(v["complex"]) for v in verdicts},
                         {q: fires[q] for q in (v["seq"] for v in verdicts)})
        H.note("%d rule changes during 450 events, %d events met threshold 100"
               % (puts, sum(1 for v in verdicts if not v["complex"])))


# ---------------------------------------------------------------------------------------
class Webhooks(RulesTest):
    """The webhook action against a receiver in this process."""

    def hook_event(self, srv, i, **attrs):
        e = {"case": "w%d" % i, "activity": "create order", "type": "hook", "n": i,
             "time": T0 + i * MIN}
        e.update(attrs)
        r = srv.event(e)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def test_body_is_the_complex_event(self):
        rec = self.receiver()
        srv = self.start()
        put_rule(self, srv, "hook", webhook_rule("hook", rec.url, 'type == "hook"'))
        vs = [self.hook_event(srv, i) for i in range(3)]
        self.wait_cep(srv, lambda s: s["webhook"]["sent"] == 3, "3 webhooks delivered")
        got = rec.snapshot()
        self.assertEqual(len(got), 3)
        for (t, path, ctype, body, status), v in zip(got, vs):
            self.assertEqual(path, "/hook")
            self.assertEqual(ctype, "application/json")
            self.assertEqual(json.loads(body), v["complex"][0])
            self.assertEqual(v["complex"][0]["phenomenon"], "hook")
        m = metrics(srv)
        self.assertEqual(H.sample(m, "vigil_actions_total", action="webhook", outcome="success"), 3)
        self.assertEqual(H.sample(m, "vigil_webhook_queued_total"), 3)
        self.assertEqual(H.sample(m, "vigil_webhook_retries_total"), 0)
        self.assertEqual(H.sample(m, "vigil_webhook_queue_depth"), 0)
        # the action event fed back says "dispatched"
        put_rule(self, srv, "fed", 'phenomenon fed {\n    pattern p {\n        from actions\n'
                 '        next a: action == "webhook" and success == true and phenomenon == "hook"\n'
                 '    }\n}\n')
        v = self.hook_event(srv, 3)
        self.assertEqual([c["phenomenon"] for c in v["complex"]], ["hook", "fed"])

    def test_retries_with_backoff(self):
        """500 twice, then 200: three attempts, the gaps at least the backoff
        (200 ms, then 400 ms), delivered exactly once."""
        rec = self.receiver(fail_first=2)
        srv = self.start()
        put_rule(self, srv, "hook", webhook_rule("hook", rec.url, 'type == "hook"'))
        v = self.hook_event(srv, 1)
        self.wait_cep(srv, lambda s: s["webhook"]["sent"] == 1, "the webhook delivered")
        time.sleep(0.5)  # nothing more may come
        got = rec.snapshot()
        self.assertEqual([a[4] for a in got], [500, 500, 200])
        self.assertTrue(all(a[3] == got[0][3] for a in got), "every attempt sends the same body")
        self.assertEqual(json.loads(got[0][3]), v["complex"][0])
        gaps = [got[i + 1][0] - got[i][0] for i in range(2)]
        for i, g in enumerate(gaps):
            self.assertGreaterEqual(g, WEBHOOK_BACKOFF * 2 ** i * 0.9, gaps)
        self.assertEqual(rec.delivered(), [v["complex"][0]])
        c = cep_stats(srv)["webhook"]
        self.assertEqual((c["queued"], c["sent"], c["failed"], c["retries"], c["overflow"]),
                         (1, 1, 0, 2, 0))
        m = metrics(srv)
        self.assertEqual(H.sample(m, "vigil_webhook_retries_total"), 2)
        self.assertEqual(H.sample(m, "vigil_actions_total", action="webhook", outcome="success"), 1)
        self.assertEqual(H.sample(m, "vigil_actions_total", action="webhook", outcome="failure"), 0)

    def test_gives_up(self):
        """A receiver that always fails gets 1 + 3 attempts; then the
        delivery counts as failed. One that is down likewise. Event POSTs
        meanwhile are answered as usual."""
        rec = self.receiver(fail_all=True)
        down = dead_url()
        srv = self.start()
        put_rule(self, srv, "hook", webhook_rule("hook", rec.url, 'type == "hook"'))
        put_rule(self, srv, "down", webhook_rule("down", down, 'type == "down"'))
        v = self.hook_event(srv, 1)
        self.assertEqual([c["phenomenon"] for c in v["complex"]], ["hook"])
        v = self.hook_event(srv, 2, type="down")
        self.assertEqual([c["phenomenon"] for c in v["complex"]], ["down"])
        for i in range(3, 13):
            self.assertEqual(self.hook_event(srv, i, type="other")["complex"], [])
        self.wait_cep(srv, lambda s: s["webhook"]["failed"] == 2, "both deliveries given up",
                      timeout=60)
        got = rec.snapshot()
        self.assertEqual(len(got), 1 + WEBHOOK_RETRIES)
        self.assertEqual(rec.delivered(), [])
        c = cep_stats(srv)["webhook"]
        self.assertEqual((c["queued"], c["sent"], c["failed"], c["retries"]),
                         (2, 0, 2, 2 * WEBHOOK_RETRIES))
        m = metrics(srv)
        self.assertEqual(H.sample(m, "vigil_actions_total", action="webhook", outcome="failure"), 2)
        self.assertEqual(H.sample(m, "vigil_webhook_retries_total"), 2 * WEBHOOK_RETRIES)
        self.stop(srv)

    def test_only_http(self):
        """A webhook is an HTTP POST: URLs of curl's other protocols (here
        gopher, telnet and dict, which would talk to any TCP service) are
        refused, counted as failed, and never connect."""
        lst = socket.socket()
        self.addCleanup(lst.close)
        lst.bind((H.HOST, 0))
        lst.listen(16)
        port = lst.getsockname()[1]
        srv = self.start()
        schemes = ("gopher", "telnet", "dict")
        for sch in schemes:
            put_rule(self, srv, sch, webhook_rule(sch, "%s://%s:%d/x" % (sch, H.HOST, port),
                                                  'type == "hook"'))
        v = self.hook_event(srv, 1)
        self.assertEqual(sorted(c["phenomenon"] for c in v["complex"]), sorted(schemes))
        def done():
            if select.select([lst], [], [], 0)[0]:
                raise AssertionError("a non-HTTP webhook connected")
            return cep_stats(srv)["webhook"]["failed"] == len(schemes)
        H.wait_until(done, timeout=60, step=0.05, what="the deliveries given up")
        self.assertEqual(select.select([lst], [], [], 0.2)[0], [], "a non-HTTP webhook connected")
        self.assertEqual(cep_stats(srv)["webhook"]["sent"], 0)

    def test_hung_receiver_does_not_block_events(self):
        """The receiver takes the request and never answers. Event POSTs that
        trigger more webhooks are answered meanwhile: if the event path waited
        for delivery, each would take at least the 5 s attempt timeout."""
        rec = self.receiver(hang=True)
        srv = self.start()
        put_rule(self, srv, "hook", webhook_rule("hook", rec.url, 'type == "hook"'))
        self.hook_event(srv, 0)
        self.assertTrue(rec.arrived.wait(30 * H.SCALE), "the first webhook never came")
        n = 20
        t0 = time.monotonic()
        for i in range(1, n + 1):
            v = self.hook_event(srv, i)
            self.assertEqual(len(v["complex"]), 1)
        took = time.monotonic() - t0
        self.assertLess(took, n * WEBHOOK_TIMEOUT / 4 * H.SCALE,
                        "event POSTs waited for the webhook (%.1f s for %d)" % (took, n))
        self.assertEqual(rec.delivered(), [])
        c = cep_stats(srv)["webhook"]
        self.assertEqual(c["queued"], n + 1)
        self.assertEqual(c["sent"], 0)
        rec.release()
        self.wait_cep(srv, lambda s: s["webhook"]["sent"] == n + 1, "all delivered after release",
                      timeout=60)
        # (the first request may have been tried twice: its first attempt
        # timed out on the server's side while the receiver held it)
        ns = [b["history"]["a"][0]["n"] for b in rec.delivered()]
        self.assertEqual(sorted(set(ns)), list(range(n + 1)))
        self.assertIn(len(ns), (n + 1, n + 2), ns)
        self.assertEqual(cep_stats(srv)["webhook"]["failed"], 0)
        self.stop(srv)

    def test_queue_overflow(self):
        """With the worker held by a hung receiver, a batch of 1,024 + 6
        webhook-triggering events fills the queue and the last 6 are dropped,
        counted as overflow; the events themselves are accepted and their
        complex events listed. After the receiver recovers, every queued
        request is delivered."""
        rec = self.receiver(hang=True)
        srv = self.start()
        put_rule(self, srv, "hook", webhook_rule("hook", rec.url, 'type == "hook"'))
        self.hook_event(srv, 0)
        self.assertTrue(rec.arrived.wait(30 * H.SCALE), "the first webhook never came")
        extra = 6
        evs = [{"case": "q%d" % i, "activity": "create order", "type": "hook", "n": i,
                "time": T0 + i} for i in range(1, WEBHOOK_QUEUE + extra + 1)]
        r = srv.event(evs)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(all(len(v["complex"]) == 1 for v in r.json()))
        c = cep_stats(srv)["webhook"]
        self.assertEqual(c["overflow"], extra, c)
        self.assertEqual(c["queued"], 1 + WEBHOOK_QUEUE, c)
        self.assertEqual(c["depth"], WEBHOOK_QUEUE, c)
        m = metrics(srv)
        self.assertEqual(H.sample(m, "vigil_webhook_overflow_total"), extra)
        self.assertEqual(H.sample(m, "vigil_webhook_queue_depth"), WEBHOOK_QUEUE)
        # the action events still say "dispatched" (replay must agree)
        self.assertEqual(cep_stats(srv)["action_requests"], 1 + WEBHOOK_QUEUE + extra)
        rec.release()
        self.wait_cep(srv, lambda s: s["webhook"]["sent"] + s["webhook"]["failed"]
                      == 1 + WEBHOOK_QUEUE, "the queue drained", timeout=180)
        c = cep_stats(srv)["webhook"]
        self.assertEqual((c["sent"], c["failed"], c["depth"]), (1 + WEBHOOK_QUEUE, 0, 0), c)
        ns = set(b["history"]["a"][0]["n"] for b in rec.delivered())
        self.assertEqual(ns, set(range(WEBHOOK_QUEUE + 1)), "the first 1 + 1,024 are delivered")
        self.stop(srv)


# ---------------------------------------------------------------------------------------
class AlertStore(RulesTest):
    """The alert store keeps the newest 10,000 alerts."""

    KEEP = 10000

    def test_bounded(self):
        srv = self.start()
        put_rule(self, srv, "big", BIG % 0)
        n = self.KEEP + 5
        r = srv.event([{"case": "a%d" % i, "activity": "create order", "amount": i + 1,
                        "time": T0 + i} for i in range(n)])
        self.assertEqual(r.status, 200, r)
        self.assertTrue(all(len(v["complex"]) == 1 for v in r.json()))
        got = all_alerts(srv)
        seqs = [a["seq"] for a in got["alerts"]]
        self.assertEqual(seqs, list(range(6, n + 1)), "the oldest 5 are dropped")
        self.assertEqual(got["next"], n)
        self.assertEqual([a["message"] for a in got["alerts"][:2]], ["big 6", "big 7"])
        # a since inside the dropped part starts at the oldest kept
        page = srv.get("/v1/alerts?since=2&limit=3").json()
        self.assertEqual([a["seq"] for a in page["alerts"]], [6, 7, 8])
        self.assertEqual(page["next"], 8)
        m = metrics(srv)
        self.assertEqual(H.sample(m, "vigil_alerts_dropped_total"), 5)
        self.assertEqual(H.sample(m, "vigil_alerts_kept"), self.KEEP)
        self.assertEqual(H.sample(m, "vigil_alert_seq"), n)
        self.assertEqual(H.sample(m, "vigil_actions_total", action="alert", outcome="success"), n)
        # the same store after kill -9 (replayed) and after a clean stop (snapshot)
        srv.kill()
        srv2 = self.start(name="alerts-2", data_dir=srv.data_dir)
        self.assertEqual(all_alerts(srv2), got)
        self.stop(srv2)
        srv3 = self.start(name="alerts-3", data_dir=srv.data_dir)
        self.assertEqual(all_alerts(srv3), got)
        v = srv3.event({"case": "z", "activity": "create order", "amount": 7}).json()
        self.assertEqual(len(v["complex"]), 1)
        got = all_alerts(srv3)
        self.assertEqual([a["seq"] for a in got["alerts"]][-2:], [n, n + 1])
        self.assertEqual(len(got["alerts"]), self.KEEP)


# ---------------------------------------------------------------------------------------
ABSENCE = """absence late_job {
    key job
    when s: type == "start"
    expect type == "done" and job == s.job
    within 1h
    alert "job {s.job} not done within an hour"
}
"""


class Restart(RulesTest):
    """Rules, runs, timers and the alert store across restarts."""

    def test_rules_survive_restart(self):
        for how in ("stop", "kill"):
            with self.subTest(restart=how):
                srv = self.start(name="rules-" + how)
                put_rule(self, srv, "big", BIG % 100)
                put_rule(self, srv, "pair", PAIR)
                put_rule(self, srv, "gone", BIG.replace("big", "gone") % 1)
                self.assertEqual(srv.request("DELETE", "/v1/rules/gone").status, 200)
                put_rule(self, srv, "big", json.dumps(big_json(200)))
                rules = srv.get("/v1/rules").json()
                self.assertEqual([r["phenomenon"] for r in rules], ["big", "pair"])
                seq = srv.stats()["log"]["last_seq"]
                if how == "stop":
                    self.stop(srv)
                else:
                    srv.kill()
                srv2 = self.start(name="rules-%s-2" % how, data_dir=srv.data_dir)
                self.assertEqual(srv2.get("/v1/rules").json(), rules)
                self.assertEqual(srv2.stats()["log"]["last_seq"], seq)
                v = srv2.event({"case": "s1", "activity": "create order", "amount": 150}).json()
                self.assertEqual(v["complex"], [])
                v = srv2.event({"case": "s1", "activity": "approve order", "amount": 250}).json()
                self.assertEqual([c["phenomenon"] for c in v["complex"]], ["big", "pair"])
                self.stop(srv2)

    @staticmethod
    def durable(st):
        """The rule-stage numbers a restart must give back: the engine's
        counters (its state) and the alert store; not the since-start ones."""
        return {"events": st["events"], "complex": st["complex"], "runs": st["runs"],
                "drops": st["drops"], "action_requests": st["action_requests"],
                "alerts": {k: st["alerts"][k] for k in ("seq", "kept")}}

    def run_reference(self, g, rules_text, hook):
        rec = self.receiver()
        rules = write_file(os.path.join(H.tmpdir("ref"), "r.rules"),
                           rules_text.replace("RECEIVER", rec.url))
        srv = self.start(name="reference", rules=rules)
        verdicts = post_events(self, srv, g.http_events())
        ref = {"complex": [v["complex"] for v in verdicts], "alerts": all_alerts(srv),
               "log": actions_log(srv.data_dir)}
        n_hooks = sum(1 for c in sum(ref["complex"], []) if c["phenomenon"] == hook)
        self.wait_cep(srv, lambda s: s["webhook"]["sent"] == n_hooks, "reference webhooks")
        ref["hooks"] = rec.delivered()
        ref["stats"] = self.durable(cep_stats(srv))
        self.stop(srv)
        return ref

    def kill_and_resume(self, g, text, points, hook=None):
        """The reference, then for each (kill_at, how, opts): post the first
        kill_at events, wait for their webhooks, kill -9 (or stop), restart
        on the same data directory, post the rest; everything must equal the
        reference."""
        ref = self.run_reference(g, text, hook)
        self.assertEqual(len(ref["alerts"]["alerts"]), len(g.alerts))
        evs = g.http_events()
        for kill_at, how, opts in points:
            with self.subTest(example=g.name, kill_at=kill_at, restart=how, **opts):
                rec = self.receiver()
                rules = write_file(os.path.join(H.tmpdir("killed"), "r.rules"),
                                   text.replace("RECEIVER", rec.url))
                srv = self.start(name="killed", rules=rules, **opts)
                got = [v["complex"] for v in post_events(self, srv, evs[:kill_at])]
                n_hooks = sum(1 for c in sum(got, []) if c["phenomenon"] == hook)
                self.wait_cep(srv, lambda s: s["webhook"]["sent"] == n_hooks, "webhooks sent")
                before = all_alerts(srv)
                if how == "kill":
                    srv.kill()
                else:
                    self.stop(srv)
                srv2 = self.start(name="restarted", data_dir=srv.data_dir, rules=rules, **opts)
                self.assertEqual(all_alerts(srv2), before, "the alert store after the restart")
                got += [v["complex"] for v in post_events(self, srv2, evs[kill_at:])]
                self.assertEqual(got, ref["complex"])
                self.assertEqual(all_alerts(srv2), ref["alerts"])
                self.assertEqual(actions_log(srv2.data_dir), ref["log"])
                # replay queued no webhook: only the ones of events posted after the restart
                after = sum(1 for c in sum(got[kill_at:], []) if c["phenomenon"] == hook)
                self.wait_cep(srv2, lambda s: s["webhook"]["sent"] == after, "webhooks sent")
                self.assertEqual(cep_stats(srv2)["webhook"]["queued"], after)
                self.assertEqual(rec.delivered(), ref["hooks"], "each webhook exactly once")
                self.assertEqual(self.durable(cep_stats(srv2)), ref["stats"])
                self.assertEqual(H.sample(metrics(srv2), "vigil_alert_seq"), len(g.alerts))
                self.stop(srv2)

    def test_kill_mid_stream(self):
        """The insurance example plus a webhook on every claim. An
        uninterrupted run is the reference; then for several kill points (and
        with snapshots every 3 records, and a clean stop instead of kill -9):
        post the first events, wait for the webhooks, kill -9, restart on the
        same data directory, post the rest. Verdicts, the alert store,
        actions.log and the webhooks received equal the reference: replay
        rebuilds alerts and runs, executes nothing twice, and unpaid_claim
        (k3's claim on 05-10, fired by the clock event on 06-01) fires once."""
        g = golden("insurance-claims")
        with open(g.rules, encoding="utf-8") as f:
            text = f.read() + ('\nphenomenon claim_hook {\n    pattern p { next c: type == "claim" }\n'
                               '    webhook "RECEIVER"\n}\n')
        self.kill_and_resume(g, text, (
            (7, "kill", {}), (9, "kill", {}), (10, "kill", {}), (14, "kill", {}),
            (10, "kill", {"snapshot_every": 3}), (11, "stop", {}),
            (10, "stop", {"snapshot_every": 4})), hook="claim_hook")

    def test_kill_mid_stream_windows(self):
        """The same for the examples with aggregate windows (access control)
        and rules on rules with skip_past_last (home health): windows, runs
        and their histories survive kill -9 (log replay), snapshots taken in
        the middle of them, and clean stops."""
        for name in ("access-control", "home-health"):
            g = golden(name)
            with open(g.rules, encoding="utf-8") as f:
                text = f.read()
            n = len(g.events)
            points = [(k, "kill", {}) for k in range(2, n, 3)]
            points += [(k, "kill", {"snapshot_every": se}) for k, se in
                       ((n // 3, 1), (n // 2, 2), (2 * n // 3, 3))]
            points += [(n // 2, "stop", {}), (n // 3 + 1, "stop", {"snapshot_every": 2})]
            self.kill_and_resume(g, text, points)

    def test_absence_across_restart(self):
        """job j1 starts at T0 and is never done; j2 is done in time. The
        server restarts (kill -9, clean stop, kill -9 with snapshots) before
        the hour passes; the first event after T0 + 1h fires late_job for j1,
        once, with time T0 + 1h; later events fire nothing more."""
        for how, opts in (("kill", {}), ("stop", {}), ("kill", {"snapshot_every": 2}),
                          ("stop", {"snapshot_every": 1})):
            with self.subTest(restart=how, **opts):
                srv = self.start(name="absence-" + how, **opts)
                put_rule(self, srv, "late_job", ABSENCE)
                v = post_events(self, srv, [
                    {"case": "j1", "activity": "create order", "type": "start", "job": "j1",
                     "time": T0},
                    {"case": "j2", "activity": "create order", "type": "start", "job": "j2",
                     "time": T0 + MIN},
                    {"case": "j2", "activity": "approve order", "type": "done", "job": "j2",
                     "time": T0 + 10 * MIN},
                    {"case": "x", "activity": "create order", "time": T0 + 30 * MIN}])
                self.assertTrue(all(x["complex"] == [] for x in v), v)
                self.assertEqual(cep_stats(srv)["runs"]["active"], 1, "j1's wait")
                if how == "kill":
                    srv.kill()
                else:
                    self.stop(srv)
                srv2 = self.start(name="absence-%s-2" % how, data_dir=srv.data_dir, **opts)
                self.assertEqual(cep_stats(srv2)["runs"]["active"], 1, "j1's wait survived")
                v = post_events(self, srv2, [
                    {"case": "y", "activity": "create order", "time": T0 + 59 * MIN},
                    {"case": "y", "activity": "approve order", "time": T0 + 2 * HOUR},
                    {"case": "y", "activity": "ship goods", "time": T0 + 3 * HOUR},
                    {"case": "z", "activity": "create order", "time": T0 + 30 * HOUR}])
                self.assertEqual(v[0]["complex"], [])
                self.assertEqual([c["phenomenon"] for c in v[1]["complex"]], ["late_job"])
                c = v[1]["complex"][0]
                self.assertEqual((c["key"], c["time"], c["start"], c["end"]),
                                 ("j1", T0 + HOUR, T0, T0 + HOUR))
                self.assertEqual([e["job"] for e in c["history"]["s"]], ["j1"])
                self.assertEqual(v[2]["complex"], [])
                self.assertEqual(v[3]["complex"], [])
                alerts = all_alerts(srv2)["alerts"]
                self.assertEqual([(a["phenomenon"], a["message"], a["time"]) for a in alerts],
                                 [("late_job", "job j1 not done within an hour", T0 + HOUR)])
                self.assertEqual(cep_stats(srv2)["runs"]["active"], 0)
                # and once more after another restart (the fired wait is gone)
                srv2.kill()
                srv3 = self.start(name="absence-%s-3" % how, data_dir=srv.data_dir, **opts)
                v = post_events(self, srv3, [{"case": "z", "activity": "approve order",
                                              "time": T0 + 40 * HOUR}])
                self.assertEqual(v[0]["complex"], [])
                self.assertEqual(len(all_alerts(srv3)["alerts"]), 1)
                self.stop(srv3)


# ---------------------------------------------------------------------------------------
class Deviations(RulesTest):
    """Compliance deviations as events: `from deviations`."""

    RULE = """aggregate repeated_deviations {
    from deviations
    key case
    count >= 2 within 1h
    alert "case {events.case}: second deviation within an hour ({events.activity})"
}
"""

    def test_two_deviations_in_a_case(self):
        srv = self.start()
        put_rule(self, srv, "repeated_deviations", self.RULE)
        evs = [("PO-A", "create order", 0), ("PO-A", "ship goods", 1),      # A: deviation 1
               ("PO-B", "create order", 2), ("PO-B", "ship goods", 3),      # B: deviation 1
               ("PO-C", "create order", 4), ("PO-C", "approve order", 5),   # C: none
               ("PO-A", "ship goods", 6),                                   # A: deviation 2
               ("PO-B", "ship goods", 125),                                 # B: 2 h later
               ("PO-C", "ship goods", 126)]                                 # C: ok
        vs = post_events(self, srv, [{"case": c, "activity": a, "time": T0 + t * MIN}
                                     for c, a, t in evs])
        devs = {}
        for (case, act, t), v in zip(evs, vs):
            if v["deviation"]:
                devs.setdefault(case, []).append((v, t))
        self.assertEqual({c: len(x) for c, x in devs.items()}, {"PO-A": 2, "PO-B": 2},
                         "the orders model: ship goods right after create order deviates")
        fired = [(i, c) for i, v in enumerate(vs) for c in v["complex"]]
        self.assertEqual([(i, c["phenomenon"], c["key"]) for i, c in fired],
                         [(6, "repeated_deviations", "PO-A")])
        c = fired[0][1]
        self.assertEqual(c["value"], 2)
        want = []
        for v, t in devs["PO-A"]:
            flagged = [k for k in v["checks"] if k["result"] != "ok"][0]  # the smallest k
            want.append({"kind": "deviations", "case": "PO-A", "activity": v["activity"],
                         "prefix": flagged["prefix"],
                         "result": flagged["result"], "probability": flagged["probability"],
                         "time": T0 + t * MIN})
        self.assertEqual(c["history"]["events"], want)
        a = all_alerts(srv)["alerts"]
        self.assertEqual([x["message"] for x in a],
                         ["case PO-A: second deviation within an hour (ship goods)"])
        # A pattern over deviations of one case: the same activity deviating
        # twice. PO-D: approve order after create order is fine, so it is no
        # deviation and does not break the run (followed_by), nor start one.
        put_rule(self, srv, "dev_then_dev", (
            'phenomenon dev_then_dev {\n    pattern p {\n        from deviations\n'
            '        key case\n        within 1h\n        next a: result != "ok"\n'
            '        followed_by b: activity == a.activity\n    }\n}\n'))
        evs = [("PO-D", "create order", 200), ("PO-D", "ship goods", 201),
               ("PO-D", "approve order", 202), ("PO-E", "create order", 203),
               ("PO-D", "create order", 204), ("PO-D", "ship goods", 205)]
        vs = post_events(self, srv, [{"case": c, "activity": a, "time": T0 + t * MIN}
                                     for c, a, t in evs])
        self.assertEqual([v["deviation"] for v in vs], [False, True, False, False, True, False])
        # ship goods after approve order is the normal way: only create order
        # (again) and the first ship goods deviate; different activities
        self.assertEqual([sorted(x["phenomenon"] for x in v["complex"]) for v in vs],
                         [[], [], [], [], ["repeated_deviations"], []])
        vs = post_events(self, srv, [{"case": "PO-E", "activity": "ship goods", "time": T0 + 206 * MIN},
                                     {"case": "PO-E", "activity": "ship goods", "time": T0 + 207 * MIN}])
        self.assertEqual([v["deviation"] for v in vs], [True, True])
        self.assertEqual([sorted(x["phenomenon"] for x in v["complex"]) for v in vs],
                         [[], ["dev_then_dev", "repeated_deviations"]])
        c = [x for x in vs[1]["complex"] if x["phenomenon"] == "dev_then_dev"][0]
        self.assertEqual([e["activity"] for e in c["history"]["a"] + c["history"]["b"]],
                         ["ship goods", "ship goods"])
        self.assertEqual(len(all_alerts(srv)["alerts"]), 3)


# ---------------------------------------------------------------------------------------
class Metrics(RulesTest):
    """The rule-stage series of /metrics and "cep" of /v1/stats after known events."""

    PAIR = ('phenomenon pair {\n    pattern p {\n        key case\n        within 1h\n'
            '        next a: activity == "create order"\n'
            '        followed_by b: activity == "approve order"\n    }\n'
            '    alert "pair {a.case}"\n    log "pair {a.case}"\n}\n')

    def delta(self, a, b):
        return {k: b[k] - a[k] for k in a}

    def flat(self, srv):
        """Every rule-stage number of /metrics, and the same from /v1/stats."""
        m = metrics(srv)
        names = ("vigil_cep_events_total", "vigil_cep_complex_events_total",
                 "vigil_cep_runs_active", "vigil_cep_runs_halted_total",
                 "vigil_cep_runs_expired_total", "vigil_cep_runs_capped_total",
                 "vigil_cep_action_requests_total", "vigil_actions_unknown_total",
                 "vigil_alert_seq", "vigil_alerts_kept", "vigil_alerts_dropped_total",
                 "vigil_webhook_queue_depth", "vigil_webhook_queued_total",
                 "vigil_webhook_retries_total", "vigil_webhook_overflow_total")
        out = {n: H.sample(m, n) for n in names}
        for r in ("depth", "keys", "history"):
            out["drops_" + r] = H.sample(m, "vigil_cep_drops_total", reason=r)
        for a in ("alert", "log", "webhook"):
            for o in ("success", "failure"):
                out["%s_%s" % (a, o)] = H.sample(m, "vigil_actions_total", action=a, outcome=o)
        for fam in names + ("vigil_cep_drops_total", "vigil_actions_total"):
            self.assertEqual(m["types"][fam], "gauge" if not fam.endswith("_total") else "counter")
        # /v1/stats says the same
        s = cep_stats(srv)
        same = {"vigil_cep_events_total": s["events"], "vigil_cep_complex_events_total": s["complex"],
                "vigil_cep_runs_active": s["runs"]["active"],
                "vigil_cep_runs_halted_total": s["runs"]["halted"],
                "vigil_cep_runs_expired_total": s["runs"]["expired"],
                "vigil_cep_runs_capped_total": s["runs"]["capped"],
                "vigil_cep_action_requests_total": s["action_requests"],
                "vigil_actions_unknown_total": s["unknown_actions"],
                "vigil_alert_seq": s["alerts"]["seq"], "vigil_alerts_kept": s["alerts"]["kept"],
                "vigil_alerts_dropped_total": s["alerts"]["dropped"],
                "vigil_webhook_queue_depth": s["webhook"]["depth"],
                "vigil_webhook_queued_total": s["webhook"]["queued"],
                "vigil_webhook_retries_total": s["webhook"]["retries"],
                "vigil_webhook_overflow_total": s["webhook"]["overflow"],
                "drops_depth": s["drops"]["depth"], "drops_keys": s["drops"]["keys"],
                "drops_history": s["drops"]["history"],
                "alert_success": s["alerts"]["stored"], "alert_failure": s["alerts"]["errors"],
                "log_success": s["log"]["written"], "log_failure": s["log"]["errors"],
                "webhook_success": s["webhook"]["sent"], "webhook_failure": s["webhook"]["failed"]}
        for k, v in same.items():
            self.assertEqual(out[k], v, k)
        return out

    def post(self, srv, case, activity, t, **attrs):
        e = {"case": case, "activity": activity, "time": T0 + t}
        e.update(attrs)
        r = srv.event(e)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def test_counters_move(self):
        srv = self.start()
        m0 = self.flat(srv)
        self.assertEqual(set(m0.values()), {0}, m0)
        put_rule(self, srv, "pair", self.PAIR)
        self.assertEqual(self.flat(srv), m0, "loading a rule counts nothing")

        # c1: create starts a run; approve completes it: 1 complex, alert + log
        self.post(srv, "c1", "create order", 0)
        m1 = self.flat(srv)
        self.assertEqual({k: v for k, v in self.delta(m0, m1).items() if v},
                         {"vigil_cep_events_total": 1, "vigil_cep_runs_active": 1})
        v = self.post(srv, "c1", "approve order", MIN)
        self.assertEqual([c["phenomenon"] for c in v["complex"]], ["pair"])
        m2 = self.flat(srv)
        self.assertEqual({k: x for k, x in self.delta(m1, m2).items() if x},
                         {"vigil_cep_events_total": 1 + 2,  # the event, 2 action events
                          "vigil_cep_complex_events_total": 1, "vigil_cep_runs_active": -1,
                          "vigil_cep_action_requests_total": 2, "alert_success": 1,
                          "log_success": 1, "vigil_alert_seq": 1, "vigil_alerts_kept": 1})
        # c2's run expires when an event 3 h later moves the clock; c3's starts
        self.post(srv, "c2", "create order", 2 * MIN)
        m3 = self.flat(srv)
        self.post(srv, "c3", "create order", 3 * HOUR)
        m4 = self.flat(srv)
        self.assertEqual({k: x for k, x in self.delta(m3, m4).items() if x},
                         {"vigil_cep_events_total": 1, "vigil_cep_runs_halted_total": 1,
                          "vigil_cep_runs_expired_total": 1})
        # a deviating event is offered twice (the event and its deviation)
        v = self.post(srv, "c3", "ship goods", 3 * HOUR + MIN)
        self.assertTrue(v["deviation"])
        m5 = self.flat(srv)
        self.assertEqual({k: x for k, x in self.delta(m4, m5).items() if x},
                         {"vigil_cep_events_total": 2})

        # capped: max_runs 2, three starts
        put_rule(self, srv, "bounded", (
            'phenomenon bounded {\n    pattern p {\n        key case\n        max_runs 2\n'
            '        next a: type == "open"\n        followed_by b: type == "close"\n    }\n}\n'))
        for i in range(3):
            self.post(srv, "b", "change order", 4 * HOUR + i, type="open")
        m6 = self.flat(srv)
        self.assertEqual(m6["vigil_cep_runs_capped_total"] - m5["vigil_cep_runs_capped_total"], 1)
        v = self.post(srv, "b", "ship goods", 4 * HOUR + 10, type="close")
        self.assertEqual([c["phenomenon"] for c in v["complex"]], ["bounded", "bounded"])

        # depth: a phenomenon fed by its own complex events stops after 8 re-entries
        put_rule(self, srv, "echo", (
            'phenomenon echo {\n    pattern p {\n        from events, complex:echo\n'
            '        next a: type == "echo" or kind == "complex:echo"\n    }\n}\n'))
        m7 = self.flat(srv)
        v = self.post(srv, "e", "create order", 5 * HOUR, type="echo")
        self.assertEqual([c["phenomenon"] for c in v["complex"]], ["echo"] * 9)
        m8 = self.flat(srv)
        self.assertEqual(m8["drops_depth"] - m7["drops_depth"], 1)
        self.assertEqual(m8["vigil_cep_complex_events_total"]
                         - m7["vigil_cep_complex_events_total"], 9)
        self.assertEqual(srv.request("DELETE", "/v1/rules/echo").status, 200)

        # history: a loop block past max_history (1,024 events per run)
        put_rule(self, srv, "long", (
            'phenomenon long {\n    pattern p {\n        key case\n'
            '        next a: type == "begin"\n        followed_by loop l: type == "more"\n'
            '        followed_by z: type == "end"\n    }\n}\n'))
        evs = [{"case": "h", "activity": "change order", "type": t, "time": T0 + 6 * HOUR + i}
               for i, t in enumerate(["begin"] + ["more"] * 1099 + ["end"])]
        r = srv.event(evs)
        self.assertEqual(r.status, 200, r)
        self.assertEqual([c["phenomenon"] for c in r.json()[-1]["complex"]], [])
        m9 = self.flat(srv)
        self.assertEqual(m9["drops_history"] - m8["drops_history"], 1)

        # an action type the executor does not know (JSON form only)
        put_rule(self, srv, "mail", json.dumps({
            "phenomenon": "mail", "patterns": [{"name": "p", "blocks": [
                {"op": "next", "group": "a", "predicate": "type == \"mail\""}]}],
            "actions": [{"type": "email", "message": "to {a.case}"}]}))
        put_rule(self, srv, "fed", (
            'phenomenon fed {\n    pattern p {\n        from actions\n'
            '        next a: action == "email" and success == false\n    }\n}\n'))
        v = self.post(srv, "m", "create order", 8 * HOUR, type="mail")
        self.assertEqual([c["phenomenon"] for c in v["complex"]], ["mail", "fed"])
        m10 = self.flat(srv)
        self.assertEqual(m10["vigil_actions_unknown_total"] - m9["vigil_actions_unknown_total"], 1)
        self.assertEqual(m10["alert_success"], 1)

        # the engine's counters survive a restart (its snapshot state and the
        # log); the alert store's seq too
        before = {k: m10[k] for k in ("vigil_cep_events_total", "vigil_cep_complex_events_total",
                                      "vigil_cep_runs_active", "vigil_cep_runs_halted_total",
                                      "vigil_cep_runs_expired_total", "vigil_cep_runs_capped_total",
                                      "drops_depth", "drops_history", "vigil_alert_seq",
                                      "vigil_alerts_kept")}
        srv.kill()
        srv2 = self.start(name="metrics-2", data_dir=srv.data_dir)
        after = self.flat(srv2)
        self.assertEqual({k: after[k] for k in before}, before)
        self.stop(srv2)
