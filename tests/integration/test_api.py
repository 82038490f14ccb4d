"""The HTTP API of the running service: every route, every error status,
batch atomicity, limits, concurrent clients, auth, TLS, the request log.

Each class starts its own server (fresh data directory) on a free port. The
judging model is examples/orders.csv with prefix lengths 1 and 2 (the model
docs/api.md uses): a case runs create order → approve order (0.70) or
change order (0.30) → … ; "ship goods" right after "create order" is a
"missing" deviation.
"""
import json
import os
import random
import socket
import stat
import threading
import time
import unittest
import urllib.parse
import xml.etree.ElementTree as ET

import harness as H
from harness import server_bug

RESULTS = ("ok", "low", "missing", "unknown_state")
_uid_lock = threading.Lock()
_uid_n = [0]
_RUN = "%04x" % random.randrange(1 << 16)


def uid(prefix="c"):
    with _uid_lock:
        _uid_n[0] += 1
        return "%s-%s-%d" % (prefix, _RUN, _uid_n[0])


def q(case):
    """A case id as a path segment: every reserved byte percent-encoded."""
    return urllib.parse.quote(case, safe="")


# A normal trace of the orders process (PO-00000 of examples/orders.csv).
TRACE = ["create order", "approve order", "ship goods", "send invoice", "receive payment",
         "close order"]


class ServiceTest(unittest.TestCase):
    """Starts one server for the class: the orders model plus server_opts."""
    model_name = "orders"
    server_opts = {}
    server = None

    @classmethod
    def setUpClass(cls):
        opts = dict(cls.server_opts)
        if cls.model_name:
            opts.setdefault("model", H.model(cls.model_name))
        cls.srv = H.new_server(name=cls.__name__, **opts)
        cls.addClassCleanup(cls.srv.kill)
        cls.srv.start()

    @classmethod
    def tearDownClass(cls):
        if cls.srv.alive():
            rc = cls.srv.stop()
            if rc != 0:
                raise AssertionError("%s: the server exited %r after SIGINT:\n%s"
                                     % (cls.__name__, rc, cls.srv.stderr()[-2000:]))

    # -- helpers
    def last_seq(self):
        return self.srv.stats()["log"]["last_seq"]

    def assertError(self, r, status, code, msg_re=None):
        self.assertEqual(r.status, status, r)
        self.assertTrue(r.content_type.startswith("application/json"), r.content_type)
        body = r.json()
        self.assertIsInstance(body, dict, r)
        self.assertEqual(set(body), {"error"}, body)
        err = body["error"]
        self.assertEqual(err.get("code"), code, body)
        self.assertIsInstance(err.get("message"), str, body)
        self.assertTrue(err["message"], body)
        if msg_re:
            self.assertRegex(err["message"], msg_re)
        return err

    def assertVerdict(self, v, case=None, activity=None, ks=(1, 2)):
        self.assertIsInstance(v, dict, v)
        for key in ("seq", "case", "activity", "deviation", "checks"):
            self.assertIn(key, v, v)
        self.assertIsInstance(v["seq"], int)
        self.assertGreater(v["seq"], 0)
        self.assertIsInstance(v["deviation"], bool)
        if case is not None:
            self.assertEqual(v["case"], case)
        if activity is not None:
            self.assertEqual(v["activity"], activity)
        self.assertEqual([c["prefix"] for c in v["checks"]], list(ks), v)
        for c in v["checks"]:
            self.assertIn(c["result"], RESULTS, c)
            self.assertIsInstance(c["state"], list)
            self.assertEqual(len(c["state"]), c["prefix"], c)
            self.assertIsInstance(c["probability"], (int, float))
            self.assertTrue(0 <= c["probability"] <= 1, c)
            if "expected" in c:
                for e in c["expected"]:
                    self.assertEqual(set(e), {"activity", "probability"}, e)
        for flag in ("new_case", "evicted_before"):
            if flag in v:
                self.assertIs(v[flag], True, v)
        return v

    def post_ok(self, ev, **kw):
        r = self.srv.event(ev, **kw)
        self.assertEqual(r.status, 200, r)
        return r.json()


# ---------------------------------------------------------------------------------------
class Events(ServiceTest):
    """POST /v1/events: one object, a JSON array, NDJSON; key aliases, case
    ids, times."""

    def test_single_event(self):
        c = uid()
        r = self.srv.event({"case": c, "activity": "create order",
                            "time": "2026-03-02T08:00:00Z", "amount": 120.5})
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.content_type.startswith("application/json"), r.content_type)
        self.assertRegex(r.headers.get("x-request-id", ""), r"\S")
        v = self.assertVerdict(r.json(), c, "create order")
        self.assertIs(v.get("new_case"), True)
        self.assertIs(v["deviation"], False)
        self.assertEqual([(x["state"], x["result"], x["probability"]) for x in v["checks"]],
                         [([None], "ok", 1), ([None, None], "ok", 1)])

    def test_history_flows_into_next_verdict(self):
        c = uid()
        v1 = self.post_ok({"case": c, "activity": "create order"})
        v2 = self.post_ok({"case": c, "activity": "approve order"})
        self.assertEqual(v2["seq"], v1["seq"] + 1)
        self.assertNotIn("new_case", v2)
        self.assertIs(v2["deviation"], False)
        self.assertEqual([x["state"] for x in v2["checks"]],
                         [["create order"], [None, "create order"]])
        self.assertAlmostEqual(v2["checks"][0]["probability"], 0.6983333333333334)

    def test_deviation_is_explained(self):
        c = uid()
        self.post_ok({"case": c, "activity": "create order"})
        v = self.post_ok({"case": c, "activity": "ship goods"})
        self.assertIs(v["deviation"], True)
        for chk in v["checks"]:
            self.assertEqual(chk["result"], "missing")
            self.assertEqual(chk["probability"], 0)
            self.assertEqual([e["activity"] for e in chk["expected"]],
                             ["approve order", "change order"])
        # drop-missing (the default): the deviating event did not join the history
        h = self.srv.get("/v1/cases/" + q(c)).json()
        self.assertEqual(h["history"], [None, "create order"])
        self.assertEqual(h["events"], 2)

    def test_seq_increases_for_one_client(self):
        cli = self.srv.client()
        seqs = []
        for i in range(20):
            r = cli.event({"case": uid(), "activity": "create order"})
            self.assertEqual(r.status, 200, r)
            seqs.append(r.json()["seq"])
        cli.close()
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] + 20)))

    def test_array_batch_in_order(self):
        c1, c2 = uid(), uid()
        evs = [{"case": c1, "activity": "create order"},
               {"case": c2, "activity": "create order"},
               {"case": c1, "activity": "change order"},
               {"case": c1, "activity": "approve order"},
               {"case": c2, "activity": "ship goods"}]
        r = self.srv.event(evs)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.content_type.startswith("application/json"), r.content_type)
        vs = r.json()
        self.assertIsInstance(vs, list)
        self.assertEqual([(v["case"], v["activity"]) for v in vs],
                         [(e["case"], e["activity"]) for e in evs])
        for v in vs:
            self.assertVerdict(v)
        seqs = [v["seq"] for v in vs]
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(evs))))
        self.assertEqual(vs[2]["checks"][0]["state"], ["create order"])
        self.assertEqual(vs[3]["checks"][1]["state"], ["create order", "change order"])
        self.assertEqual([v["deviation"] for v in vs], [False, False, False, False, True])

    def test_ndjson_batch_in_order(self):
        c = uid()
        lines = [json.dumps({"case": c, "activity": a}) for a in TRACE[:4]]
        body = (lines[0] + "\n" + lines[1] + "\n\n" + lines[2] + "\n" + lines[3]).encode()
        r = self.srv.post("/v1/events", body=body, content_type="application/x-ndjson")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.content_type.startswith("application/x-ndjson"), r.content_type)
        self.assertTrue(r.body.endswith(b"\n"), r.body[-50:])
        vs = r.ndjson()
        self.assertEqual([v["activity"] for v in vs], TRACE[:4])
        seqs = [v["seq"] for v in vs]
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] + 4)))
        self.assertFalse(any(v["deviation"] for v in vs), vs)
        self.assertIs(vs[0].get("new_case"), True)

    def test_empty_array(self):
        before = self.last_seq()
        r = self.srv.event([])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), [])
        self.assertEqual(self.last_seq(), before)

    def test_key_aliases(self):
        c1, c2 = uid(), uid()
        vs = [self.post_ok({"case_id": c1, "concept:name": "create order"}),
              self.post_ok({"case:concept:name": c1, "concept:name": "approve order",
                            "time:timestamp": "2026-03-02T09:00:00Z"}),
              self.post_ok({"case_id": c2, "activity": "create order", "time:timestamp": 1772438400000})]
        self.assertEqual([(v["case"], v["activity"]) for v in vs],
                         [(c1, "create order"), (c1, "approve order"), (c2, "create order")])
        self.assertNotIn("new_case", vs[1])
        self.assertEqual(vs[1]["checks"][0]["state"], ["create order"])
        recs = {r["seq"]: r for r in H.log_dump(self.srv.data_dir)}
        self.assertEqual(recs[vs[1]["seq"]]["time"], "2026-03-02T09:00:00.000Z")
        self.assertEqual(recs[vs[2]["seq"]]["time"], "2026-03-02T08:00:00.000Z")

    def test_alias_precedence(self):
        """case over case_id over case:concept:name; the loser is kept as an attribute."""
        a, b = uid(), uid()
        v = self.post_ok({"case": a, "case_id": b, "activity": "create order",
                          "concept:name": "ship goods"})
        self.assertEqual((v["case"], v["activity"]), (a, "create order"))
        rec = [r for r in H.log_dump(self.srv.data_dir) if r["seq"] == v["seq"]][0]
        self.assertEqual(rec["attrs"], {"case_id": b, "concept:name": "ship goods"})

    def test_number_case_id(self):
        n = random.randrange(10 ** 12, 10 ** 13)
        v1 = self.post_ok({"case": n, "activity": "create order"})
        v2 = self.post_ok({"case": str(n), "activity": "approve order"})
        self.assertIs(v1.get("new_case"), True)
        self.assertNotIn("new_case", v2, "42 and \"42\" must be one case")
        self.assertEqual(v2["checks"][0]["state"], ["create order"])
        r = self.srv.get("/v1/cases/%d" % n)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["events"], 2)

    def test_times(self):
        c = uid()
        cases = [("2026-03-02T08:00:00Z", "2026-03-02T08:00:00.000Z"),
                 ("2026-03-02T10:00:00+02:00", "2026-03-02T08:00:00.000Z"),
                 ("2026-03-02T08:00:00.250Z", "2026-03-02T08:00:00.250Z"),
                 ("2026-03-02T08:00:00", "2026-03-02T08:00:00.000Z"),  # no offset: UTC
                 (1772438400000, "2026-03-02T08:00:00.000Z"),
                 (None, None)]
        seqs = []
        for i, (t, _) in enumerate(cases):
            ev = {"case": c, "activity": "create order" if i == 0 else "approve order"}
            if t is not None or i % 2:
                ev["time"] = t
            seqs.append(self.post_ok(ev)["seq"])
        recs = {r["seq"]: r for r in H.log_dump(self.srv.data_dir)}
        for seq, (t, want) in zip(seqs, cases):
            with self.subTest(time=t):
                self.assertEqual(recs[seq]["time"], want)

    def test_bad_time(self):
        before = self.last_seq()
        for t in ("soon", "", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-03-02T25:00:00Z",
                  "2026-03-02T08:00:00+25:00", "1772438400000", 1.5, 1e300, True, [], {}):
            with self.subTest(time=t):
                r = self.srv.event({"case": uid(), "activity": "create order", "time": t})
                code = "bad_time" if not isinstance(t, (bool, list, dict)) else None
                self.assertEqual(r.status, 400, r)
                err = r.json()["error"]
                if code:
                    self.assertEqual(err["code"], code, err)
                else:
                    self.assertIn(err["code"], ("bad_time", "bad_type"), err)
        self.assertEqual(self.last_seq(), before)

    def test_attributes_are_logged_as_written(self):
        c = uid()
        attrs = {"amount": 120.5, "resource": "dita", "tags": ["a", "b"], "nested": {"x": [1, {"y": None}]},
                 "flag": True, "unicode": "Zürich ✓"}
        ev = dict({"case": c, "activity": "create order", "process": "orders"}, **attrs)
        v = self.post_ok(ev)
        rec = [r for r in H.log_dump(self.srv.data_dir) if r["seq"] == v["seq"]][0]
        self.assertEqual(rec["attrs"], attrs)
        self.assertEqual(rec["process"], "orders")
        self.assertEqual(rec["case"], c)

    def test_content_types_accepted(self):
        for ct in ("application/json", "application/json; charset=utf-8",
                   "application/json;charset=UTF-8", None):
            with self.subTest(content_type=ct):
                body = json.dumps({"case": uid(), "activity": "create order"}).encode()
                hdrs = {"Content-Type": ct} if ct else {}
                r = self.srv.post("/v1/events", body=body, headers=hdrs)
                self.assertEqual(r.status, 200, r)
                self.assertVerdict(r.json())

    def test_unicode_case_and_activity(self):
        c = uid("Zürich-日本")
        v = self.post_ok({"case": c, "activity": "create order"})
        self.assertEqual(v["case"], c)
        v = self.post_ok({"case": c, "activity": "prüfen ✓"})
        self.assertEqual(v["activity"], "prüfen ✓")
        self.assertIs(v["deviation"], True)


