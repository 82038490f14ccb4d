"""The integration-test harness: start the real vigil service on a free port
(standalone `vigil serve`, or the uWSGI deployment) and speak real HTTP to it.

Standard library only. Every process a test starts is registered here and
killed (its whole process group, SIGKILL) when the run ends, whatever
happened; tests stop their servers themselves in try/finally as well.

Environment (CTest passes these; the runner has flags for them too):
  VG_BIN         the vigil binary
  VG_SOURCE_DIR  the checkout (docs/api.md, examples/)
  VG_DATA_DIR    the shared event logs (../shared/data)
  VG_BUILD_DIR   the build directory (libvigil_uwsgi.so; CMakeCache.txt tells
                 whether this is a sanitizer build, which runs slower)
  VG_TARGET      standalone (default) or uwsgi
"""
import atexit
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import tempfile
import threading
import time
import unittest
import zlib

HOST = "127.0.0.1"  # never any other address

SOURCE_DIR = os.path.abspath(os.environ.get(
    "VG_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..")))
BUILD_DIR = os.path.abspath(os.environ.get("VG_BUILD_DIR", os.path.join(SOURCE_DIR, "build")))
VG_BIN = os.path.abspath(os.environ.get("VG_BIN", os.path.join(BUILD_DIR, "vigil")))
DATA_DIR = os.path.abspath(os.environ.get(
    "VG_DATA_DIR", os.path.join(SOURCE_DIR, "..", "shared", "data")))
TARGET = os.environ.get("VG_TARGET", "standalone")


def _sanitizer_build():
    try:
        with open(os.path.join(BUILD_DIR, "CMakeCache.txt")) as f:
            return re.search(r"^VG_SANITIZE:BOOL=(ON|1|TRUE)", f.read(), re.M) is not None
    except OSError:
        return False


SANITIZED = _sanitizer_build()
# Wait limits (never expectations about speed) are multiplied by this.
SCALE = float(os.environ.get("VG_TIME_SCALE", "4" if SANITIZED else "1"))


def configure(bin_path=None, source_dir=None, data_dir=None, build_dir=None, target=None):
    """Override the environment (the runner's flags)."""
    global VG_BIN, SOURCE_DIR, DATA_DIR, BUILD_DIR, TARGET, SANITIZED, SCALE
    if source_dir:
        SOURCE_DIR = os.path.abspath(source_dir)
    if build_dir:
        BUILD_DIR = os.path.abspath(build_dir)
    if bin_path:
        VG_BIN = os.path.abspath(bin_path)
    if data_dir:
        DATA_DIR = os.path.abspath(data_dir)
    if target:
        TARGET = target
    SANITIZED = _sanitizer_build()
    if "VG_TIME_SCALE" not in os.environ:
        SCALE = 4.0 if SANITIZED else 1.0


# ---- known server bugs ---------------------------------------------------------
# Tests that fail because of a bug in the server are kept (failing tests are
# the point); they are tagged with the bug's id so the runner can say which
# failure is which. The list is filled by the test modules.
KNOWN_BUGS = {}


BUG_END_FLAG = ("B2", "END verdicts carry \"evicted_before\":true at random: vg_checker_end "
                "(src/model/check.c) never sets v->was_evicted, and process_record "
                "(src/pipeline/pipeline.c) passes an uninitialised struct vg_verdict, so "
                "vg_verdict_json prints stack garbage as the flag")


BUG_UWSGI_CLOSE = (
    "B4", "uWSGI deployment: answers are HTTP/1.1 without 'Connection: close', but uWSGI's "
    "http-socket closes the connection after every answer; keep-alive clients race the "
    "close: vigil replay stops with 'Recv failure: Connection reset by peer' after about "
    "1,000 requests, and pipelined requests after the first are dropped unanswered "
    "(deploy/uwsgi.ini: http11-socket keeps connections alive; or send Connection: close)",
    "uwsgi")
BUG_UWSGI_STALL = (
    "B5", "uWSGI deployment: a half-sent request holds one of the `threads` request threads "
    "until socket-timeout (10 s in deploy/uwsgi.ini): as many stalled clients as threads "
    "stop the service for everyone (the issue: 'a slow or half-sent request never blocks "
    "others')", "uwsgi")
