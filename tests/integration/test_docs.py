"""docs/api.md's examples, sent for real.

The convention this test reads (what docs/api.md uses):
  * examples are `curl` command lines in ```sh blocks, against
    localhost:8080, on a server started as the document says
    (`vigil serve --train examples/orders.csv --prefix 1,2`), in document order;
  * the expected answer of the last command of a ```sh block is the ```json
    (or plain ```) block right after it, status 200 unless the paragraph after
    it says "(status NNN…";
  * a comment line under a command, or at the end of its line, may give the
    answer instead: `# NNN {json}` or `# {json}`;
  * a command whose comment mentions auth_token_file, or that reads the
    token with $(cat FILE), goes to a second server that has a token (the
    token replaces the $(…)); other shell substitutions are counted as
    skipped, not passed.
The answers are compared as JSON, ignoring only members that depend on the
clock (last_seen, uptime_seconds, rates). Also: the documented /v1/stats
members and /metrics names and types are what the server has.
"""
import json
import os
import re
import shlex
import unittest

import harness as H
from harness import server_bug

VOLATILE = {"last_seen", "uptime_seconds", "rates", "arrival"}


def api_md():
    p = os.path.join(H.SOURCE_DIR, "docs", "api.md")
    if not os.path.exists(p):
        raise unittest.SkipTest("docs/api.md does not exist yet")
    with open(p, encoding="utf-8") as f:
        return f.read()