# ---------------------------------------------------------------------------------------
class Cases(ServiceTest):
    """GET /v1/cases/{case}, POST /v1/cases/{case}/end."""

    def test_history_and_count(self):
        c = uid()
        for a in TRACE[:4]:
            self.post_ok({"case": c, "activity": a})
        r = self.srv.get("/v1/cases/" + q(c))
        self.assertEqual(r.status, 200, r)
        h = r.json()
        self.assertEqual(h["case"], c)
        self.assertEqual(h["events"], 4)
        self.assertEqual(h["history"], TRACE[2:4])  # the last max(k) = 2 activities
        self.assertIsInstance(h["last_seen"], int)
        self.assertLess(abs(h["last_seen"] / 1000 - time.time()), 600)

    @server_bug(*H.BUG_END_FLAG)
    def test_end_then_404(self):
        c = uid()
        for a in TRACE:
            self.post_ok({"case": c, "activity": a})
        before = self.last_seq()
        r = self.srv.post("/v1/cases/%s/end" % q(c))
        self.assertEqual(r.status, 200, r)
        v = self.assertVerdict(r.json(), c)
        self.assertIsNone(v["activity"])
        self.assertIs(v.get("end"), True)
        self.assertNotIn("new_case", v)
        self.assertNotIn("evicted_before", v, "the case was never evicted")
        self.assertEqual(v["seq"], before + 1)
        self.assertIs(v["deviation"], False, "a complete trace ends normally")
        self.assertEqual([x["state"] for x in v["checks"]], [[TRACE[-1]], TRACE[-2:]])
        self.assertError(self.srv.get("/v1/cases/" + q(c)), 404, "not_found")
        self.assertError(self.srv.post("/v1/cases/%s/end" % q(c)), 404, "not_found")
        self.assertEqual(self.last_seq(), before + 1, "a refused end must not be logged")
        # the case can start again, as a new case
        v = self.post_ok({"case": c, "activity": "create order"})
        self.assertIs(v.get("new_case"), True)

    @server_bug(*H.BUG_END_FLAG)
    def test_end_verdicts_have_no_stray_flags(self):
        """An END verdict says evicted_before only when the case was evicted
        (never, here: no max_cases pressure). On a fresh server, over one
        keep-alive connection and over a new connection per request, since
        what a wrong server prints depends on what its stack held before."""
        srv = H.new_server(name="endflags", model=H.model("orders"))
        self.addCleanup(srv.kill)
        srv.start()
        patterns = [TRACE[:2], TRACE[:1], TRACE, ["create order", "ship goods"], ["x"] * 3]
        got = []
        for mode in ("keep-alive", "new connections", "batches"):
            for p in patterns:
                for i in range(3):
                    c = uid("endflag")
                    cli = srv.client() if mode != "new connections" else None
                    if mode == "batches":
                        self.assertEqual(cli.event([{"case": c, "activity": a} for a in p]).status, 200)
                    for a in (p if mode != "batches" else []):
                        self.assertEqual((cli or srv.client()).event({"case": c, "activity": a}).status, 200)
                    v = (cli or srv.client()).post("/v1/cases/%s/end" % q(c)).json()
                    flags = sorted(k for k in ("new_case", "evicted_before") if k in v)
                    if flags:
                        got.append((mode, len(p), flags))
        self.assertFalse(got, "END verdicts with flags (connection, events, flags): %r" % got)
        self.assertEqual(srv.stop(), 0)

    def test_end_of_an_early_case_is_a_deviation(self):
        c = uid()
        self.post_ok({"case": c, "activity": "create order"})
        v = self.srv.post("/v1/cases/%s/end" % q(c)).json()
        self.assertIs(v["deviation"], True)
        self.assertEqual([x["result"] for x in v["checks"]], ["missing", "missing"])

    def test_unknown_case(self):
        before = self.last_seq()
        self.assertError(self.srv.get("/v1/cases/" + uid("never")), 404, "not_found")
        self.assertError(self.srv.post("/v1/cases/%s/end" % uid("never")), 404, "not_found")
        self.assertEqual(self.last_seq(), before)

    def test_percent_encoded_ids(self):
        for raw in ["order 17", "order/17", "a/b/../c", "Zürich ü", "日本語", "100%", "a+b",
                    "q?x=1&y", "hash#tag", "tab\there", "end", "quote\"s"]:
            c = uid(raw)
            with self.subTest(case=c):
                v = self.post_ok({"case": c, "activity": "create order"})
                self.assertEqual(v["case"], c)
                r = self.srv.get("/v1/cases/" + q(c))
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.json()["case"], c)
                self.assertEqual(r.json()["events"], 1)
                r = self.srv.post("/v1/cases/%s/end" % q(c))
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.json()["case"], c)
                self.assertError(self.srv.get("/v1/cases/" + q(c)), 404, "not_found")

    def test_lowercase_and_mixed_percent_hex(self):
        c = uid("a/b")
        self.post_ok({"case": c, "activity": "create order"})
        path = "/v1/cases/" + q(c).replace("%2F", "%2f")
        r = self.srv.get(path)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["case"], c)

    def test_bad_percent_encoding(self):
        for path in ("/v1/cases/%zz", "/v1/cases/abc%", "/v1/cases/abc%4", "/v1/cases/%zz/end"):
            with self.subTest(path=path):
                method = "POST" if path.endswith("/end") else "GET"
                self.assertError(self.srv.request(method, path), 400, "bad_request")

    def test_empty_case_segment(self):
        r = self.srv.get("/v1/cases/")
        self.assertIn(r.status, (400, 404), r)
        self.assertIn(r.json()["error"]["code"], ("bad_request", "not_found"))