BUG_UWSGI_413 = (
    "B6", "uWSGI deployment: a body announced (Content-Length) larger than max_body is read "
    "(up to 64 MiB) before the 413, so a client that sends the headers and waits for the "
    "verdict on them (docs/api.md's curl -H 'Content-Length: 9999999' example) gets no answer "
    "until socket-timeout; docs/api.md: 'refused before it is read when Content-Length says so'",
    "uwsgi")


def server_bug(bug_id, summary, target=None):
    """Tag a test with a known server bug (the test still runs and fails);
    with target, only when running against that target. A test may carry
    several tags."""
    KNOWN_BUGS.setdefault(bug_id, summary)

    def wrap(fn):
        fn.vg_bugs = getattr(fn, "vg_bugs", []) + [(bug_id, target)]
        return fn
    return wrap


def bugs_of(fn):
    """The bug ids a test is tagged with, for the current target."""
    return [b for b, t in getattr(fn, "vg_bugs", []) if t is None or t == TARGET]


# ---- notes ------------------------------------------------------------------------
# Facts a test wants in the output beside its ok/FAIL line (the runner prints
# and clears them after each test).
NOTES = []


def note(msg):
    NOTES.append(msg)


# ---- process bookkeeping -------------------------------------------------------
_PROCS = []
_PROCS_LOCK = threading.Lock()


def _register(p):
    with _PROCS_LOCK:
        _PROCS.append(p)


def _group_alive(pgid):
    """Whether a process of group pgid is still running (zombies excepted:
    they hold no files, so no data-directory lock either)."""
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def kill_group(p):
    """SIGKILL p's process group (every process gets its own) and reap it.
    Waits for the whole group, not only its leader: a uWSGI worker outlives
    its master by a moment and would still hold the data directory's lock."""
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    deadline = time.monotonic() + 10
    while _group_alive(p.pid) and time.monotonic() < deadline:
        time.sleep(0.02)


def kill_all():
    with _PROCS_LOCK:
        procs = list(_PROCS)
        _PROCS.clear()
    for p in procs:
        kill_group(p)


atexit.register(kill_all)


def popen(cmd, **kw):
    """subprocess.Popen in a new session (its own process group), registered."""
    kw.setdefault("start_new_session", True)
    kw.setdefault("stdin", subprocess.DEVNULL)
    p = subprocess.Popen(cmd, **kw)
    _register(p)
    return p


def run(cmd, timeout=60, check=False, **kw):
    """Run a command to completion (killed with its group after timeout)."""
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    p = popen(cmd, **kw)
    try:
        out, err = p.communicate(timeout=timeout * SCALE)
    except subprocess.TimeoutExpired:
        kill_group(p)
        raise AssertionError("timed out after %.0f s: %s" % (timeout * SCALE, " ".join(cmd)))
    res = subprocess.CompletedProcess(cmd, p.returncode, out, err)
    if check and p.returncode != 0:
        raise AssertionError("exit %d: %s\n%s" % (p.returncode, " ".join(map(str, cmd)),
                                                 (err or b"").decode(errors="replace")[-2000:]))
    return res


def vigil(*args, timeout=120, check=True):
    return run([VG_BIN] + [str(a) for a in args], timeout=timeout, check=check)


# ---- scratch space and shared fixtures --------------------------------------------
_SCRATCH = None


def scratch():
    global _SCRATCH
    if _SCRATCH is None:
        _SCRATCH = tempfile.mkdtemp(prefix="vigil-it-")
        atexit.register(lambda: shutil.rmtree(_SCRATCH, ignore_errors=True))
    return _SCRATCH


def tmpdir(name):
    """A fresh directory under the scratch space."""
    d = tempfile.mkdtemp(prefix=name + "-", dir=scratch())
    return d


def data_file(rel):
    """A shared event log, or skip the test when it is missing."""
    p = os.path.join(DATA_DIR, rel)
    if not os.path.exists(p):
        raise unittest.SkipTest("shared data %s not found in %s" % (rel, DATA_DIR))
    return p


_MODELS = {}
_MODELS_LOCK = threading.Lock()


def model(name):
    """A trained model file, made once per run:
    orders  examples/orders.csv, prefix 1,2 (the model of docs/api.md)
    sec     sec/dup-no-a.xes.gz, prefix 1,2,3,4 (the restart tests)
    """
    with _MODELS_LOCK:
        if name in _MODELS:
            return _MODELS[name]
        if name == "orders":
            src, extra = os.path.join(SOURCE_DIR, "examples", "orders.csv"), ["--prefix", "1,2"]
        elif name == "sec":
            src, extra = data_file("sec/dup-no-a.xes.gz"), []
        else:
            raise KeyError(name)
        out = os.path.join(scratch(), "model-%s.vgm" % name)
        vigil("train", "-q", src, "-o", out, *extra)
        _MODELS[name] = out
        return out


