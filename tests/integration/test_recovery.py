"""Durability of the running service.

Restart recovery (the key test): a model trained on the SEC log
sec/dup-no-a.xes.gz judges the noisy sec/dup-global-a.xes.gz (5,099 events)
streamed by `vigil replay`. Once uninterrupted on a fresh data directory (the
reference); then, at three points, the server is killed with SIGKILL in the
middle of the replay, restarted on the same data directory (no model: it
comes from the snapshot), asked for the events it applied (GET /v1/stats),
and the replay is resumed with --skip <applied>. Every event acknowledged
before the kill must be in the log, and the end state must equal the
reference exactly: /v1/stats counters, GET /v1/automata/{k} for every k, and
the event log itself (vigil log dump: case, activity, time, attributes in
seq order).

Log damage at the service level (the server killed, then its last segment
damaged): a torn tail or a bad CRC in the last record is truncated with a
warning and the state is the one before the damaged record; a bad magic or
damage before the tail refuses the start with a clear message; a second
server on the same data directory refuses to start (lock).
"""
import json
import os
import signal
import subprocess
import time
import unittest
import urllib.parse

import harness as H
from harness import server_bug

BUG_WHERE = server_bug(
    "B1", "vigil serve names the data directory instead of the damaged segment file in "
    "log errors: src/pipeline/pipeline.c vg_pipeline_open overwrites err->where (the "
    "segment path the log set) with the data directory")

SEC_LOG = "sec/dup-global-a.xes.gz"
STATS_KEYS = ("events", "ends", "deviations", "results", "open_cases", "evictions", "reopened",
              "counters_dropped")


def service_state(srv):
    """What must survive a restart: the judged counters and the live automata."""
    st = srv.stats()
    state = {k: st[k] for k in STATS_KEYS}
    state["last_seq"] = st["log"]["last_seq"]
    for k in sorted(st["results"], key=int):
        r = srv.get("/v1/automata/%s" % k)
        if r.status != 200:
            raise AssertionError("GET /v1/automata/%s: %r" % (k, r))
        state["automaton_%s" % k] = r.json()
    return state


def logged_events(data_dir):
    """The log as (seq, type, case, activity, time, process, attrs) — arrival
    times differ between runs, everything else must not."""
    return [(r["seq"], r["type"], r["case"], r["activity"], r["time"], r.get("process"), r.get("attrs"))
            for r in H.log_dump(data_dir)]


def replay(url, log, *args, timeout=300):
    r = H.vigil("replay", log, "--url", url, "--json", "-q", *args, timeout=timeout, check=False)
    try:
        summary = json.loads(r.stdout)
    except ValueError:
        raise AssertionError("vigil replay printed no JSON summary (exit %d):\n%s"
                             % (r.returncode, r.stderr.decode(errors="replace")[-2000:]))
    return r.returncode, summary, r.stderr.decode(errors="replace")


def unordered(state):
    """The state with each automaton's transitions sorted: transitions added
    by deviations are listed in the order they first happened, which
    concurrent clients may change; their counts may not change."""
    out = dict(state)
    for k, v in state.items():
        if k.startswith("automaton_"):
            a = dict(v)
            a["transitions"] = sorted(v["transitions"], key=lambda t: json.dumps(t, sort_keys=True))
            out[k] = a
    return out


def diff_state(a, b):
    """What differs, briefly: stats members, and automaton states and
    transitions (keyed by their ids and activity)."""
    out = {}
    for k in sorted(set(a) | set(b)):
        x, y = a.get(k), b.get(k)
        if x == y:
            continue
        if k.startswith("automaton_") and x and y:
            for part, key in (("states", lambda s: s["id"]),
                              ("transitions", lambda t: (t["from"], t["activity"], t["end"]))):
                xs = {key(i): i for i in x[part]}
                ys = {key(i): i for i in y[part]}
                d = {str(i): (xs.get(i), ys.get(i)) for i in set(xs) | set(ys) if xs.get(i) != ys.get(i)}
                if d:
                    out["%s %s" % (k, part)] = d
                elif [key(i) for i in x[part]] != [key(i) for i in y[part]]:
                    out["%s %s" % (k, part)] = "same members in another order"
        else:
            out[k] = (x, y)
    return out