# ---------------------------------------------------------------------------------------
class Automata(ServiceTest):
    """GET /v1/automata/{k}[.json|.png|.svg|.dot][?top=N] with live counts."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        c = uid()
        for a in TRACE:
            cls.srv.event({"case": c, "activity": a})

    def test_json(self):
        for k in (1, 2):
            with self.subTest(k=k):
                r = self.srv.get("/v1/automata/%d" % k)
                self.assertEqual(r.status, 200, r)
                self.assertTrue(r.content_type.startswith("application/json"), r.content_type)
                a = r.json()
                self.assertEqual(a["prefix"], k)
                self.assertGreater(len(a["states"]), 1)
                self.assertEqual(a["total_states"], len(a["states"]))
                self.assertEqual(a["total_transitions"], len(a["transitions"]))
                ids = {s["id"] for s in a["states"]}
                for s in a["states"]:
                    self.assertEqual(len(s["state"]), k)
                for t in a["transitions"]:
                    self.assertIn(t["from"], ids)
                    self.assertTrue(t["end"] or t["to"] in ids, t)
                r2 = self.srv.get("/v1/automata/%d.json" % k)
                self.assertEqual(r2.status, 200, r2)
                self.assertEqual(r2.json(), a)

    def test_live_counts(self):
        before = {k: self.srv.get("/v1/automata/%d" % k).json() for k in (1, 2)}
        c = uid()
        self.post_ok({"case": c, "activity": "create order"})
        v = self.post_ok({"case": c, "activity": "ship goods"})
        self.assertIs(v["deviation"], True)
        for k, state in ((1, ["create order"]), (2, [None, "create order"])):
            with self.subTest(k=k):
                after = self.srv.get("/v1/automata/%d" % k).json()
                sb = {json.dumps(s["state"]): s["deviations"] for s in before[k]["states"]}
                sa = {json.dumps(s["state"]): s["deviations"] for s in after["states"]}
                self.assertEqual(sa[json.dumps(state)], sb.get(json.dumps(state), 0) + 1)
                self.assertEqual(sum(sa.values()), sum(sb.values()) + 1)
                names = {s["id"]: json.dumps(s["state"]) for s in after["states"]}
                ship = [t for t in after["transitions"]
                        if names.get(t["from"]) == json.dumps(state) and t["activity"] == "ship goods"]
                self.assertEqual(len(ship), 1, after["transitions"])
                self.assertGreaterEqual(ship[0]["deviations"], 1)

    def test_png_is_a_real_png(self):
        for path in ("/v1/automata/1.png", "/v1/automata/2.png", "/v1/automata/2.png?top=3"):
            with self.subTest(path=path):
                r = self.srv.get(path)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.content_type, "image/png")
                w, h = H.decode_png(r.body)
                self.assertGreater(w, 10)
                self.assertGreater(h, 10)

    def test_svg(self):
        r = self.srv.get("/v1/automata/2.svg?top=4")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.content_type.startswith("image/svg+xml"), r.content_type)
        root = ET.fromstring(r.body)
        self.assertEqual(root.tag.rsplit("}", 1)[-1], "svg")
        self.assertIn("create order", r.text)

    def test_dot_and_top(self):
        full = self.srv.get("/v1/automata/2.dot")
        self.assertEqual(full.status, 200, full)
        self.assertTrue(full.content_type.startswith("text/vnd.graphviz"), full.content_type)
        self.assertRegex(full.text, r"^\s*(strict\s+)?digraph\b")
        self.assertTrue(full.text.rstrip().endswith("}"))
        top = self.srv.get("/v1/automata/2.dot?top=2")
        self.assertEqual(top.status, 200, top)
        self.assertLess(len(top.body), len(full.body))
        j = self.srv.get("/v1/automata/2?top=2").json()
        self.assertEqual(j["top"], 2)
        self.assertLessEqual(len(j["states"]), 2)
        self.assertGreater(j["total_states"], 2)
        j0 = self.srv.get("/v1/automata/2?top=0").json()
        self.assertEqual(len(j0["states"]), j0["total_states"])

    def test_unknown_automaton(self):
        for path in ("/v1/automata/3", "/v1/automata/0", "/v1/automata/17.png",
                     "/v1/automata/x", "/v1/automata/1.gif", "/v1/automata/"):
            with self.subTest(path=path):
                r = self.srv.get(path)
                self.assertIn(r.status, (404, 400), r)
                self.assertIn(r.json()["error"]["code"], ("not_found", "bad_request"))
        self.assertError(self.srv.get("/v1/automata/3"), 404, "not_found")

    def test_bad_top(self):
        for query in ("top=-1", "top=x", "top=", "top=1e3", "top=99999999999999999999999"):
            with self.subTest(query=query):
                self.assertError(self.srv.get("/v1/automata/1?" + query), 400, "bad_request")

    def test_head(self):
        r = self.srv.request("HEAD", "/v1/automata/1.png")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, b"")
        self.assertEqual(r.content_type, "image/png")


# ---------------------------------------------------------------------------------------
class Equivalence(ServiceTest):
    """The service judges and draws exactly as the CLI does: the verdicts of
    examples/orders-new.csv sent over HTTP equal `vigil check`'s, and the live
    automata equal `vigil render` of the model `vigil check -o` saves."""

    def test_verdicts_and_drawings_equal_the_cli(self):
        log = os.path.join(H.SOURCE_DIR, "examples", "orders-new.csv")
        want = [json.loads(l) for l in H.vigil("check", "--model", H.model("orders"), log,
                                                "-o", os.path.join(H.scratch(), "checked.vgm")
                                                ).stdout.decode().splitlines()]
        # the events in the order vigil check judged them (time order)
        evs = [{"case": w["case"], "activity": w["activity"]} for w in want]
        r = self.srv.post("/v1/events", ndjson=evs)
        self.assertEqual(r.status, 200, r)
        got = r.ndjson()
        self.assertEqual(len(got), len(want))
        for i, (g, w) in enumerate(zip(got, want)):
            g = {k: v for k, v in g.items() if k not in ("seq", "new_case")}
            if g != w:
                self.fail("verdict %d differs from vigil check:\n got  %s\n want %s" % (i, g, w))
        checked = os.path.join(H.scratch(), "checked.vgm")
        for k in (1, 2):
            for fmt in ("json", "dot"):
                with self.subTest(k=k, format=fmt):
                    out = os.path.join(H.scratch(), "render-%d.%s" % (k, fmt))
                    H.vigil("render", "--model", checked, "--prefix", k, "-o", out)
                    with open(out, "rb") as f:
                        cli = f.read()
                    r = self.srv.get("/v1/automata/%d.%s" % (k, fmt))
                    self.assertEqual(r.status, 200, r)
                    if fmt == "json":
                        self.assertEqual(r.json(), json.loads(cli))
                    else:
                        self.assertEqual(r.text, cli.decode())


# ---------------------------------------------------------------------------------------
class StatsAndHealth(ServiceTest):
    """GET /v1/stats, /healthz, /readyz."""

    def test_stats_counts(self):
        s0 = self.srv.stats()
        c = uid()
        vs = [self.post_ok({"case": c, "activity": "create order"}),
              self.post_ok({"case": c, "activity": "ship goods"})]
        vs += self.post_ok([{"case": uid(), "activity": "create order"},
                            {"case": uid(), "activity": "nonsense"}])
        vs.append(self.srv.post("/v1/cases/%s/end" % q(c)).json())
        self.assertError(self.srv.event({"case": c}), 400, "missing_field")
        s1 = self.srv.stats()
        self.assertEqual(s1["events"] - s0["events"], 4)
        self.assertEqual(s1["ends"] - s0["ends"], 1)
        self.assertEqual(s1["deviations"] - s0["deviations"], sum(v["deviation"] for v in vs))
        self.assertEqual(s1["open_cases"] - s0["open_cases"], 2)
        self.assertEqual(s1["log"]["last_seq"], max(v["seq"] for v in vs))
        self.assertEqual(s1["http"]["events_accepted"] - s0["http"]["events_accepted"], 4)
        self.assertEqual(s1["http"]["batches_rejected"] - s0["http"]["batches_rejected"], 1)
        self.assertIs(s1["ready"], True)
        self.assertGreater(s1["uptime_seconds"], 0)
        for k in ("1", "2"):
            res = s1["results"][k]
            self.assertEqual(set(res), set(RESULTS))
            self.assertEqual(sum(res.values()), s1["events"] + s1["ends"], res)
            for r in RESULTS:
                want = sum(1 for v in vs for chk in v["checks"]
                           if chk["prefix"] == int(k) and chk["result"] == r)
                self.assertEqual(res[r] - s0["results"][k][r], want, (k, r))

    def test_healthz_readyz(self):
        r = self.srv.get("/healthz")
        self.assertEqual((r.status, r.json()), (200, {"status": "ok"}))
        r = self.srv.get("/readyz")
        self.assertEqual((r.status, r.json()), (200, {"status": "ready"}))
        for path in ("/healthz", "/readyz", "/v1/stats", "/metrics"):
            with self.subTest(head=path):
                r = self.srv.request("HEAD", path)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.body, b"")

    def test_request_id_header_on_every_answer(self):
        ids = set()
        for method, path in (("GET", "/healthz"), ("GET", "/nowhere"), ("GET", "/v1/events"),
                             ("POST", "/v1/events")):
            r = self.srv.request(method, path)
            self.assertRegex(r.headers.get("x-request-id", ""), r"^[!-~]{1,64}$", (method, path))
            ids.add(r.headers["x-request-id"])
        self.assertEqual(len(ids), 4, "request ids must differ")


class Metrics(ServiceTest):
    """GET /metrics: strict Prometheus text format, values that match what was sent."""

    def test_prometheus_format_and_values(self):
        n_events = 0
        c = uid()
        for a in TRACE[:3]:
            self.post_ok({"case": c, "activity": a})
            n_events += 1
        self.post_ok([{"case": uid(), "activity": "create order"} for _ in range(5)])
        n_events += 5
        self.assertEqual(self.srv.post("/v1/events", ndjson=[
            {"case": uid(), "activity": "create order"}] * 4).status, 200)
        n_events += 4
        self.assertEqual(self.srv.event([{"case": uid(), "activity": "x"}, {"case": 1}]).status, 400)
        self.assertEqual(self.srv.post("/v1/cases/%s/end" % q(c)).status, 200)
        self.assertEqual(self.srv.get("/nowhere").status, 404)
        r = self.srv.get("/metrics")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.content_type.startswith("text/plain"), r.content_type)
        self.assertIn("version=0.0.4", r.content_type)
        m = H.parse_prometheus(r.text)
        fams = {H.family_of(n, m["types"]) for n, _, _ in m["samples"]}
        for fam in fams:
            with self.subTest(family=fam):
                self.assertIn(fam, m["types"], "no # TYPE line")
                self.assertIn(fam, m["help"], "no # HELP line")
                if m["types"][fam] == "counter":
                    self.assertTrue(fam.endswith("_total"), "a counter must end in _total")
                else:
                    self.assertFalse(fam.endswith("_total"), "only counters end in _total")
        for n, labels, v in m["samples"]:
            if m["types"].get(H.family_of(n, m["types"])) in ("counter", "histogram"):
                self.assertGreaterEqual(v, 0, n)
        self.assertEqual(H.sample(m, "vigil_events_total"), n_events)
        self.assertEqual(H.sample(m, "vigil_http_events_accepted_total"), n_events)
        self.assertEqual(H.sample(m, "vigil_case_ends_total"), 1)
        self.assertEqual(H.sample(m, "vigil_http_batches_rejected_total"), 1)
        self.assertEqual(H.sample(m, "vigil_ready"), 1)
        self.assertEqual(H.sample(m, "vigil_log_last_seq"), n_events + 1)
        for k in ("1", "2"):
            self.assertEqual(sum(H.sample(m, "vigil_checks_total", k=k, result=res) for res in RESULTS),
                             n_events + 1)
        self.assertEqual(H.sample(m, "vigil_http_requests_total", route="/v1/events", status="200"), 3 + 1 + 1)
        self.assertEqual(H.sample(m, "vigil_http_requests_total", route="/v1/events", status="400"), 1)
        # histograms: cumulative buckets ending in +Inf = _count
        for fam, typ in m["types"].items():
            if typ != "histogram":
                continue
            series = {}
            for n, labels, v in m["samples"]:
                if n == fam + "_bucket":
                    key = tuple(sorted((k, x) for k, x in labels.items() if k != "le"))
                    series.setdefault(key, []).append((labels["le"], v))
            self.assertTrue(series, fam)
            for key, buckets in series.items():
                with self.subTest(histogram=fam, labels=key):
                    les = [float(le) for le, _ in buckets]
                    self.assertEqual(les, sorted(les))
                    self.assertEqual(buckets[-1][0], "+Inf")
                    vals = [v for _, v in buckets]
                    self.assertEqual(vals, sorted(vals), "buckets must be cumulative")
                    self.assertEqual(vals[-1], H.sample(m, fam + "_count", **dict(key)))
                    H.sample(m, fam + "_sum", **dict(key))
        events_hist = [v for n, l, v in m["samples"]
                       if n == "vigil_http_request_duration_seconds_count" and l.get("route") == "/v1/events"]
        self.assertEqual(events_hist, [6])  # 5 accepted + 1 refused


# ---------------------------------------------------------------------------------------
class Errors(ServiceTest):
    """Every error status with its JSON body; nothing of a refused request is applied."""

    def setUp(self):
        self.seq0 = self.last_seq()

    def tearDown(self):
        # every request of these tests was refused: nothing may have been logged
        self.assertEqual(self.last_seq(), self.seq0, "a refused request changed the log")

    def post_raw(self, body, ct="application/json"):
        return self.srv.post("/v1/events", body=body, content_type=ct)

    def test_invalid_json_with_offset(self):
        cases = [
            (b'{"case":"PO-4","activity":"create order",}', 41),
            (b'{"case":"a","activity":"b"', 26),
            (b'{"case":"a" "activity":"b"}', 12),
            (b'xyz', 0),
            (b'{"case":"a","activity":"b"} trailing', 28),
            (b'[{"case":"a","activity":"b"},]', 29),
            (b'{"case":"a\xff","activity":"b"}', 10),
        ]
        for body, off in cases:
            with self.subTest(body=body):
                err = self.assertError(self.post_raw(body), 400, "invalid_json")
                self.assertEqual(err.get("offset"), off, err)
                self.assertIn(str(off), err["message"])

    def test_empty_body(self):
        self.assertError(self.post_raw(b""), 400, "invalid_json")

    def test_duplicate_member(self):
        self.assertError(self.post_raw(b'{"case":"a","case":"b","activity":"x"}'), 400, "invalid_json")

    def test_missing_field(self):
        for ev in ({"case": "a"}, {"activity": "a"}, {}, {"case_id": "a", "activity_name": "b"},
                   {"Case": "a", "activity": "b"}):
            with self.subTest(event=ev):
                err = self.assertError(self.srv.event(ev), 400, "missing_field")
                self.assertEqual(err.get("index", 0), 0)

    def test_bad_type(self):
        for body in ({"case": "a", "activity": 7}, {"case": True, "activity": "a"},
                     {"case": None, "activity": "a"}, {"case": [], "activity": "a"},
                     {"case": 1.5, "activity": "a"}, {"case": "a", "activity": "b", "process": 3},
                     "just a string", 42, None, [1, 2], [[{"case": "a", "activity": "b"}]]):
            with self.subTest(body=body):
                self.assertError(self.post_raw(json.dumps(body).encode()), 400, "bad_type")

    def test_bad_request_fields(self):
        for ev in ({"case": "", "activity": "a"}, {"case": "a", "activity": ""},
                   {"case": "a", "activity": "x" * 4097}, {"case": "c" * 4097, "activity": "a"}):
            with self.subTest(event=str(ev)[:60]):
                self.assertError(self.srv.event(ev), 400, "bad_request")

    def test_longest_fields_accepted(self):
        c = "c" * 4096
        r = self.srv.event({"case": c, "activity": "x" * 4096})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["case"], c)
        self.seq0 += 1

    def test_not_found(self):
        for method, path in (("GET", "/nowhere"), ("GET", "/"), ("GET", "/v1"), ("GET", "/v2/events"),
                             ("POST", "/v1/event"), ("GET", "/v1/stats/x"), ("GET", "/metrics/"),
                             ("GET", "/v1/cases/a/b"), ("POST", "/v1/cases/a/finish")):
            with self.subTest(path=path):
                self.assertError(self.srv.request(method, path), 404, "not_found")

    def test_method_not_allowed(self):
        for method, path, allow in (("GET", "/v1/events", {"POST"}),
                                    ("PUT", "/v1/events", {"POST"}),
                                    ("DELETE", "/v1/stats", {"GET", "HEAD"}),
                                    ("POST", "/healthz", {"GET", "HEAD"}),
                                    ("POST", "/metrics", {"GET", "HEAD"}),
                                    ("GET", "/v1/cases/x/end", {"POST"}),
                                    ("DELETE", "/v1/cases/x", {"GET", "HEAD"}),
                                    ("POST", "/v1/automata/1.png", {"GET", "HEAD"})):
            with self.subTest(method=method, path=path):
                r = self.srv.request(method, path)
                self.assertError(r, 405, "method_not_allowed")
                got = {m.strip() for m in r.headers.get("allow", "").split(",") if m.strip()}
                self.assertEqual(got, allow, r.headers)

    def test_length_required_411(self):
        """POST without Content-Length and not chunked: raw bytes over a socket."""
        data = (b"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nConnection: close\r\n\r\n")
        resp = H.parse_raw_response(self.srv.raw(data))
        self.assertIsNotNone(resp, "no complete answer")
        status, hdrs, body = resp
        self.assertEqual(status, 411, body)
        self.assertEqual(json.loads(body)["error"]["code"], "length_required")

    def test_chunked_body_accepted(self):
        body = json.dumps({"case": uid(), "activity": "create order"}).encode()
        parts = [body[:10], body[10:]]
        data = (b"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                + b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n")
        resp = H.parse_raw_response(self.srv.raw(data))
        self.assertIsNotNone(resp)
        self.assertEqual(resp[0], 200, resp)
        self.assertEqual(json.loads(resp[2])["seq"], self.seq0 + 1)
        self.seq0 += 1

    def test_too_large_10MB_with_content_length(self):
        big = b" " * (10 << 20)
        data = (b"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n" % len(big))
        t0 = time.monotonic()
        out = self.srv.raw(data, send_chunks=[big[i:i + 65536] for i in range(0, len(big), 65536)])
        resp = H.parse_raw_response(out)
        self.assertIsNotNone(resp, "no answer: %r" % out[:200])
        self.assertEqual(resp[0], 413, resp)
        self.assertEqual(json.loads(resp[2])["error"]["code"], "too_large")
        self.assertLess(time.monotonic() - t0, 10 * H.SCALE)
        self.assertEqual(self.srv.get("/healthz").status, 200, "the server must keep serving")

    def test_too_large_10MB_chunked(self):
        piece = b"%x\r\n%s\r\n" % (65536, b" " * 65536)
        data = (b"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n")
        out = self.srv.raw(data, send_chunks=[piece] * 160 + [b"0\r\n\r\n"])
        resp = H.parse_raw_response(out)
        self.assertIsNotNone(resp, "no answer: %r" % out[:200])
        self.assertEqual(resp[0], 413, resp)
        self.assertEqual(json.loads(resp[2])["error"]["code"], "too_large")
        self.assertEqual(self.srv.get("/healthz").status, 200, "the server must keep serving")

    def test_batch_over_max_batch(self):
        """The default max_batch is 100,000 events: one more is refused whole."""
        ev = b'{"case":"b","activity":"a"}'
        for ct, body in (("application/json", b"[" + b",".join([ev] * 100001) + b"]"),
                         ("application/x-ndjson", b"\n".join([ev] * 100001))):
            with self.subTest(content_type=ct):
                self.assertLess(len(body), 4 << 20)
                self.assertError(self.post_raw(body, ct), 413, "too_large")
        self.assertError(self.srv.get("/v1/cases/b"), 404, "not_found")

    @server_bug(*H.BUG_UWSGI_CLOSE)
    def test_keep_alive_or_connection_close(self):
        """An HTTP/1.1 answer without 'Connection: close' promises that the
        connection stays open: a second request on it must be answered."""
        s = socket.create_connection((H.HOST, self.srv.port), timeout=5 * H.SCALE)
        try:
            for i in range(3):
                try:
                    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                    out = b""
                    while H.parse_raw_response(out) is None:
                        d = s.recv(4096)
                        if not d:
                            break
                        out += d
                except ConnectionResetError:
                    out = b""
                resp = H.parse_raw_response(out)
                self.assertIsNotNone(resp, "request %d on the connection got no answer, though the "
                                     "answer before did not say Connection: close" % (i + 1))
                self.assertEqual(resp[0], 200)
                if resp[1].get("connection", "").lower() == "close":
                    break
        finally:
            s.close()

    @server_bug(*H.BUG_UWSGI_CLOSE)
    def test_pipelined_requests(self):
        """Three requests in one write on one connection: three answers, in
        order (or, after an answer that says Connection: close, nothing more,
        and nothing of the unanswered requests applied)."""
        c = uid()
        req = lambda b: (b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"  # noqa: E731
                         b"Content-Length: %d\r\n\r\n%s" % (len(b), b))
        data = (req(json.dumps({"case": c, "activity": "create order"}).encode())
                + req(json.dumps({"case": c, "activity": "approve order"}).encode())
                + b"GET /v1/cases/%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % q(c).encode())
        out = self.srv.raw(data)
        answers = []
        while out:
            resp = H.parse_raw_response(out)
            self.assertIsNotNone(resp, out[:300])
            answers.append(resp)
            head_len = out.index(b"\r\n\r\n") + 4
            out = out[head_len + len(resp[2]):]
        if answers and answers[-1][1].get("connection", "").lower() == "close" and len(answers) < 3:
            self.assertEqual(self.last_seq(), self.seq0 + len(answers),
                             "a request that got no answer was applied")
            self.seq0 += len(answers)
            return
        self.assertEqual([a[0] for a in answers], [200, 200, 200])
        v1, v2, h = (json.loads(a[2]) for a in answers)
        self.assertEqual(v2["seq"], v1["seq"] + 1)
        self.assertEqual(h["history"], ["create order", "approve order"])
        self.seq0 += 2

    def test_expect_100_continue(self):
        body = json.dumps({"case": uid(), "activity": "create order"}).encode()
        s = socket.create_connection((H.HOST, self.srv.port), timeout=5 * H.SCALE)
        try:
            s.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body))
            # like curl: wait a second for "100 Continue", then send anyway
            s.settimeout(1)
            try:
                first = s.recv(4096)
            except socket.timeout:
                first = b""
            s.settimeout(5 * H.SCALE)
            if H.TARGET == "standalone":
                self.assertTrue(first.startswith(b"HTTP/1.1 100"), first[:100])
            s.sendall(body)
            out = first.split(b"\r\n\r\n", 1)[1] if first.startswith(b"HTTP/1.1 100") else first
            while H.parse_raw_response(out) is None:
                d = s.recv(65536)
                self.assertTrue(d)
                out += d
            self.assertEqual(H.parse_raw_response(out)[0], 200)
        finally:
            s.close()
        self.seq0 += 1
        # a body refused by its Content-Length is refused before it is sent
        out = self.srv.raw(b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           b"Expect: 100-continue\r\nContent-Length: 99999999\r\n\r\n", read_timeout=3)
        self.assertTrue(out.startswith(b"HTTP/1.1 413"), out[:100])

    def test_oversized_request_line_and_headers(self):
        """Not our JSON errors (libmicrohttpd answers these itself) but the
        right status, and the server goes on."""
        # (uWSGI closes such a connection without an answer)
        ok = b"|^$" if H.TARGET == "uwsgi" else b""
        out = self.srv.raw(b"GET /v1/cases/" + b"a" * 100000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertRegex(out[:12], rb"^HTTP/1\.1 (414|431|400)" + ok)
        out = self.srv.raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                           + b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 100) for i in range(2000)) + b"\r\n")
        self.assertRegex(out[:12], rb"^HTTP/1\.1 (431|413|400)" + ok)
        self.assertEqual(self.srv.get("/healthz").status, 200)

    def test_unsupported_media_type(self):
        body = json.dumps({"case": "a", "activity": "b"}).encode()
        for ct in ("text/plain", "application/x-www-form-urlencoded", "application/xml",
                   "application/json; charset=latin-1", "application/jsonx", "multipart/form-data"):
            with self.subTest(content_type=ct):
                self.assertError(self.post_raw(body, ct), 415, "unsupported_media_type")


# ---------------------------------------------------------------------------------------
class JsonParsing(ServiceTest):
    """The service's own JSON parser against the grammar of RFC 8259: valid
    values as attributes are accepted and logged as they mean; invalid ones
    are refused with invalid_json; escapes in ids decode to the same id."""

    VALID = [b'0', b'-0', b'1.5e10', b'1E-2', b'-1.0e+2', b'123456789012345678901234567890',
             b'1e400', b'0.000001', b'"\\u00e9"', b'"\\ud83d\\ude00"', b'"\\"\\\\\\/\\b\\f\\n\\r\\t"',
             '"日本 ✓ 😀"'.encode(), b'"\\u0000"', b'""', b'[]', b'{}', b'[[[]]]',
             b'{"a":[1,{"b":null}],"c":true,"d":false}', b' \t\r\n [ 1 , 2 ] \n', b'"\x7f"']
    INVALID = [b'01', b'-', b'1.', b'.5', b'1e', b'1e+', b'+1', b'0x10', b'NaN', b'Infinity',
               b'-Infinity', b'tru', b'truex', b'nul', b"'x'", b'{a:1}', b'[1,]', b'{"a":1,}',
               b'[1 2]', b'{"a" 1}', b'{"a":}', b'"\x01"', b'"a\nb"', b'"\\x"', b'"\\u12"',
               b'"\\uZZZZ"', b'"\xff"', b'"\xc0\xaf"', b'"\xed\xa0\x80"', b'"\xe6\x97"',
               b'"\xf4\x90\x80\x80"', b'/* c */ 1', b'[1]]', b'{"a":1}}', b'"abc', b'[', b'{"a"',
               b'\x00']

    def test_valid_values_accepted_and_logged(self):
        import json as _json
        seqs = []
        for raw in self.VALID:
            with self.subTest(value=raw):
                body = b'{"case":"' + uid().encode() + b'","activity":"create order","v":' + raw + b"}"
                r = self.srv.post("/v1/events", body=body, content_type="application/json")
                self.assertEqual(r.status, 200, r)
                seqs.append((r.json()["seq"], raw))
        recs = {r["seq"]: r for r in H.log_dump(self.srv.data_dir)}
        for seq, raw in seqs:
            with self.subTest(logged=raw):
                want = _json.loads(raw.decode("utf-8"))
                rec = recs[seq]
                # vigil log dump shows attributes it cannot represent as attrs_raw
                got = rec["attrs"] if rec["attrs"] is not None else _json.loads(rec["attrs_raw"])
                self.assertEqual(got, {"v": want})

    @server_bug("B3", "vigil log export refuses a whole log (exit 2, 'record seq N: attrs are "
                "not a JSON object') when one event the service accepted has a number "
                "attribute jansson cannot hold (an integer past 64 bits, 1e400): "
                "src/cli/cmd_log.c json_loadb without JSON_DECODE_INT_AS_REAL, and reals "
                "that overflow are refused by jansson anyway")
    def test_log_export_takes_every_accepted_event(self):
        srv = H.new_server(name="export", model=H.model("orders"))
        self.addCleanup(srv.kill)
        srv.start()
        for i, raw in enumerate(self.VALID):
            body = b'{"case":"x%d","activity":"create order","v":' % i + raw + b"}"
            self.assertEqual(srv.post("/v1/events", body=body, content_type="application/json").status, 200)
        self.assertEqual(srv.stop(), 0)
        for fmt in ("jsonl", "xes"):
            with self.subTest(format=fmt):
                r = H.vigil("log", "export", srv.data_dir, "--format", fmt, check=False)
                self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
                if fmt == "jsonl":
                    self.assertEqual(len(r.stdout.splitlines()), len(self.VALID))
                else:
                    self.assertEqual(r.stdout.count(b"<event"), len(self.VALID))

    def test_invalid_values_refused(self):
        before = self.last_seq()
        for raw in self.INVALID:
            with self.subTest(value=raw):
                body = b'{"case":"' + uid().encode() + b'","activity":"create order","v":' + raw + b"}"
                r = self.srv.post("/v1/events", body=body, content_type="application/json")
                self.assertError(r, 400, "invalid_json")
                off = r.json()["error"].get("offset")
                self.assertIsInstance(off, int)
                self.assertTrue(0 <= off <= len(body), off)
        self.assertEqual(self.last_seq(), before)

    def test_escaped_ids_are_the_same_id(self):
        c = uid("é😀")
        esc = json.dumps(c, ensure_ascii=True)  # \u00e9\ud83d\ude00
        body1 = ('{"case":%s,"activity":"create order"}' % esc).encode()
        v1 = self.srv.post("/v1/events", body=body1, content_type="application/json").json()
        v2 = self.post_ok({"case": c, "activity": "approve order"})
        self.assertEqual(v1["case"], c)
        self.assertNotIn("new_case", v2)
        act = json.dumps("prüfen ✓", ensure_ascii=True)
        body3 = ('{"case":%s,"activity":%s}' % (esc, act)).encode()
        v3 = self.srv.post("/v1/events", body=body3, content_type="application/json").json()
        self.assertEqual(v3["activity"], "prüfen ✓")
        r = self.srv.get("/v1/cases/" + q(c))
        self.assertEqual(r.json()["events"], 3)


# ---------------------------------------------------------------------------------------
class Atomicity(ServiceTest):
    """A bad event in a batch rejects the whole batch with its index; nothing applied."""

    BAD = {"missing_field": {"case": "X"},
           "bad_type": {"case": "X", "activity": 7},
           "bad_time": {"case": "X", "activity": "a", "time": "yesterday"},
           "bad_request": {"case": "", "activity": "a"}}

    def check_nothing_applied(self, before, cases):
        after = self.srv.stats()
        self.assertEqual(after["log"]["last_seq"], before["log"]["last_seq"])
        self.assertEqual(after["events"], before["events"])
        self.assertEqual(after["open_cases"], before["open_cases"])
        self.assertEqual(after["results"], before["results"])
        for c in cases:
            self.assertEqual(self.srv.get("/v1/cases/" + q(c)).status, 404, c)

    def batch(self, n, bad_at, code):
        cases = [uid() for _ in range(n)]
        evs = [{"case": c, "activity": "create order"} for c in cases]
        evs[bad_at] = dict(self.BAD[code])
        return cases, evs

    def test_array(self):
        for code in self.BAD:
            for i in (0, 3, 9):
                with self.subTest(code=code, index=i):
                    before = self.srv.stats()
                    cases, evs = self.batch(10, i, code)
                    err = self.assertError(self.srv.event(evs), 400, code)
                    self.assertEqual(err.get("index"), i, err)
                    self.check_nothing_applied(before, cases)

    def test_ndjson(self):
        for code in self.BAD:
            for i in (0, 4, 9):
                with self.subTest(code=code, index=i):
                    before = self.srv.stats()
                    cases, evs = self.batch(10, i, code)
                    err = self.assertError(self.srv.post("/v1/events", ndjson=evs), 400, code)
                    self.assertEqual(err.get("index"), i, err)
                    self.check_nothing_applied(before, cases)

    def test_ndjson_index_counts_blank_lines(self):
        before = self.srv.stats()
        cases = [uid() for _ in range(3)]
        lines = [json.dumps({"case": c, "activity": "create order"}) for c in cases]
        body = "\n".join([lines[0], "", lines[1], "", "", '{"case":"x"}', lines[2]]) + "\n"
        err = self.assertError(self.srv.post("/v1/events", body=body,
                                             content_type="application/x-ndjson"), 400, "missing_field")
        self.assertEqual(err.get("index"), 5, err)
        self.check_nothing_applied(before, cases)

    def test_ndjson_invalid_json_line(self):
        before = self.srv.stats()
        cases = [uid() for _ in range(3)]
        lines = [json.dumps({"case": c, "activity": "create order"}) for c in cases]
        body = "\n".join([lines[0], lines[1], '{"case":"x",', lines[2]]) + "\n"
        err = self.assertError(self.srv.post("/v1/events", body=body,
                                             content_type="application/x-ndjson"), 400, "invalid_json")
        self.assertEqual(err.get("index"), 2, err)
        self.assertEqual(err.get("offset"), len(lines[0]) + len(lines[1]) + 2 + len('{"case":"x",'), err)
        self.check_nothing_applied(before, cases)

    def test_array_with_invalid_json_applies_nothing(self):
        before = self.srv.stats()
        cases = [uid() for _ in range(3)]
        body = "[" + ",".join(json.dumps({"case": c, "activity": "create order"}) for c in cases) + ",{]"
        self.assertError(self.srv.post("/v1/events", body=body, content_type="application/json"),
                         400, "invalid_json")
        self.check_nothing_applied(before, cases)

    def test_accepted_after_rejected_has_no_gap(self):
        before = self.last_seq()
        cases, evs = self.batch(5, 2, "missing_field")
        self.assertEqual(self.srv.event(evs).status, 400)
        evs[2] = {"case": cases[2], "activity": "create order"}
        vs = self.post_ok(evs)
        self.assertEqual([v["seq"] for v in vs], list(range(before + 1, before + 6)))


# ---------------------------------------------------------------------------------------
class Limits(ServiceTest):
    """Deep JSON, half-sent requests and the connection timeout, small limits."""
    server_opts = {"connection_timeout": "1s", "threads": 2, "max_batch": 20,
                   "max_body": "64KiB", "max_json_depth": 16}

    def test_deep_json(self):
        # A top-level array of arrays may be refused as soon as its first
        # element is seen not to be an event object (bad_type): also quick.
        for name, body, codes in (
                ("array", b"[" * 10000 + b"]" * 10000, ("invalid_json", "bad_type")),
                ("unclosed", b"[" * 10000, ("invalid_json", "bad_type")),
                ("attribute", b'{"case":"d","activity":"a","x":' + b"[" * 10000 + b"]" * 10000 + b"}",
                 ("invalid_json",)),
                ("objects", b'{"a":' * 10000 + b"1" + b"}" * 10000, ("invalid_json",)),
                ("ndjson", b'{"case":"d","activity":"a","x":' + b'{"y":' * 10000 + b"}" * 10001 + b"\n",
                 ("invalid_json",))):
            with self.subTest(body=name):
                t0 = time.monotonic()
                ct = "application/x-ndjson" if name == "ndjson" else "application/json"
                r = self.srv.post("/v1/events", body=body, content_type=ct)
                self.assertLess(time.monotonic() - t0, 2 * H.SCALE, "deep JSON must be refused quickly")
                self.assertEqual(r.status, 400, r)
                self.assertIn(r.json()["error"]["code"], codes, r)
        self.assertEqual(self.srv.get("/healthz").status, 200)

    def test_depth_limit_is_exact(self):
        def nested(d):  # the event object is level 1
            return (b'{"case":"%s","activity":"create order","x":' % uid().encode()
                    + b"[" * (d - 1) + b"]" * (d - 1) + b"}")
        r = self.srv.post("/v1/events", body=nested(16), content_type="application/json")
        self.assertEqual(r.status, 200, r)
        self.assertError(self.srv.post("/v1/events", body=nested(17), content_type="application/json"),
                         400, "invalid_json", r"16")

    def test_small_limits(self):
        ok = [{"case": uid(), "activity": "create order"} for _ in range(20)]
        self.assertEqual(self.srv.event(ok).status, 200)
        self.assertError(self.srv.event(ok + [{"case": uid(), "activity": "a"}]), 413, "too_large")
        self.assertError(self.srv.post("/v1/events", ndjson=ok + [{"case": uid(), "activity": "a"}]),
                         413, "too_large")
        pad = {"case": uid(), "activity": "create order", "pad": "x" * (64 * 1024)}
        self.assertError(self.srv.event(pad), 413, "too_large")
        pad["pad"] = "x" * (64 * 1024 - 100)
        self.assertEqual(self.srv.event(pad).status, 200)

    def test_half_sent_requests_do_not_block_others(self):
        """Several half-sent requests (headers + part of the body; a partial
        header) hang; meanwhile other clients are served at once; the server
        closes the stalled connections after connection_timeout (1 s)."""
        if H.TARGET == "uwsgi":
            # A uWSGI request thread reads its connection blocking: stalled
            # clients hold threads until socket-timeout. The deployment's
            # answer is nginx in front (docs/deploy.md, "Slow clients and keep-alive"); this
            # suite talks to http-socket directly, so the case is not run here.
            self.skipTest("uWSGI without nginx in front: see docs/deploy.md, \"Slow clients and keep-alive\"")
        stalled = []
        for i in range(6):
            s = socket.create_connection((H.HOST, self.srv.port))
            if i % 2:
                s.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          b"Content-Length: 100\r\n\r\n{\"ca")
            else:
                s.sendall(b"GET /v1/sta")
            stalled.append(s)
        try:
            t0 = time.monotonic()
            cli = self.srv.client(timeout=5)
            for i in range(30):
                r = cli.event({"case": uid(), "activity": "create order"})
                self.assertEqual(r.status, 200, r)
                self.assertLess(r.elapsed, 0.5 * H.SCALE, "a request waited behind a stalled one")
            cli.close()
            self.assertLess(time.monotonic() - t0, 5 * H.SCALE)
            # the stalled connections are closed by the server's timeout
            for s in stalled:
                s.settimeout(6 * H.SCALE)
                t1 = time.monotonic()
                try:
                    while s.recv(4096):
                        pass  # an error answer (408 …) is fine, then the close
                except ConnectionResetError:
                    pass
                except socket.timeout:
                    self.fail("a stalled connection was not closed by connection_timeout")
            self.assertLess(time.monotonic() - t0, 8 * H.SCALE)
        finally:
            for s in stalled:
                s.close()

    @server_bug(*H.BUG_UWSGI_CLOSE)
    def test_idle_keepalive_connection_closed(self):
        s = socket.create_connection((H.HOST, self.srv.port))
        try:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            s.settimeout(5 * H.SCALE)
            got = b""
            while H.parse_raw_response(got) is None:
                d = s.recv(4096)
                self.assertTrue(d, "closed before answering")
                got += d
            self.assertEqual(H.parse_raw_response(got)[0], 200)
            t0 = time.monotonic()
            try:
                self.assertEqual(s.recv(4096), b"")
            except ConnectionResetError:
                pass
            if H.parse_raw_response(got)[1].get("connection", "").lower() != "close":
                self.assertGreater(time.monotonic() - t0, 0.5, "a keep-alive connection closed at once")
        finally:
            s.close()

    def test_many_connections_at_once(self):
        clients = [self.srv.client() for _ in range(40)]
        try:
            for c in clients:
                self.assertEqual(c.get("/healthz").status, 200)
            for c in clients:
                self.assertEqual(c.get("/readyz").status, 200)
        finally:
            for c in clients:
                c.close()


# ---------------------------------------------------------------------------------------
class Lifecycle(ServiceTest):
    """The case table: max_cases = 2 evicts the least recently used case; an
    event on an evicted case starts afresh and says so; counted in stats and
    metrics."""
    server_opts = {"max_cases": 2}

    def test_lru_eviction(self):
        a, b, c = uid("a"), uid("b"), uid("c")
        s0 = self.srv.stats()
        v = [self.post_ok({"case": a, "activity": "create order"}),
             self.post_ok({"case": b, "activity": "create order"}),
             self.post_ok({"case": a, "activity": "approve order"}),   # b is now the LRU
             self.post_ok({"case": c, "activity": "create order"}),    # evicts b
             self.post_ok({"case": b, "activity": "approve order"})]   # evicts a; b afresh
        self.assertNotIn("evicted_before", v[3])
        self.assertIs(v[4].get("new_case"), True)
        self.assertIs(v[4].get("evicted_before"), True)
        self.assertEqual(v[4]["checks"][0]["state"], [None], "an evicted case starts a fresh history")
        self.assertIs(v[4]["deviation"], True)
        self.assertError(self.srv.get("/v1/cases/" + q(a)), 404, "not_found")
        self.assertEqual(self.srv.get("/v1/cases/" + q(c)).status, 200)
        self.assertEqual(self.srv.get("/v1/cases/" + q(b)).json()["events"], 1)
        s1 = self.srv.stats()
        self.assertEqual(s1["open_cases"], 2)
        self.assertEqual(s1["evictions"]["lru"] - s0["evictions"]["lru"], 2)
        self.assertEqual(s1["reopened"] - s0["reopened"], 1)
        m = H.parse_prometheus(self.srv.get("/metrics").text)
        self.assertEqual(H.sample(m, "vigil_cases_evicted_total", reason="lru"), s1["evictions"]["lru"])
        self.assertEqual(H.sample(m, "vigil_cases_reopened_total"), s1["reopened"])
        self.assertEqual(H.sample(m, "vigil_open_cases"), 2)
        # an evicted case cannot be ended
        self.assertError(self.srv.post("/v1/cases/%s/end" % q(a)), 404, "not_found")


class IdleTimeout(ServiceTest):
    server_opts = {"case_idle_timeout": "1s"}

    def test_idle_case_evicted(self):
        a, b = uid("idle"), uid("busy")
        self.post_ok({"case": a, "activity": "create order"})
        time.sleep(1.6)
        self.post_ok({"case": b, "activity": "create order"})
        # eviction may be lazy (driven by the events' arrival, so that a replay
        # of the log evicts the same cases), but it has happened by now
        st = self.srv.stats()
        self.assertGreaterEqual(st["evictions"]["idle"], 1, st)
        self.assertError(self.srv.get("/v1/cases/" + q(a)), 404, "not_found")
        v = self.post_ok({"case": a, "activity": "approve order"})
        self.assertIs(v.get("evicted_before"), True)
        self.assertEqual(v["checks"][0]["state"], [None])


# ---------------------------------------------------------------------------------------
class Concurrency(ServiceTest):
    """Concurrent clients: 8 threads post events for their own cases and, in a
    known order per thread, to one shared case; single events and NDJSON
    batches. Per-case order holds when (1) each client's sequential requests
    get increasing seqs and a batch consecutive ones, (2) the seqs of all
    requests are exactly the next N numbers, (3) every client's own case gets
    the verdicts a sequential run gives, (4) the shared case's verdicts and
    final history are those of posting its events one by one in seq order
    (replayed on a fresh case id), and (5) the log holds each event at its seq."""
    server_opts = {"threads": 4}
    THREADS = 8
    ROUNDS = 40

    def worker(self, t, shared, out, errors, barrier):
        try:
            cli = self.srv.client()
            own = "own-%s-%d" % (_RUN, t)
            trace = (TRACE * (self.ROUNDS // 6 + 1))[:self.ROUNDS]
            barrier.wait()
            got = []
            for i in range(self.ROUNDS):
                if i % 4 == 3:  # a batch: own event + two shared events, NDJSON
                    evs = [{"case": own, "activity": trace[i]},
                           {"case": shared, "activity": "create order", "t": t, "i": i},
                           {"case": shared, "activity": TRACE[(t + i) % 6], "t": t, "i": i}]
                    r = cli.post("/v1/events", ndjson=evs)
                    if r.status != 200:
                        raise AssertionError(repr(r))
                    got.append(("batch", r.ndjson()))
                else:
                    for ev in ({"case": own, "activity": trace[i]},
                               {"case": shared, "activity": TRACE[(t * 3 + i) % 6], "t": t, "i": i}):
                        r = cli.event(ev)
                        if r.status != 200:
                            raise AssertionError(repr(r))
                        got.append(("one", [r.json()]))
            cli.close()
            out[t] = got
        except Exception as e:  # reported by the main thread
            errors.append("thread %d: %r" % (t, e))
            barrier.abort()

    def test_per_case_order(self):
        shared = uid("shared")
        base = self.last_seq()
        out, errors = {}, []
        barrier = threading.Barrier(self.THREADS)
        threads = [threading.Thread(target=self.worker, args=(t, shared, out, errors, barrier))
                   for t in range(self.THREADS)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(120 * H.SCALE)
        self.assertFalse(errors, errors)
        self.assertEqual(len(out), self.THREADS)
        allv = []
        for t, reqs in out.items():
            seqs = [v["seq"] for _, vs in reqs for v in vs]
            with self.subTest(check="(1) increasing seqs", thread=t):
                self.assertEqual(seqs, sorted(seqs))
                self.assertEqual(len(set(seqs)), len(seqs))
                for kind, vs in reqs:
                    s = [v["seq"] for v in vs]
                    self.assertEqual(s, list(range(s[0], s[0] + len(s))), "a batch's seqs are consecutive")
            allv += [v for _, vs in reqs for v in vs]
        n = len(allv)
        with self.subTest(check="(2) seqs are the next N"):
            self.assertEqual(sorted(v["seq"] for v in allv), list(range(base + 1, base + n + 1)))
        # (3) own cases: as a sequential run on a fresh case
        trace = (TRACE * (self.ROUNDS // 6 + 1))[:self.ROUNDS]
        ref_case = uid("ref")
        ref = [self.post_ok({"case": ref_case, "activity": a}) for a in trace]
        strip = lambda v: (v["activity"], v["deviation"], v["checks"])  # noqa: E731
        for t in range(self.THREADS):
            own = "own-%s-%d" % (_RUN, t)
            mine = sorted((v for v in allv if v["case"] == own), key=lambda v: v["seq"])
            with self.subTest(check="(3) own case", thread=t):
                self.assertEqual([strip(v) for v in mine], [strip(v) for v in ref])
        # (4) the shared case, replayed one by one in seq order on a fresh id
        sh = sorted((v for v in allv if v["case"] == shared), key=lambda v: v["seq"])
        # the threads really did interleave on the shared case
        owners = [t for t, reqs in out.items() for _, vs in reqs for v in vs if v["case"] == shared]
        by_seq = dict(zip([v["seq"] for t, reqs in out.items() for _, vs in reqs for v in vs
                           if v["case"] == shared], owners))
        order = [by_seq[v["seq"]] for v in sh]
        switches = sum(1 for a, b in zip(order, order[1:]) if a != b)
        H.note("%d requests, %d events; the shared case changed hands %d times in %d events"
               % (sum(len(r) for r in out.values()), n, switches, len(sh)))
        self.assertGreater(switches, self.THREADS, "the clients did not run concurrently")
        replay_case = uid("replay")
        rep = [self.post_ok({"case": replay_case, "activity": v["activity"]}) for v in sh]
        with self.subTest(check="(4) shared case verdicts"):
            for a, b in zip(sh, rep):
                self.assertEqual(strip(a), strip(b), "seq %d" % a["seq"])
        with self.subTest(check="(4) shared case history"):
            h1 = self.srv.get("/v1/cases/" + q(shared)).json()
            h2 = self.srv.get("/v1/cases/" + q(replay_case)).json()
            self.assertEqual((h1["events"], h1["history"]), (h2["events"], h2["history"]))
            self.assertEqual(h1["events"], len(sh))
        with self.subTest(check="(6) one request log line per request, none torn"):
            logpath = os.path.join(self.srv.data_dir, "requests.log")
            n_req = sum(len(reqs) for reqs in out.values())
            H.wait_until(lambda: sum(1 for r in read_reqlog(logpath) if r["path"] == "/v1/events")
                         >= n_req + len(ref) + len(rep), what="request log lines")
        with self.subTest(check="(5) the log order"):
            recs = {r["seq"]: r for r in H.log_dump(self.srv.data_dir) if r["seq"] > base}
            for v in allv:
                r = recs[v["seq"]]
                self.assertEqual((r["case"], r["activity"]), (v["case"], v["activity"]))
            # and per thread, the shared events are in the log in the order sent
            for t in range(self.THREADS):
                order = [(r["attrs"]["i"]) for s, r in sorted(recs.items())
                         if r["case"] == shared and r["attrs"]["t"] == t]
                self.assertEqual(order, sorted(order), "thread %d" % t)


# ---------------------------------------------------------------------------------------
class Auth(ServiceTest):
    """A bearer token on every route but /healthz."""

    @classmethod
    def setUpClass(cls):
        cls.token = "tok-%032x" % random.getrandbits(128)
        cls.token_file = os.path.join(H.tmpdir("token"), "token")
        with open(cls.token_file, "w") as f:
            f.write(cls.token + "\n")
        os.chmod(cls.token_file, stat.S_IRUSR | stat.S_IWUSR)
        cls.server_opts = {"auth_token_file": cls.token_file}
        super().setUpClass()

    ROUTES = [("GET", "/v1/stats", None, 200), ("GET", "/metrics", None, 200),
              ("GET", "/readyz", None, 200), ("GET", "/v1/automata/1", None, 200),
              ("GET", "/v1/automata/1.png", None, 200), ("GET", "/v1/automata/1.svg", None, 200),
              ("GET", "/v1/automata/2.dot?top=2", None, 200), ("GET", "/v1/cases/nobody", None, 404),
              ("POST", "/v1/events", {"case": "auth-1", "activity": "create order"}, 200),
              ("POST", "/v1/cases/nobody/end", None, 404), ("GET", "/nowhere", None, 404),
              ("HEAD", "/v1/stats", None, 200)]

    def test_token_required_everywhere_but_healthz(self):
        events0 = self.srv.get("/v1/stats", headers={"Authorization": "Bearer " + self.token}).json()["events"]
        for method, path, ev, want in self.ROUTES:
            for name, hdrs in (("none", {}),
                               ("wrong", {"Authorization": "Bearer nope"}),
                               ("prefix", {"Authorization": "Bearer " + self.token[:-1]}),
                               ("longer", {"Authorization": "Bearer " + self.token + "x"}),
                               ("basic", {"Authorization": "Basic " + self.token}),
                               ("bare", {"Authorization": self.token})):
                with self.subTest(method=method, path=path, token=name):
                    r = self.srv.request(method, path, json_body=ev, headers=hdrs)
                    if path == "/nowhere" and r.status == 404:
                        continue  # checks run route first (docs/api.md): 404 before 401
                    self.assertEqual(r.status, 401, r)
                    if method != "HEAD":
                        self.assertError(r, 401, "unauthorized")
                    self.assertRegex(r.headers.get("www-authenticate", ""), r"^Bearer\b")
            with self.subTest(method=method, path=path, token="right"):
                r = self.srv.request(method, path, json_body=ev,
                                     headers={"Authorization": "Bearer " + self.token})
                self.assertEqual(r.status, want, r)
        r = self.srv.get("/v1/stats", headers={"Authorization": "Bearer " + self.token})
        self.assertEqual(r.json()["events"] - events0, 1, "only the authorized event was applied")

    def test_scheme_is_case_insensitive(self):
        r = self.srv.get("/v1/stats", headers={"Authorization": "bearer " + self.token})
        self.assertEqual(r.status, 200, r)

    def test_healthz_open(self):
        for hdrs in ({}, {"Authorization": "Bearer wrong"}):
            r = self.srv.get("/healthz", headers=hdrs)
            self.assertEqual((r.status, r.json()), (200, {"status": "ok"}))

    def test_replay_with_token(self):
        log = os.path.join(H.SOURCE_DIR, "examples", "orders-new.csv")
        r = H.vigil("replay", log, "--url", self.srv.url, "--token", self.token_file, "-q",
                    "--json", "--batch", "50", check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["rejected"], 0)
        r = H.vigil("replay", log, "--url", self.srv.url, "-q", "--json", check=False)
        self.assertEqual(r.returncode, 1, "replay without the token must fail")


class Tls(ServiceTest):
    """HTTPS with a self-signed certificate."""

    @classmethod
    def setUpClass(cls):
        if H.TARGET != "standalone":
            raise unittest.SkipTest("standalone only: TLS is vigil serve's (uWSGI has its own)")
        d = H.tmpdir("tls")
        cls.cert, cls.key = os.path.join(d, "c.pem"), os.path.join(d, "k.pem")
        try:
            r = H.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", cls.key,
                       "-out", cls.cert, "-days", "1", "-subj", "/CN=localhost"], timeout=60)
        except FileNotFoundError:
            raise unittest.SkipTest("openssl is not installed")
        if r.returncode != 0:
            raise unittest.SkipTest("openssl could not make a certificate: %s" % r.stderr[-300:])
        cls.server_opts = {"tls_cert": cls.cert, "tls_key": cls.key}
        super().setUpClass()

    def test_https(self):
        self.assertEqual(self.srv.scheme, "https", "the listening line must say https://")
        r = self.srv.get("/healthz")
        self.assertEqual((r.status, r.json()), (200, {"status": "ok"}))
        v = self.post_ok({"case": uid(), "activity": "create order"})
        self.assertVerdict(v)
        r = self.srv.get("/v1/automata/1.png")
        self.assertEqual(r.status, 200)
        H.decode_png(r.body)

    def test_plain_http_is_not_answered(self):
        out = H.raw_request(self.srv.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                            read_timeout=2)
        self.assertFalse(out.startswith(b"HTTP/1.1 200"), out[:100])
        self.assertEqual(self.srv.get("/healthz").status, 200, "still serving HTTPS")


class NotReady(ServiceTest):
    """/readyz turns 503 not_ready when the service is stopping: a request on a
    keep-alive connection opened before SIGINT gets 503, events too."""

    @H.standalone_only("uWSGI stops its own way")
    def test_stop_with_a_stalled_client(self):
        """A half-sent request does not keep the server from stopping."""
        srv = H.Server(name="stall-stop", model=H.model("orders"))
        self.addCleanup(srv.kill)
        srv.start()
        s = socket.create_connection((H.HOST, srv.port))
        try:
            s.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 100\r\n\r\n{\"ca")
            time.sleep(0.2)
            t0 = time.monotonic()
            self.assertEqual(srv.stop(timeout=10), 0, srv.stderr())
            self.assertLess(time.monotonic() - t0, 5 * H.SCALE)
        finally:
            s.close()

    @H.standalone_only("uWSGI stops its own way")
    def test_503_while_stopping(self):
        cli = self.srv.client()
        self.assertEqual(cli.get("/readyz").status, 200)
        self.srv.proc.send_signal(2)
        seen = None
        deadline = time.monotonic() + 2 * H.SCALE
        while time.monotonic() < deadline:
            try:
                r = cli.get("/readyz")
            except OSError:
                break
            if r.status == 503:
                seen = r
                break
            time.sleep(0.01)
        self.assertIsNotNone(seen, "no 503 from /readyz on a connection kept open across SIGINT")
        self.assertError(seen, 503, "not_ready")
        try:
            r = cli.event({"case": uid(), "activity": "create order"})
            self.assertError(r, 503, "not_ready")
        except OSError:
            pass  # the grace period may have ended
        cli.close()
        self.assertEqual(self.srv.proc.wait(20 * H.SCALE), 0)


# ---------------------------------------------------------------------------------------
LOG_FIELDS = {"time": str, "id": str, "remote": str, "method": str, "path": str, "status": int,
              "bytes_in": int, "bytes_out": int, "latency_us": int}


def read_reqlog(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return []
    return [json.loads(l) for l in data.decode().splitlines() if l.strip()]


class RequestLog(ServiceTest):
    """DATA_DIR/requests.log: one JSON line per request."""

    def check_line(self, rec):
        for k, typ in LOG_FIELDS.items():
            self.assertIsInstance(rec.get(k), typ, (k, rec))
        self.assertRegex(rec["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
        self.assertEqual(rec["remote"], "127.0.0.1")
        self.assertGreaterEqual(rec["latency_us"], 0)
        self.assertLess(rec["latency_us"], 60e6)

    def test_one_line_per_request(self):
        body = json.dumps({"case": uid(), "activity": "create order"}).encode()
        sent = []
        for method, path, b, ct in (("POST", "/v1/events", body, "application/json"),
                                    ("GET", "/healthz", None, None),
                                    ("GET", "/v1/automata/1?top=2", None, None),
                                    ("GET", "/nowhere", None, None),
                                    ("POST", "/v1/events", b"{bad", "application/json"),
                                    ("GET", "/v1/cases/" + q("a b/c"), None, None),
                                    ("HEAD", "/v1/stats", None, None)):
            r = self.srv.request(method, path, body=b, content_type=ct)
            sent.append((method, path, b or b"", r))
        logpath = os.path.join(self.srv.data_dir, "requests.log")
        ids = {r.headers["x-request-id"] for *_, r in sent}

        def logged():
            recs = {x["id"]: x for x in read_reqlog(logpath)}
            return recs if ids <= set(recs) else None
        recs = H.wait_until(logged, what="the request log lines")
        for method, path, b, r in sent:
            with self.subTest(method=method, path=path):
                rec = recs[r.headers["x-request-id"]]
                self.check_line(rec)
                p, _, query = path.partition("?")
                self.assertEqual((rec["method"], rec["path"], rec["status"]), (method, p, r.status))
                if query:
                    self.assertEqual(rec.get("query"), query)
                else:
                    self.assertNotIn("query", rec)
                self.assertEqual(rec["bytes_in"], len(b))
                self.assertEqual(rec["bytes_out"], len(r.body) if method != "HEAD" else rec["bytes_out"])
        for rec in read_reqlog(logpath):
            self.check_line(rec)


    def test_kept_across_restarts(self):
        srv = H.new_server(name="reqlog-restart", model=H.model("orders"))
        self.addCleanup(srv.kill)
        srv.start()
        first = srv.get("/healthz").headers["x-request-id"]
        self.assertEqual(srv.stop(), 0)
        srv2 = H.new_server(name="reqlog-restart2", data_dir=srv.data_dir)
        self.addCleanup(srv2.kill)
        srv2.start()
        second = srv2.get("/healthz").headers["x-request-id"]
        self.assertNotEqual(first, second, "request ids must not repeat across restarts")
        logpath = os.path.join(srv.data_dir, "requests.log")
        H.wait_until(lambda: second in {x["id"] for x in read_reqlog(logpath)}, what="the new line")
        self.assertIn(first, {x["id"] for x in read_reqlog(logpath)}, "the old lines were lost")
        self.assertEqual(srv2.stop(), 0)


class RequestLogRotation(ServiceTest):
    server_opts = {"request_log_max_bytes": "4KiB", "request_log_keep": 2}

    def test_rotation_by_size(self):
        cli = self.srv.client()
        last = None
        for i in range(200):
            r = cli.get("/healthz?i=%d" % i)
            self.assertEqual(r.status, 200)
            last = r.headers["x-request-id"]
        cli.close()
        d = self.srv.data_dir
        H.wait_until(lambda: any(x["id"] == last for x in read_reqlog(os.path.join(d, "requests.log"))),
                     what="the last request in requests.log")
        names = sorted(f for f in os.listdir(d) if f.startswith("requests.log"))
        self.assertEqual(names, ["requests.log", "requests.log.1", "requests.log.2"])
        seen = []
        for name in ("requests.log.2", "requests.log.1", "requests.log"):
            path = os.path.join(d, name)
            size = os.path.getsize(path)
            recs = read_reqlog(path)
            with self.subTest(file=name):
                self.assertLessEqual(size, 4096 + 400, "rotated past request_log_max_bytes")
                self.assertTrue(recs)
                for rec in recs:
                    RequestLog.check_line(self, rec)
            seen += [int(x["query"].split("=")[1]) for x in recs if x.get("query", "").startswith("i=")]
        self.assertEqual(seen, sorted(seen), "rotated files hold older lines")
        self.assertEqual(seen[-1], 199)
        self.assertEqual(seen, list(range(seen[0], 200)), "no line lost among the kept files")


# ---------------------------------------------------------------------------------------
class Startup(unittest.TestCase):
    """vigil serve with --train; bad start-up configurations."""

    @H.standalone_only("vigil serve flags")
    def test_train_at_start(self):
        with H.Server(name="train", train=os.path.join(H.SOURCE_DIR, "examples", "orders.csv"),
                      prefix="1,2") as srv:
            srv.start()
            self.assertEqual(srv.get("/readyz").status, 200)
            v = srv.event({"case": "t", "activity": "create order"}).json()
            self.assertEqual([c["prefix"] for c in v["checks"]], [1, 2])
            self.assertEqual(srv.stop(), 0)

    @H.standalone_only("vigil serve flags")
    def test_port_in_use(self):
        s = socket.socket()
        s.bind((H.HOST, 0))
        s.listen(1)
        try:
            port = s.getsockname()[1]
            r = H.vigil("serve", "--model", H.model("orders"), "--data-dir", H.tmpdir("inuse"),
                        "--listen", "%s:%d" % (H.HOST, port), check=False, timeout=30)
            self.assertEqual(r.returncode, 2)
            self.assertIn(b"cannot listen on", r.stderr)
        finally:
            s.close()


if __name__ == "__main__":
    unittest.main()