# ---- HTTP ----------------------------------------------------------------------------
class Resp:
    def __init__(self, status, reason, headers, body, elapsed=0.0):
        self.status = status
        self.reason = reason
        self.header_list = headers
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body
        self.elapsed = elapsed

    @property
    def text(self):
        return self.body.decode("utf-8")

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError as e:
            raise AssertionError("not JSON (%s): %r" % (e, self.body[:300]))

    def ndjson(self):
        return [json.loads(line) for line in self.body.decode().split("\n") if line.strip()]

    @property
    def content_type(self):
        return self.headers.get("content-type", "")

    def __repr__(self):
        return "<HTTP %d %s %r>" % (self.status, self.content_type, self.body[:300])


class Client:
    """One keep-alive connection (reopened when the server closed it)."""

    def __init__(self, server, timeout=30, token=None):
        self.server = server
        self.timeout = timeout * SCALE
        self.token = token
        self.conn = None
        self.used = False

    def _connect(self):
        if self.server.scheme == "https":
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            self.conn = http.client.HTTPSConnection(HOST, self.server.port,
                                                    timeout=self.timeout, context=ctx)
        else:
            self.conn = http.client.HTTPConnection(HOST, self.server.port, timeout=self.timeout)
        self.used = False

    def close(self):
        if self.conn:
            self.conn.close()
        self.conn = None

    def request(self, method, path, body=None, headers=None, json_body=None, ndjson=None,
                content_type=None, token=None):
        hdrs = {}
        if json_body is not None:
            body = json.dumps(json_body, ensure_ascii=False, separators=(",", ":")).encode()
            hdrs["Content-Type"] = "application/json"
        elif ndjson is not None:
            body = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in ndjson).encode()
            hdrs["Content-Type"] = "application/x-ndjson"
        if isinstance(body, str):
            body = body.encode()
        if content_type is not None:
            hdrs["Content-Type"] = content_type
        tok = token if token is not None else self.token
        if tok:
            hdrs["Authorization"] = "Bearer " + tok
        if method in ("POST", "PUT", "PATCH") and body is None:
            body = b""  # http.client then sends Content-Length: 0
        hdrs.update(headers or {})
        for attempt in (0, 1):
            if self.conn is None:
                self._connect()
            reused = self.used
            t0 = time.monotonic()
            try:
                self.conn.request(method, path, body=body, headers=hdrs)
                r = self.conn.getresponse()
                data = r.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError,
                    http.client.CannotSendRequest, http.client.BadStatusLine):
                self.close()
                if reused and attempt == 0:
                    continue  # a stale keep-alive connection: once more on a new one
                raise
            self.used = True
            resp = Resp(r.status, r.reason, r.getheaders(), data, time.monotonic() - t0)
            if r.will_close:
                self.close()
            return resp

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)

    def event(self, ev, **kw):
        """POST one event (or a list: a JSON array) as application/json."""
        return self.request("POST", "/v1/events", json_body=ev, **kw)


def raw_request(port, data, read_timeout=5.0, send_chunks=(), tls=False):
    """Send raw bytes on a new connection and read until the server closes it
    or read_timeout passes with nothing new; returns the bytes read."""
    s = socket.create_connection((HOST, port), timeout=10 * SCALE)
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s = ctx.wrap_socket(s)
    out = b""
    try:
        s.sendall(data)
        for c in send_chunks:
            try:
                s.sendall(c)
            except OSError:
                break  # the server answered early and closed
        s.settimeout(read_timeout * SCALE)
        while True:
            try:
                d = s.recv(65536)
            except socket.timeout:
                break
            except OSError:
                break
            if not d:
                break
            out += d
            if parse_raw_response(out) is not None:
                s.settimeout(0.2)  # complete: wait only briefly for more
    finally:
        s.close()
    return out


def parse_raw_response(data):
    """(status, headers dict, body) of the first complete HTTP response in
    data, or None when incomplete."""
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        return None
    lines = head.decode("latin-1").split("\r\n")
    m = re.match(r"HTTP/1\.[01] (\d{3})", lines[0])
    if not m:
        raise AssertionError("not an HTTP response: %r" % data[:200])
    hdrs = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    n = int(hdrs.get("content-length", "0"))
    if len(rest) < n:
        return None
    return int(m.group(1)), hdrs, rest[:n]


