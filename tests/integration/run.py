#!/usr/bin/env python3
"""Run the HTTP integration tests against the real service.

    python3 tests/integration/run.py [--target standalone|uwsgi] [--bin VIGIL]
        [--build-dir DIR] [--source-dir DIR] [--data-dir DIR] [-k PATTERN]...
        [--list] [MODULE...]

MODULE is test_api, test_recovery … (default: every tests/integration/test_*.py).
-k keeps the tests whose id contains PATTERN. One line per test, failure
details at the end, and a closing line "N passed, N failed" (", N skipped"
when some were skipped); exit status 0 when nothing failed, 1 otherwise.
Every process started is killed at the end, also when the run is interrupted.
"""
import argparse
import glob
import importlib
import os
import signal
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402


class Result(unittest.TestResult):
    """Prints one line per test; a test with a failing subtest counts once as failed."""

    def __init__(self, stream):
        super().__init__()
        self.stream = stream
        self.passed, self.failed_tests, self.skipped_tests = [], [], []
        self.details = []
        self._bad = False
        self.current = None
        self.t0 = 0

    def _say(self, s):
        self.stream.write(s + "\n")
        self.stream.flush()

    def startTest(self, test):
        super().startTest(test)
        self.current = test.id()
        self._bad = False
        self.t0 = time.monotonic()

    def _bug(self, test):
        name = getattr(test, "_testMethodName", None)
        b = harness.bugs_of(getattr(test, name, None)) if name else []
        return " [known server bug %s]" % ", ".join(b) if b else ""

    def _record(self, test, kind, err):
        self._bad = True
        text = self._exc_info_to_string(err, test)
        self.details.append((test.id() + self._bug(test), kind, text))
        if not isinstance(test, unittest.TestCase):
            # setUpClass / tearDownClass / module fixtures: no start/stopTest
            self.failed_tests.append(test.id())
            self._say("FAIL  %s" % test.id())

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._record(test, "FAIL", err)

    def addError(self, test, err):
        super().addError(test, err)
        self._record(test, "ERROR", err)

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            kind = "FAIL" if issubclass(err[0], test.failureException) else "ERROR"
            self._bad = True
            self.details.append((subtest.id() + self._bug(test), kind,
                                 self._exc_info_to_string(err, test)))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self.skipped_tests.append(test.id())
        self._say("skip  %s: %s" % (test.id(), reason))

    def stopTest(self, test):
        for name, text in harness.sanitizer_reports():
            self._bad = True
            self.details.append((test.id(), "SANITIZER", "in the stderr of server %s:\n%s" % (name, text)))
        super().stopTest(test)
        dt = time.monotonic() - self.t0
        if test.id() in self.skipped_tests:
            return
        if self._bad:
            self.failed_tests.append(test.id())
            self._say("FAIL  %s (%.2f s)%s" % (test.id(), dt, self._bug(test)))
        else:
            self.passed.append(test.id())
            self._say("ok    %s (%.2f s)" % (test.id(), dt))
        for n in harness.NOTES:
            self._say("      note: %s" % n)
        del harness.NOTES[:]


def collect(names, patterns):
    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    for name in names:
        mod = importlib.import_module(name)
        suite.addTests(loader.loadTestsFromModule(mod))

    def flat(s):
        for t in s:
            if isinstance(t, unittest.TestSuite):
                yield from flat(t)
            else:
                yield t
    tests = [t for t in flat(suite)
             if not patterns or any(p in t.id() for p in patterns)]
    return tests


def by_class(tests):
    """Group consecutive tests by class again so setUpClass runs once."""
    suite = unittest.TestSuite()
    for t in tests:
        suite.addTest(t)
    return suite


def watchdog(limit, result):
    def fire():
        sys.stdout.write("\nwatchdog: the run took more than %.0f s (in %s); killing everything\n"
                         % (limit, result.current))
        sys.stdout.write("%d passed, %d failed\n" % (len(result.passed),
                                                    len(result.failed_tests) + 1))
        sys.stdout.flush()
        harness.kill_all()
        os._exit(1)
    t = threading.Timer(limit, fire)
    t.daemon = True
    t.start()
    return t


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--target", choices=("standalone", "uwsgi"))
    ap.add_argument("--bin")
    ap.add_argument("--build-dir")
    ap.add_argument("--source-dir")
    ap.add_argument("--data-dir")
    ap.add_argument("-k", action="append", default=[], dest="patterns")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--time-limit", type=float, default=0,
                    help="kill everything after this many seconds (default 600, x4 sanitized)")
    ap.add_argument("modules", nargs="*")
    a = ap.parse_args()
    harness.configure(bin_path=a.bin, source_dir=a.source_dir, data_dir=a.data_dir,
                      build_dir=a.build_dir, target=a.target)
    names = a.modules or sorted(os.path.basename(p)[:-3]
                                for p in glob.glob(os.path.join(HERE, "test_*.py")))
    tests = collect(names, a.patterns)
    if a.list:
        for t in tests:
            print(t.id())
        return 0
    if not os.access(harness.VG_BIN, os.X_OK):
        print("vigil binary not found: %s" % harness.VG_BIN, file=sys.stderr)
        print("0 passed, 1 failed")
        return 1

    def on_signal(sig, frame):
        harness.kill_all()
        sys.stdout.write("\ninterrupted\n")
        os._exit(130)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    if harness.TARGET == "uwsgi" and harness.uwsgi_available():
        print("SKIP: the uWSGI deployment cannot run: %s" % harness.uwsgi_available())
        print("0 passed, 0 failed, 1 skipped")
        return 77
    print("target %s, %s%s, %d tests" % (harness.TARGET, harness.VG_BIN,
                                         " (sanitized: waits x%g)" % harness.SCALE
                                         if harness.SANITIZED else "", len(tests)))
    sys.stdout.flush()
    result = Result(sys.stdout)
    limit = a.time_limit or 600 * harness.SCALE
    dog = watchdog(limit, result)
    t0 = time.monotonic()
    try:
        by_class(tests).run(result)
    finally:
        dog.cancel()
        harness.kill_all()
    for name, text in harness.sanitizer_reports():  # from class teardowns
        result.failed_tests.append("sanitizer report (%s)" % name)
        result.details.append(("server " + name, "SANITIZER", text))
    for tid, kind, text in result.details:
        print("\n==== %s: %s\n%s" % (kind, tid, text.rstrip()))
    bugs = {}
    for tid in result.failed_tests:
        parts = tid.rsplit(".", 2)
        if len(parts) != 3 or parts[0] not in sys.modules:
            continue
        fn = getattr(getattr(sys.modules[parts[0]], parts[1], None), parts[2], None)
        for b in harness.bugs_of(fn):
            bugs.setdefault(b, []).append(tid)
    if bugs:
        print("\nfailures caused by known server bugs:")
        for b, tids in sorted(bugs.items()):
            print("  %s: %s" % (b, harness.KNOWN_BUGS.get(b, "")))
            for tid in tids:
                print("      %s" % tid)
    print("\n%.1f s" % (time.monotonic() - t0))
    line = "%d passed, %d failed" % (len(result.passed), len(result.failed_tests))
    if result.skipped_tests:
        line += ", %d skipped" % len(result.skipped_tests)
    print(line)
    return 1 if result.failed_tests else 0


if __name__ == "__main__":
    sys.exit(main())