class RestartRecovery(unittest.TestCase):
    """kill -9 during a `vigil replay`, restart, resume: the same end state."""

    @classmethod
    def setUpClass(cls):
        cls.log = H.data_file(SEC_LOG)
        cls.model = H.model("sec")
        cls.refs = {}
        cls.reference()

    @classmethod
    def reference(cls, max_cases=None):
        """The uninterrupted run on a fresh data directory (once per max_cases)."""
        if max_cases in cls.refs:
            return cls.refs[max_cases]
        srv = H.new_server(name="reference", model=cls.model, max_cases=max_cases)
        try:
            srv.start()
            rc, s, err = replay(srv.url, cls.log, "--batch", "50")
            if rc != 0 or s["rejected"]:
                raise AssertionError("the reference replay failed (exit %d): %s" % (rc, err))
            cls.total = s["events"]
            state = service_state(srv)
            if srv.stop() != 0:
                raise AssertionError("the reference server did not stop cleanly:\n" + srv.stderr())
        finally:
            srv.kill()
        log = logged_events(srv.data_dir)
        if state["events"] != cls.total or len(log) != cls.total:
            raise AssertionError("reference: %d events judged, %d logged, %d in the file"
                                 % (state["events"], len(log), cls.total))
        cls.refs[max_cases] = (state, log)
        return state, log

    @property
    def ref_state(self):
        return self.refs[None][0]

    def kill_and_resume(self, kill_at, batch, rate, **server_opts):
        ref_state, ref_log = self.reference(server_opts.get("max_cases"))
        srv = H.new_server(name="killed", model=self.model, **server_opts)
        self.addCleanup(srv.kill)
        srv.start()
        dd = srv.data_dir
        rep = H.popen([H.VG_BIN, "replay", self.log, "--url", srv.url, "--json", "-q",
                       "--batch", str(batch), "--rate", str(rate), "--timeout", "5"],
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(H.kill_group, rep)
        # kill -9 once the server has applied kill_at events
        poll = srv.client(timeout=5)
        deadline = time.monotonic() + 60 * H.SCALE
        while True:
            seq = poll.get("/v1/stats").json()["log"]["last_seq"]
            if seq >= kill_at:
                break
            self.assertIsNone(rep.poll(), "the replay ended before the kill point (%d of %d)" % (seq, kill_at))
            self.assertLess(time.monotonic(), deadline, "the replay is too slow")
            time.sleep(0.005)
        poll.close()
        srv.kill()
        out, err = rep.communicate(timeout=60 * H.SCALE)
        self.assertEqual(rep.returncode, 1, "the replay must notice the dead server: %s" % err[-500:])
        first = json.loads(out)
        acked, acked_seq = first["accepted"], first["last_seq"] or 0
        self.assertGreater(acked, 0)
        self.assertLess(acked, self.total, "killed too late to test anything")

        # the log as the kill left it is readable (a torn tail is allowed)
        v = H.vigil("log", "verify", dd, check=False)
        self.assertEqual(v.returncode, 0, v.stdout + v.stderr)

        srv2 = H.new_server(name="restarted", data_dir=dd, **{k: v for k, v in server_opts.items()})
        self.addCleanup(srv2.kill)
        srv2.start()
        st = srv2.stats()
        applied = st["log"]["last_seq"]
        self.assertGreaterEqual(applied, acked, "acknowledged events were lost")
        self.assertGreaterEqual(applied, acked_seq, "the highest acknowledged seq is gone")
        self.assertEqual(st["events"], applied, "events judged after the restart != the log")
        self.assertEqual(st["replay"]["records"], applied - st["snapshots"]["last_seq"])
        # the log holds exactly the first `applied` events of the reference, in order
        self.assertEqual(logged_events(dd), ref_log[:applied])

        rc, s, err = replay(srv2.url, self.log, "--skip", str(applied), "--batch", "50")
        self.assertEqual(rc, 0, err)
        self.assertEqual(s["accepted"], self.total - applied)
        got = service_state(srv2)
        self.assertEqual(got, ref_state, "state after kill -9 + resume differs from the "
                         "uninterrupted run: %r" % diff_state(got, ref_state))
        # the metrics count since the data directory was created, too
        m = H.parse_prometheus(srv2.get("/metrics").text)
        self.assertEqual(H.sample(m, "vigil_events_total"), self.total)
        self.assertEqual(H.sample(m, "vigil_deviations_total"), ref_state["deviations"])
        for k, res in ref_state["results"].items():
            for name, n in res.items():
                self.assertEqual(H.sample(m, "vigil_checks_total", k=k, result=name), n, (k, name))
        self.assertEqual(srv2.stop(), 0, srv2.stderr())
        self.assertEqual(logged_events(dd), ref_log)
        H.note("killed -9 after %d of %d events acknowledged; %d applied after the restart"
               % (acked, self.total, applied))
        return acked, applied

    @server_bug(*H.BUG_UWSGI_CLOSE)
    def test_kill_early_single_events(self):
        self.kill_and_resume(kill_at=300, batch=1, rate=8000)

    @server_bug(*H.BUG_UWSGI_CLOSE)
    def test_kill_middle_batches_with_snapshots(self):
        """NDJSON batches of 25; snapshots every 1,000 records, so the restart
        loads a snapshot and replays the log after it; 64 KiB segments, so the
        log spans several segment files."""
        self.kill_and_resume(kill_at=2500, batch=25, rate=10000, snapshot_every=1000,
                             segment_bytes="64KiB")

    @server_bug(*H.BUG_UWSGI_CLOSE)
    def test_kill_late_fsync_always(self):
        self.kill_and_resume(kill_at=4300, batch=10, rate=10000, fsync="always")

    @server_bug(*H.BUG_UWSGI_CLOSE)
    def test_kill_with_lru_evictions(self):
        """max_cases = 150 (the log has 1,000 cases): the LRU order of the case
        table must come back from the snapshot and the log exactly."""
        self.kill_and_resume(kill_at=2000, batch=5, rate=10000, max_cases=150, snapshot_every=100,
                             fsync="off")
        self.assertGreater(self.reference(150)[0]["evictions"]["lru"], 0)

    @server_bug(*H.BUG_UWSGI_CLOSE)
    def test_concurrent_replay_reaches_the_same_state(self):
        """--concurrency 4: one case's events never overtake each other, so
        the counters equal the sequential run's."""
        srv = H.new_server(name="concurrent", model=self.model, threads=4)
        self.addCleanup(srv.kill)
        srv.start()
        rc, s, err = replay(srv.url, self.log, "--concurrency", "4", "--batch", "10")
        self.assertEqual(rc, 0, err)
        got = unordered(service_state(srv))
        self.assertEqual(got, unordered(self.ref_state), diff_state(got, self.ref_state))
        self.assertEqual(srv.stop(), 0)

    @server_bug(*H.BUG_UWSGI_CLOSE)
    def test_sigint_during_replay_loses_nothing_acknowledged(self):
        """A clean stop (SIGINT, then SIGTERM on the restarted server) in the
        middle of a replay: every acknowledged event is in the log; resuming
        gives the reference state."""
        ref_state, ref_log = self.reference()
        srv = H.new_server(name="sigint", model=self.model)
        self.addCleanup(srv.kill)
        srv.start()
        rep = H.popen([H.VG_BIN, "replay", self.log, "--url", srv.url, "--json", "-q",
                       "--batch", "5", "--rate", "10000", "--timeout", "5"],
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(H.kill_group, rep)
        H.wait_until(lambda: srv.stats()["log"]["last_seq"] >= 1500, timeout=60, step=0.005,
                     what="1,500 events")
        srv._close_clients()
        self.assertEqual(srv.stop(), 0, srv.stderr())
        self.assertRegex(srv.stderr(), r"stopped")
        out, err = rep.communicate(timeout=60 * H.SCALE)
        acked = json.loads(out)["accepted"]
        srv2 = H.new_server(name="sigint2", data_dir=srv.data_dir)
        self.addCleanup(srv2.kill)
        srv2.start()
        st = srv2.stats()
        applied = st["log"]["last_seq"]
        self.assertGreaterEqual(applied, acked)
        self.assertEqual(st["snapshots"]["last_seq"], applied, "a clean stop ends with a snapshot")
        self.assertEqual(st["replay"]["records"], 0)
        rc, s, err = replay(srv2.url, self.log, "--skip", str(applied), "--batch", "50")
        self.assertEqual(rc, 0, err)
        self.assertEqual(service_state(srv2), ref_state)
        srv2._close_clients()
        srv2.proc.send_signal(signal.SIGTERM)
        self.assertEqual(srv2.proc.wait(30 * H.SCALE), 0, "SIGTERM must stop cleanly too")
        srv3 = H.new_server(name="sigterm3", data_dir=srv.data_dir)
        self.addCleanup(srv3.kill)
        srv3.start()
        self.assertEqual(srv3.stats()["replay"]["records"], 0, "SIGTERM must snapshot too")
        self.assertEqual(service_state(srv3), ref_state)
        self.assertEqual(srv3.stop(), 0)
        self.assertEqual(logged_events(srv.data_dir), ref_log)

    @server_bug(*H.BUG_UWSGI_CLOSE)
    def test_clean_restart(self):
        """SIGINT, restart: the same state, from the final snapshot (nothing replayed)."""
        srv = H.new_server(name="clean", model=self.model)
        self.addCleanup(srv.kill)
        srv.start()
        rc, s, err = replay(srv.url, self.log, "--batch", "100")
        self.assertEqual(rc, 0, err)
        before = service_state(srv)
        self.assertEqual(before, self.ref_state)
        self.assertEqual(srv.stop(), 0)
        srv2 = H.new_server(name="clean2", data_dir=srv.data_dir)
        self.addCleanup(srv2.kill)
        srv2.start()
        self.assertEqual(service_state(srv2), before)
        st = srv2.stats()
        self.assertEqual(st["snapshots"]["last_seq"], self.total)
        self.assertEqual(st["replay"]["records"], 0)
        self.assertEqual(srv2.stop(), 0)


# ---------------------------------------------------------------------------------------
TRACE = ["create order", "approve order", "ship goods", "send invoice", "receive payment",
         "close order"]


class LogDamage(unittest.TestCase):
    """Damaged data directories at the service level."""

    def crashed_server(self, snapshot=False):
        """A data directory whose server was killed -9 after N events. Returns
        (data_dir, state after N-1 events, N, cases)."""
        srv = H.new_server(name="damage", model=H.model("orders"))
        self.addCleanup(srv.kill)
        srv.start()
        cases = ["d1", "d2", "d 3/x"]
        for i, a in enumerate(TRACE):
            for c in cases:
                r = srv.event({"case": c, "activity": a, "i": i})
                self.assertEqual(r.status, 200, r)
        r = srv.event([{"case": "d4", "activity": "create order"}, {"case": "d1", "activity": "x"}])
        self.assertEqual(r.status, 200, r)
        state = self.state(srv, cases + ["d4"])
        # the record that will be damaged: a deviation on a new case
        r = srv.event({"case": "d5", "activity": "ship goods", "pad": "p" * 200})
        self.assertEqual(r.status, 200, r)
        n = r.json()["seq"]
        self.assertEqual(n, state["last_seq"] + 1)
        if snapshot:
            self.assertEqual(srv.stop(), 0)
        else:
            srv.kill()
        return srv.data_dir, state, n, cases + ["d4"]

    def state(self, srv, cases):
        s = service_state(srv)
        for c in cases + ["d5"]:
            r = srv.get("/v1/cases/" + urllib.parse.quote(c, safe=""))
            s["case " + c] = (r.status, {k: v for k, v in r.json().items() if k != "last_seen"})
        return s

    def restart_expect_truncated(self, dd, state, n, cases):
        srv = H.new_server(name="after-damage", data_dir=dd)
        self.addCleanup(srv.kill)
        srv.start()
        self.assertRegex(srv.stderr(), r"(?i)torn|truncat", "no warning about the damaged tail")
        got = self.state(srv, cases)
        self.assertEqual(got, state, "state differs from before the damaged record: %r"
                         % diff_state(got, state))
        # the log goes on from there
        r = srv.event({"case": "d6", "activity": "create order"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["seq"], n)
        self.assertEqual(srv.stop(), 0)
        v = H.vigil("log", "verify", dd, check=False)
        self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
        self.assertIn(b"torn tail   no", v.stdout)
        recs = H.log_dump(dd)
        self.assertEqual([r["seq"] for r in recs], list(range(1, n + 1)))
        self.assertEqual(recs[-1]["case"], "d6")

    def last_segment(self, dd):
        d = os.path.join(dd, "log")
        segs = sorted(f for f in os.listdir(d) if f.endswith(".vlog"))
        self.assertTrue(segs)
        return os.path.join(d, segs[-1])

    def test_torn_tail(self):
        dd, state, n, cases = self.crashed_server()
        seg = self.last_segment(dd)
        size = os.path.getsize(seg)
        os.truncate(seg, size - 7)
        self.restart_expect_truncated(dd, state, n, cases)

    def test_torn_tail_in_the_frame(self):
        dd, state, n, cases = self.crashed_server()
        seg = self.last_segment(dd)
        off, length = H.log_records(seg)[-1]
        os.truncate(seg, off + 5)  # inside the length|crc frame of the last record
        self.restart_expect_truncated(dd, state, n, cases)

    def test_bad_crc_in_last_record(self):
        dd, state, n, cases = self.crashed_server()
        seg = self.last_segment(dd)
        off, length = H.log_records(seg)[-1]
        with open(seg, "r+b") as f:
            f.seek(off + length - 20)  # in the payload (the padding attribute)
            b = f.read(1)
            f.seek(off + length - 20)
            f.write(bytes([b[0] ^ 0x20]))
        self.restart_expect_truncated(dd, state, n, cases)

    @BUG_WHERE
    def test_bad_magic_refuses_start(self):
        dd, state, n, cases = self.crashed_server()
        seg = self.last_segment(dd)
        with open(seg, "r+b") as f:
            f.write(b"XIGILLOG")
        srv = H.new_server(name="bad-magic", data_dir=dd)
        self.addCleanup(srv.kill)
        with self.assertRaises(H.ServerStartError):
            srv.start()
        srv.assert_refused(self)
        err = srv.stderr()
        self.assertIn(os.path.basename(seg), err, "the message must name the damaged file")
        self.assertRegex(err, r"(?i)magic|not a vigil (event )?log")
        self.assertNotIn("listening on", err)

    @BUG_WHERE
    def test_damage_before_the_tail_refuses_start(self):
        dd, state, n, cases = self.crashed_server()
        seg = self.last_segment(dd)
        off, length = H.log_records(seg)[2]
        with open(seg, "r+b") as f:
            f.seek(off + length - 2)
            b = f.read(1)
            f.seek(off + length - 2)
            f.write(bytes([b[0] ^ 0x01]))
        srv = H.new_server(name="bad-middle", data_dir=dd)
        self.addCleanup(srv.kill)
        with self.assertRaises(H.ServerStartError):
            srv.start()
        srv.assert_refused(self)
        err = srv.stderr()
        self.assertIn(os.path.basename(seg), err)
        self.assertRegex(err, r"byte %d\b" % off, "the message must give where the damage is")
        # and the log was not truncated behind our back
        self.assertEqual(len(H.log_records(seg)), n)

    def test_damaged_tail_after_a_clean_stop(self):
        """The final snapshot covers the last record; when that record is
        then damaged the server must not silently reuse its seq: it refuses
        with a clear message, or starts and continues after the snapshot."""
        dd, state, n, cases = self.crashed_server(snapshot=True)
        seg = self.last_segment(dd)
        os.truncate(seg, os.path.getsize(seg) - 7)
        srv = H.new_server(name="snap-ahead", data_dir=dd)
        self.addCleanup(srv.kill)
        try:
            srv.start()
        except H.ServerStartError:
            srv.assert_refused(self)
            self.assertRegex(srv.stderr(), r"(?i)snapshot")
            return
        r = srv.event({"case": "d6", "activity": "create order"})
        self.assertEqual(r.status, 200, r)
        self.assertGreater(r.json()["seq"], n, "a seq the snapshot already covers was reused")

    def test_second_server_refused(self):
        srv = H.new_server(name="locked", model=H.model("orders"))
        self.addCleanup(srv.kill)
        srv.start()
        self.assertEqual(srv.event({"case": "l", "activity": "create order"}).status, 200)
        other = H.new_server(name="second", data_dir=srv.data_dir, model=H.model("orders"))
        self.addCleanup(other.kill)
        with self.assertRaises(H.ServerStartError):
            other.start()
        other.assert_refused(self)
        self.assertRegex(other.stderr(), r"in use by another vigil process")
        self.assertNotIn("listening on", other.stderr())
        # the first one is unharmed, and the directory is usable after it stops
        self.assertEqual(srv.get("/v1/cases/l").json()["events"], 1)
        self.assertEqual(srv.event({"case": "l", "activity": "approve order"}).json()["seq"], 2)
        self.assertEqual(srv.stop(), 0)
        third = H.new_server(name="third", data_dir=srv.data_dir)
        self.addCleanup(third.kill)
        third.start()
        self.assertEqual(third.get("/v1/cases/l").json()["events"], 2)
        self.assertEqual(third.stop(), 0)

    def test_snapshot_model_wins_over_a_given_one(self):
        """A data directory with a snapshot keeps its model (and counters):
        --model or --train given at a restart is ignored with a note."""
        srv = H.new_server(name="snapmodel", model=H.model("orders"))
        self.addCleanup(srv.kill)
        srv.start()
        srv.event({"case": "s", "activity": "create order"})
        srv.event({"case": "s", "activity": "ship goods"})
        before = service_state(srv)
        self.assertEqual(srv.stop(), 0)
        for opts in ({"model": H.model("sec")},
                     {"train": H.data_file("sec/dup-no-a.xes.gz")}):
            with self.subTest(**{k: os.path.basename(v) for k, v in opts.items()}):
                s2 = H.new_server(name="snapmodel2", data_dir=srv.data_dir, **opts)
                self.addCleanup(s2.kill)
                s2.start()
                self.assertRegex(s2.stderr(), r"(?i)snapshot")
                self.assertEqual(service_state(s2), before)
                self.assertEqual(s2.get("/v1/automata/3").status, 404, "the SEC model (k=1..4) was loaded")
                self.assertEqual(s2.stop(), 0)

    def test_lock_released_by_kill9(self):
        dd, state, n, cases = self.crashed_server()
        srv = H.new_server(name="after-kill", data_dir=dd)
        self.addCleanup(srv.kill)
        srv.start()
        self.assertEqual(srv.stats()["log"]["last_seq"], n)
        self.assertEqual(srv.stop(), 0)


if __name__ == "__main__":
    unittest.main()