# ---- servers --------------------------------------------------------------------------
class ServerStartError(AssertionError):
    pass


_SERVERS = []
_SANITIZER_RE = re.compile(r"^(==\d+==ERROR: \w+Sanitizer|.*: runtime error: |==\d+==WARNING: \w+Sanitizer)",
                           re.M)
_reported = set()


def sanitizer_reports():
    """Sanitizer reports (ASan, LSan, UBSan) in the stderr of any server
    started so far that were not returned before: [(server name, excerpt)]."""
    out = []
    for s in _SERVERS:
        text = s.stderr()
        for m in _SANITIZER_RE.finditer(text):
            key = (s.err_path, m.start())
            if key in _reported:
                continue
            _reported.add(key)
            out.append((s.name, text[m.start():m.start() + 3000]))
    return out


_LISTEN_RE = re.compile(r"listening on (https?)://(\[[^\]]+\]|[^:\s]+):(\d+)")


class Server:
    """The standalone service: `vigil serve --listen 127.0.0.1:0 --data-dir DIR
    --KEY VALUE…`. `opts` are config keys (model, train, auth_token_file, …)."""

    kind = "standalone"

    def __init__(self, data_dir=None, name="srv", **opts):
        _SERVERS.append(self)
        self.name = name
        self.data_dir = data_dir or tmpdir("data-" + name)
        self.opts = opts
        self.proc = None
        self.scheme = "http"
        self.port = None
        self.err_path = os.path.join(scratch(), "%s-%d.err" % (name, id(self)))
        self._local = threading.local()

    # -- lifecycle
    def command(self):
        cmd = [VG_BIN, "serve", "--listen", "%s:0" % HOST, "--data-dir", self.data_dir]
        for k, v in self.opts.items():
            if v is None:
                continue
            cmd += ["--" + k.replace("_", "-"), str(v)]
        return cmd

    def start(self, timeout=60):
        """Start and wait for the "listening on" line; ServerStartError (with
        stderr) when the process exits first or the wait times out."""
        self._errf = open(self.err_path, "wb")
        self.proc = popen(self.command(), stdout=self._errf, stderr=self._errf,
                          cwd=scratch(), env=self.env())
        self._errf.close()
        deadline = time.monotonic() + timeout * SCALE
        while time.monotonic() < deadline:
            m = _LISTEN_RE.search(self.stderr())
            if m:
                self.scheme, self.port = m.group(1), int(m.group(3))
                return self
            if self.proc.poll() is not None:
                raise ServerStartError("%s exited %s before listening:\n%s"
                                       % (self.name, self.proc.returncode, self.stderr()))
            time.sleep(0.02)
        self.kill()
        raise ServerStartError("%s did not listen within %.0f s:\n%s"
                               % (self.name, timeout * SCALE, self.stderr()))

    def env(self):
        return None

    def stderr(self):
        try:
            with open(self.err_path, "rb") as f:
                return f.read().decode("utf-8", errors="replace")
        except OSError:
            return ""

    @property
    def url(self):
        return "%s://%s:%d" % (self.scheme, HOST, self.port)

    def assert_refused(self, tc):
        """The start was refused: exit status 2 (vigil serve), or any failure
        status of the uWSGI instance."""
        rc = self.proc.returncode
        if self.kind == "standalone":
            tc.assertEqual(rc, 2, self.stderr())
        else:
            tc.assertTrue(rc is not None and rc > 0, "uwsgi exit status %r" % rc)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=20):
        """A clean stop (SIGINT); returns the exit status (None if it had to be killed)."""
        self._close_clients()
        if not self.alive():
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=timeout * SCALE)
        except subprocess.TimeoutExpired:
            kill_group(self.proc)
            return None

    def kill(self):
        """kill -9, the whole process group."""
        self._close_clients()
        if self.proc:
            kill_group(self.proc)

    def _close_clients(self):
        c = getattr(self._local, "client", None)
        if c:
            c.close()
            self._local.client = None

    # -- HTTP
    def client(self, **kw):
        return Client(self, **kw)

    def _client(self):
        c = getattr(self._local, "client", None)
        if c is None:
            c = self._local.client = Client(self, token=self.opts.get("_token"))
        return c

    def request(self, method, path, **kw):
        return self._client().request(method, path, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)

    def event(self, ev, **kw):
        return self._client().event(ev, **kw)

    def stats(self):
        r = self.get("/v1/stats")
        if r.status != 200:
            raise AssertionError("GET /v1/stats: %r" % r)
        return r.json()

    def raw(self, data, **kw):
        return raw_request(self.port, data, tls=self.scheme == "https", **kw)

    # -- data directory
    def segments(self):
        d = os.path.join(self.data_dir, "log")
        return sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".vlog"))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.alive():
            self.stop()
        if self.proc:
            kill_group(self.proc)