def blocks(md):
    """[(lang, text, text_after)] of the fenced blocks, in order; text_after
    is the prose up to the next block."""
    out = []
    pat = re.compile(r"^```([\w-]*)[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)
    ms = list(pat.finditer(md))
    for i, m in enumerate(ms):
        end = ms[i + 1].start() if i + 1 < len(ms) else len(md)
        out.append((m.group(1), m.group(2), md[m.end():end]))
    return out


def split_comment(line):
    """(code, comment) of a shell line: the first # after a blank, outside quotes."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i].rstrip(), line[i + 1:].strip()
    return line.rstrip(), None


def commands(sh):
    """[(command text, [comments])] of a ```sh block: continuation lines
    (trailing \\ or |) joined; comment lines attach to the command above."""
    cmds, cur = [], ""
    for line in sh.split("\n"):
        if not cur and line.strip().startswith("#"):
            if cmds:
                cmds[-1][1].append(line.strip()[1:].strip())
            continue
        code, comment = split_comment(line)
        if code.endswith("\\"):
            cur += code[:-1] + " "
            continue
        if code.endswith("|"):
            cur += code + " "
            continue
        cur += code
        if cur.strip():
            cmds.append([cur.strip(), [comment] if comment else []])
        cur = ""
    return cmds


def expected_from_comment(comments):
    """(status or None, JSON) from '# 400 {…}' or '# {…}', else None."""
    for c in comments:
        m = re.match(r"^(\d{3})?\s*(\{.*)$", c)
        if m:
            obj, _ = json.JSONDecoder().raw_decode(m.group(2))
            return (int(m.group(1)) if m.group(1) else None), obj
    return None


def printf(args):
    fmt, rest = args[0], args[1:]
    fmt = fmt.replace("\\n", "\n").replace("\\t", "\t")
    n = fmt.count("%s")
    if n == 0:
        return fmt
    out = ""
    rest = rest or [""]
    for i in range(0, len(rest), n):
        chunk = rest[i:i + n] + [""] * (n - len(rest[i:i + n]))
        out += fmt.replace("%%", "\0") % tuple(chunk)
    return out.replace("\0", "%")


class Curl:
    """What curl would send for the documented command (the options the docs use)."""

    def __init__(self, cmd):
        self.skip = None
        if "$(" in cmd or "`" in cmd:
            self.skip = "uses shell substitution"
            return
        stdin = None
        parts = [p.strip() for p in cmd.split("|")] if "|" in cmd else [cmd]
        if len(parts) == 2:
            pre = shlex.split(parts[0])
            if pre[0] != "printf":
                self.skip = "pipes from %s" % pre[0]
                return
            stdin = printf(pre[1:]).encode()
        argv = shlex.split(parts[-1])
        if argv[0] != "curl":
            self.skip = "not curl"
            return
        self.method, self.headers, self.body, self.output, self.url = None, [], None, None, None
        self.form = False
        i = 1
        while i < len(argv):
            a = argv[i]
            if a in ("-s", "-S", "-k", "-i", "-v", "--silent", "--insecure"):
                pass
            elif a in ("-H", "--header"):
                i += 1
                self.headers.append(argv[i])
            elif a in ("-d", "--data", "--data-binary", "--data-raw"):
                i += 1
                v = argv[i]
                if v == "@-":
                    data = stdin or b""
                    if a == "-d" or a == "--data":
                        data = data.replace(b"\r", b"").replace(b"\n", b"")
                elif v.startswith("@") and a != "--data-raw":
                    self.skip = "reads a file"
                    return
                else:
                    data = v.encode()
                self.body = (self.body + b"&" if self.body else b"") + data
                self.form = True
            elif a in ("-X", "--request"):
                i += 1
                self.method = argv[i]
            elif a in ("-o", "--output"):
                i += 1
                self.output = argv[i]
            elif a.startswith("-"):
                self.skip = "curl option %s not emulated" % a
                return
            else:
                self.url = a
            i += 1
        if self.method is None:
            self.method = "POST" if self.body is not None else "GET"

    def request_bytes(self, port):
        u = re.sub(r"^https?://", "", self.url)
        host, _, path = u.partition("/")
        path = "/" + path
        if host != "localhost:8080":
            raise AssertionError("example URL not on localhost:8080: %s" % self.url)
        hdrs = [("Host", "%s:%d" % (H.HOST, port)), ("User-Agent", "curl/7.88.1"), ("Accept", "*/*")]
        given = {h.split(":", 1)[0].strip().lower(): h for h in self.headers}
        for h in self.headers:
            k, _, v = h.partition(":")
            hdrs.append((k.strip(), v.strip()))
        if self.body is not None:
            if "content-type" not in given:
                hdrs.append(("Content-Type", "application/x-www-form-urlencoded"))
            if "content-length" not in given:
                hdrs.append(("Content-Length", str(len(self.body))))
        hdrs.append(("Connection", "close"))
        head = "%s %s HTTP/1.1\r\n" % (self.method, path) + "".join("%s: %s\r\n" % kv for kv in hdrs)
        return head.encode() + b"\r\n" + (self.body or b"")


def strip_volatile(x):
    if isinstance(x, dict):
        return {k: strip_volatile(v) for k, v in x.items() if k not in VOLATILE}
    if isinstance(x, list):
        return [strip_volatile(v) for v in x]
    return x


def key_tree(x):
    if isinstance(x, dict):
        return {k: key_tree(v) for k, v in x.items()}
    return type(x).__name__ if not isinstance(x, (int, float)) or isinstance(x, bool) else "number"


class DocsExamples(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.md = api_md()
        cls.srv = H.new_server(name="docs", train=os.path.join(H.SOURCE_DIR, "examples", "orders.csv"),
                               prefix="1,2")
        cls.addClassCleanup(cls.srv.kill)
        cls.srv.start()
        cls.token = "docs-token-123"
        tf = os.path.join(H.tmpdir("docs-token"), "token")
        with open(tf, "w") as f:
            f.write(cls.token + "\n")
        os.chmod(tf, 0o600)
        cls.auth = H.new_server(name="docs-auth", model=H.model("orders"), auth_token_file=tf)
        cls.addClassCleanup(cls.auth.kill)
        cls.auth.start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.auth.stop()

    def examples(self):
        """[(curl, expected status or None, expected JSON or text or None, where)]"""
        out = []
        bl = blocks(self.md)
        for i, (lang, text, after) in enumerate(bl):
            if lang not in ("sh", "bash", "shell", "console"):
                continue
            cmds = [c for c in commands(text) if "curl " in c[0] or c[0].startswith("curl")]
            for j, (cmd, comments) in enumerate(cmds):
                status, body = None, None
                exp = expected_from_comment(comments)
                if exp:
                    status, body = exp
                elif j == len(cmds) - 1 and i + 1 < len(bl) and bl[i + 1][0] in ("json", "") \
                        and not after.strip():
                    body = bl[i + 1][1]
                    m = re.match(r"\s*\(status (\d{3})", bl[i + 1][2])
                    status = int(m.group(1)) if m else 200
                need_token = any("auth_token_file" in c for c in comments)
                out.append((cmd, status, body, need_token))
        return out

    @server_bug(*H.BUG_END_FLAG)
    @server_bug(*H.BUG_UWSGI_413)
    def test_every_curl_example(self):
        ex = self.examples()
        self.assertGreaterEqual(len(ex), 10, "fewer curl examples than expected in docs/api.md")
        sent = skipped = 0
        for cmd, status, body, need_token in ex:
            with self.subTest(example=cmd[:120]):
                srv = self.srv
                m = re.search(r"\$\(cat [^)]*\)", cmd)
                if m:
                    cmd = cmd.replace(m.group(0), self.token)
                    srv = self.auth
                if need_token:
                    srv = self.auth
                c = Curl(cmd)
                if c.skip:
                    skipped += 1
                    continue
                sent += 1
                out = srv.raw(c.request_bytes(srv.port), read_timeout=2)
                resp = H.parse_raw_response(out)
                self.assertIsNotNone(resp, "no answer: %r" % out[:200])
                st, hdrs, got = resp
                if status is not None:
                    self.assertEqual(st, status, got[:300])
                elif body is None:
                    self.assertLess(st, 400, got[:300])
                if c.output:
                    if c.output.endswith(".png"):
                        H.decode_png(got)
                    continue
                if body is None:
                    continue
                if isinstance(body, str):
                    want_docs = [json.loads(l) for l in body.splitlines() if l.strip()]
                    got_docs = [json.loads(l) for l in got.decode().splitlines() if l.strip()]
                    if len(want_docs) == 1 and len(got_docs) == 1:
                        want_docs, got_docs = want_docs[0], got_docs[0]
                else:
                    want_docs, got_docs = body, json.loads(got)
                if strip_volatile(got_docs) != strip_volatile(want_docs):
                    self.fail("the answer differs from docs/api.md:\n  got  %s\n  docs %s"
                              % (json.dumps(got_docs, ensure_ascii=False),
                                 json.dumps(want_docs, ensure_ascii=False)))
        H.note("docs/api.md: %d curl examples sent, %d skipped (need a token or a shell)"
               % (sent, skipped))
        self.assertGreater(sent, 0)

    def test_stats_members_as_documented(self):
        m = re.search(r"### `GET /v1/stats`\s*```json\n(.*?)```", self.md, re.S)
        self.assertIsNotNone(m, "no ```json example under GET /v1/stats")
        doc = json.loads(m.group(1))
        got = self.srv.stats()
        self.assertEqual(key_tree(got), key_tree(doc))

    def test_metrics_as_documented(self):
        sec = self.md.split("### `GET /metrics`", 1)
        self.assertEqual(len(sec), 2, "no GET /metrics section")
        rows = re.findall(r"^\|\s*(`vigil_[^|]*)\|\s*(\w+)\s*\|", sec[1], re.M)
        self.assertTrue(rows)
        r = self.srv.get("/metrics")
        m = H.parse_prometheus(r.text)
        documented = set()
        for names, typ in rows:
            for name in re.findall(r"`(vigil_\w+)`", names):
                documented.add(name)
                with self.subTest(metric=name):
                    self.assertEqual(m["types"].get(name), typ, "documented as %s" % typ)
        undocumented = set(m["types"]) - documented
        self.assertFalse(undocumented, "metrics the docs do not list")


if __name__ == "__main__":
    unittest.main()