class UwsgiServer(Server):
    """The uWSGI deployment, started as docs/deploy.md says for a checkout:
    deploy/run-uwsgi.sh 127.0.0.1:PORT CONFIG DATA_DIR [-- UWSGI_OPTION…]
    (uwsgi-core with deploy/uwsgi.ini and $VG_BUILD_DIR/libvigil_uwsgi.so).
    `opts` become the vigil.conf; the options that belong to uWSGI there
    (listen, threads, connection_timeout, tls_*, max_connections) become its
    settings or are left out."""

    kind = "uwsgi"
    UWSGI_OWNED = ("listen", "threads", "connection_timeout", "tls_cert", "tls_key",
                   "max_connections")

    def command(self):
        conf = os.path.join(scratch(), "%s-%d.conf" % (self.name, id(self)))
        with open(conf, "w") as f:
            for k, v in self.opts.items():
                if v is None or k.startswith("_") or k in self.UWSGI_OWNED:
                    continue
                f.write("%s = %s\n" % (k, v))
        self.conf = conf
        cmd = [os.path.join(SOURCE_DIR, "deploy", "run-uwsgi.sh"), "%s:%d" % (HOST, self.port),
               conf, self.data_dir]
        extra = []
        ct = self.opts.get("connection_timeout")
        if ct:
            m = re.match(r"^(\d+)(ms|s)$", str(ct))
            secs = max(1, -(-int(m.group(1)) // 1000)) if m.group(2) == "ms" else int(m.group(1))
            extra += ["--socket-timeout", str(secs)]
        return cmd + (["--"] + extra if extra else [])

    def env(self):
        e = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
        e["VG_BUILD_DIR"] = BUILD_DIR
        if self.opts.get("threads"):
            e["VIGIL_UWSGI_THREADS"] = str(self.opts["threads"])
        if SANITIZED:
            # uwsgi-core is not built with ASan: its runtime must come first.
            # Reports from uWSGI's own code are suppressed and leak checking
            # is off (uWSGI does not free its configuration), as in
            # tests/cli/uwsgi.sh.
            supp = os.path.join(scratch(), "uwsgi-asan.supp")
            with open(supp, "w") as f:
                f.write("interceptor_via_lib:uwsgi-core\n")
            e["LD_PRELOAD"] = asan_runtime()
            e["ASAN_OPTIONS"] = "detect_leaks=0:abort_on_error=0:suppressions=" + supp
        return e

    def start(self, timeout=60):
        for attempt in range(3):
            self.port = free_port()
            self._errf = open(self.err_path, "wb")
            self.proc = popen(self.command(), stdout=self._errf, stderr=self._errf,
                              cwd=scratch(), env=self.env())
            self._errf.close()
            deadline = time.monotonic() + timeout * SCALE
            while time.monotonic() < deadline:
                log = self.stderr()
                if self.proc.poll() is not None:
                    if "Address already in use" in log and attempt < 2:
                        break  # the free port was taken meanwhile: another one
                    raise ServerStartError("%s (uwsgi) exited %s before serving:\n%s"
                                           % (self.name, self.proc.returncode, log[-4000:]))
                if "vigil failed to start" in log:
                    # need-app: the instance stops by itself; give it the time
                    try:
                        self.proc.wait(timeout=20 * SCALE)
                    except subprocess.TimeoutExpired:
                        self.kill()
                    raise ServerStartError("%s (uwsgi) exited %s: %s"
                                           % (self.name, self.proc.returncode, log[-4000:]))
                if "vigil: serving from pid" in log:
                    try:
                        if self.client(timeout=2).get("/healthz").status == 200:
                            return self
                    except OSError:
                        pass
                time.sleep(0.02)
            else:
                self.kill()
                raise ServerStartError("%s (uwsgi) did not serve within %.0f s:\n%s"
                                       % (self.name, timeout * SCALE, self.stderr()[-4000:]))
        raise ServerStartError("%s (uwsgi): no free port" % self.name)


def free_port():
    s = socket.socket()
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def asan_runtime():
    """libasan.so of the compiler that built BUILD_DIR, or None."""
    cc = "cc"
    try:
        with open(os.path.join(BUILD_DIR, "CMakeCache.txt")) as f:
            m = re.search(r"^CMAKE_C_COMPILER:\w+=(.+)$", f.read(), re.M)
            cc = m.group(1).strip() if m else cc
    except OSError:
        pass
    try:
        p = subprocess.run([cc, "-print-file-name=libasan.so"], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    path = p.stdout.decode().strip()
    return path if path and os.path.isabs(path) and os.path.exists(path) else None


def uwsgi_available():
    """None when the uWSGI deployment can run, else why not."""
    if SANITIZED and not asan_runtime():
        return "a sanitizer build, but libasan.so (to preload into uwsgi-core) is not found"
    so = os.path.join(BUILD_DIR, "libvigil_uwsgi.so")
    if not os.path.exists(so):
        return "%s not built" % so
    if not shutil.which("uwsgi-core"):
        return "uwsgi-core is not installed"
    if not os.path.exists(os.path.join(SOURCE_DIR, "deploy", "run-uwsgi.sh")):
        return "deploy/run-uwsgi.sh is missing"
    return None


def new_server(name="srv", target=None, **opts):
    """A server of the selected target (not started)."""
    t = target or TARGET
    if t == "uwsgi":
        return UwsgiServer(name=name, **opts)
    return Server(name=name, **opts)


def start_server(name="srv", **opts):
    return new_server(name=name, **opts).start()


def standalone_only(reason):
    """Skip under the uWSGI target (the feature belongs to vigil serve)."""
    def wrap(fn):
        def inner(*a, **kw):
            if TARGET != "standalone":
                raise unittest.SkipTest("standalone only: " + reason)
            return fn(*a, **kw)
        inner.__name__ = fn.__name__
        inner.__doc__ = fn.__doc__
        if hasattr(fn, "vg_bugs"):
            inner.vg_bugs = fn.vg_bugs
        return inner
    return wrap


def wait_until(pred, timeout=10, step=0.02, what="condition"):
    deadline = time.monotonic() + timeout * SCALE
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1f s waiting for %s" % (timeout * SCALE, what))
        time.sleep(step)


# ---- formats ----------------------------------------------------------------------------
PNG_SIG = b"\x89PNG\r\n\x1a\n"


def decode_png(data):
    """Check a PNG fully: signature, chunk CRCs, IHDR first and IEND last, and
    that the IDAT stream inflates to exactly the scanlines IHDR announces
    (with valid filter bytes). Returns (width, height)."""
    if data[:8] != PNG_SIG:
        raise AssertionError("no PNG signature: %r" % data[:16])
    pos, chunks = 8, []
    while pos < len(data):
        if pos + 8 > len(data):
            raise AssertionError("truncated chunk header at byte %d" % pos)
        n, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if len(body) != n or pos + 12 + n > len(data):
            raise AssertionError("truncated %r chunk at byte %d" % (ctype, pos))
        crc, = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        if zlib.crc32(ctype + body) & 0xffffffff != crc:
            raise AssertionError("bad CRC in %r chunk at byte %d" % (ctype, pos))
        chunks.append((ctype, body))
        pos += 12 + n
        if ctype == b"IEND":
            break
    if pos != len(data):
        raise AssertionError("%d bytes after IEND" % (len(data) - pos))
    if not chunks or chunks[0][0] != b"IHDR" or len(chunks[0][1]) != 13:
        raise AssertionError("the first chunk is not a 13-byte IHDR")
    if chunks[-1][0] != b"IEND":
        raise AssertionError("no IEND chunk")
    w, h, depth, color, comp, filt, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    if w <= 0 or h <= 0:
        raise AssertionError("IHDR size %dx%d" % (w, h))
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(color)
    if channels is None or comp != 0 or filt != 0 or interlace not in (0, 1):
        raise AssertionError("bad IHDR fields %r" % (chunks[0][1],))
    if color == 3 and not any(c == b"PLTE" for c, _ in chunks):
        raise AssertionError("palette image without PLTE")
    raw = zlib.decompress(b"".join(b for c, b in chunks if c == b"IDAT"))
    bpp_bits = depth * channels

    def scan_bytes(width):
        return (width * bpp_bits + 7) // 8

    if interlace == 0:
        passes = [(w, h)]
    else:  # Adam7
        passes = []
        for x0, y0, dx, dy in ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4),
                               (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)):
            pw, ph = (w - x0 + dx - 1) // dx, (h - y0 + dy - 1) // dy
            if pw and ph:
                passes.append((pw, ph))
    want = sum(ph * (1 + scan_bytes(pw)) for pw, ph in passes)
    if len(raw) != want:
        raise AssertionError("IDAT inflates to %d bytes, IHDR %dx%d needs %d" % (len(raw), w, h, want))
    off = 0
    for pw, ph in passes:
        for _ in range(ph):
            if raw[off] > 4:
                raise AssertionError("bad filter type %d" % raw[off])
            off += 1 + scan_bytes(pw)
    return w, h


_METRIC_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
_VALUE = r"(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[+-]?Inf|NaN)"
SAMPLE_RE = re.compile(r"^(%s)(?:\{((?:%s)(?:,%s)*,?)?\})? (%s)(?: -?\d+)?$"
                       % (_METRIC_NAME, _LABEL, _LABEL, _VALUE))
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')


def parse_prometheus(text):
    """Parse the Prometheus text format 0.0.4 strictly. Returns
    {"types": {family: type}, "help": {family: text},
     "samples": [(name, {labels}, float)]}; AssertionError on any line that
    does not follow the grammar."""
    types, helps, samples = {}, {}, []
    seen_sample_family = set()
    if not text.endswith("\n"):
        raise AssertionError("the exposition does not end with a newline")
    for n, line in enumerate(text.split("\n")[:-1], 1):
        if line == "":
            continue
        if line.startswith("#"):
            m = re.match(r"^# (HELP|TYPE) (%s) (.*)$" % _METRIC_NAME, line)
            if not m:
                if re.match(r"^#\s*(HELP|TYPE)\b", line):
                    raise AssertionError("line %d: malformed %r" % (n, line))
                continue  # a plain comment
            kind, fam, rest = m.groups()
            if kind == "TYPE":
                if rest not in ("counter", "gauge", "histogram", "summary", "untyped"):
                    raise AssertionError("line %d: unknown type %r" % (n, rest))
                if fam in types:
                    raise AssertionError("line %d: second TYPE for %s" % (n, fam))
                if fam in seen_sample_family:
                    raise AssertionError("line %d: TYPE for %s after its samples" % (n, fam))
                types[fam] = rest
            else:
                if fam in helps:
                    raise AssertionError("line %d: second HELP for %s" % (n, fam))
                helps[fam] = rest
            continue
        m = SAMPLE_RE.match(line)
        if not m:
            raise AssertionError("line %d is not a sample: %r" % (n, line))
        name, labels_text, value = m.group(1), m.group(2) or "", m.group(3)
        labels = dict(LABEL_RE.findall(labels_text))
        seen_sample_family.add(family_of(name, types))
        samples.append((name, labels, float(value)))
    return {"types": types, "help": helps, "samples": samples}


def family_of(name, types):
    for suf in ("_bucket", "_sum", "_count"):
        if name.endswith(suf) and types.get(name[:-len(suf)]) in ("histogram", "summary"):
            return name[:-len(suf)]
    return name


def sample(metrics, name, **labels):
    """The value of the one sample with this name and these labels (exactly)."""
    got = [v for n, l, v in metrics["samples"] if n == name and l == labels]
    if len(got) != 1:
        raise AssertionError("%d samples %s%r" % (len(got), name, labels))
    return got[0]


# ---- the event log on disk ------------------------------------------------------------------
LOG_HDR = 32


def log_records(path):
    """[(offset, length of the whole framed record)] of a segment file
    (u32 len | u32 crc | len bytes), little-endian, after the 32-byte header."""
    with open(path, "rb") as f:
        data = f.read()
    out, pos = [], LOG_HDR
    while pos + 8 <= len(data):
        n, = struct.unpack("<I", data[pos:pos + 4])
        if pos + 8 + n > len(data):
            break
        out.append((pos, 8 + n))
        pos += 8 + n
    return out


def log_dump(data_dir):
    """The records of a data directory's log (vigil log dump), as dicts."""
    r = vigil("log", "dump", data_dir)
    return [json.loads(l) for l in r.stdout.decode().splitlines() if l.strip()]
