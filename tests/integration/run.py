#!/usr/bin/python3
"""Run the labbridge integration tests (tests/integration/test_*.py) against a daemon build.

    /usr/bin/python3 tests/integration/run.py --bridge build/asan/labbridge \
        --labctl build/asan/labctl --watch build/asan/watch [-k PATTERN] [-q] [--failfast]

Every test starts its own daemon on private endpoints and stops it with SIGTERM; the daemon must
exit with status 0 and print no sanitizer report. On a failure the daemon's output is printed.
Exit status: 0 when every test passed, 1 otherwise, 2 on bad usage.
"""
import argparse
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


class Result(unittest.TextTestResult):
    """Adds per-test times and prints the daemons' output of a failed test."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.times = []
        self._t0 = 0.0
        self._failed_now = False

    def startTest(self, test):
        self._t0 = time.monotonic()
        self._failed_now = False
        super().startTest(test)

    def _write_status(self, test, status):
        # "ok (1.2 s)": the time of the test body (its tearDown stops the daemon afterwards)
        super()._write_status(test, "%s (%.1f s)" % (status, time.monotonic() - self._t0))

    def addFailure(self, test, err):
        self._failed_now = True
        super().addFailure(test, err)

    def addError(self, test, err):
        self._failed_now = True
        super().addError(test, err)

    def addSubTest(self, test, subtest, err):
        if err is not None:
            self._failed_now = True
        super().addSubTest(test, subtest, err)

    def stopTest(self, test):
        dt = time.monotonic() - self._t0
        self.times.append((dt, test.id()))
        if self._failed_now:
            logs = getattr(test, "daemon_logs", None) or []
            self.stream.writeln("")
            self.stream.writeln("=" * 70)
            self.stream.writeln("FAILED %s (%.1f s): daemon output" % (test.id(), dt))
            for name, text in logs:
                self.stream.writeln("----- %s" % name)
                self.stream.writeln(text.rstrip()[-20000:])
            if not logs:
                self.stream.writeln("(no daemon was started or its output was not kept)")
            self.stream.writeln("=" * 70)
        super().stopTest(test)


def filter_suite(suite, patterns):
    """Keep the tests whose id contains one of the patterns."""
    out = unittest.TestSuite()
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            sub = filter_suite(t, patterns)
            if sub.countTestCases():
                out.addTest(sub)
        elif any(p in t.id() for p in patterns):
            out.addTest(t)
    return out


def main():
    ap = argparse.ArgumentParser(description="labbridge integration tests")
    ap.add_argument("--bridge", default="build/asan/labbridge", help="the daemon under test")
    ap.add_argument("--labctl", default="build/asan/labctl", help="the command-line client")
    ap.add_argument("--watch", default="build/asan/watch", help="the C example (examples/c/watch.c)")
    ap.add_argument("--marlin-emu", default="build/asan/marlin-emu",
                    help="the standalone Marlin emulator (tests/emulators/marlin_emu.c)")
    ap.add_argument("-k", dest="patterns", action="append", default=[],
                    help="run only tests whose id contains this (repeatable)")
    ap.add_argument("-q", "--quiet", action="store_true", help="one character per test")
    ap.add_argument("--failfast", action="store_true", help="stop at the first failure")
    args = ap.parse_args()

    for var, path in (("LB_BRIDGE", args.bridge), ("LB_LABCTL", args.labctl),
                      ("LB_WATCH", args.watch), ("LB_MARLIN_EMU", args.marlin_emu)):
        os.environ[var] = os.path.abspath(path)
    if not os.access(os.environ["LB_BRIDGE"], os.X_OK):
        print("run.py: the daemon %s does not exist or is not executable (make %s)" %
              (args.bridge, args.bridge), file=sys.stderr)
        return 2

    sys.path.insert(0, HERE)

    loader = unittest.TestLoader()
    suite = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    if args.patterns:
        suite = filter_suite(suite, args.patterns)
    n = suite.countTestCases()
    if n == 0:
        print("run.py: no test matches", file=sys.stderr)
        return 2
    print("labbridge integration tests: %d tests, daemon %s" % (n, args.bridge))
    sys.stdout.flush()
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=1 if args.quiet else 2,
                                     failfast=args.failfast, resultclass=Result, buffer=False)
    t0 = time.monotonic()
    result = runner.run(suite)
    total = time.monotonic() - t0

    w = sys.stdout.write
    w("\n" + "=" * 70 + "\nSUMMARY\n")
    def tid(t):  # a subtest counts as its test
        return getattr(t, "test_case", t).id()
    failed = {tid(t) for t, _ in result.failures}
    errored = {tid(t) for t, _ in result.errors} - failed
    skipped = {tid(t) for t, _ in result.skipped}
    w("%d tests in %.1f s: %d passed, %d failed, %d errors, %d skipped\n" %
      (result.testsRun, total, result.testsRun - len(failed | errored | skipped), len(failed),
       len(errored), len(skipped)))
    slow = sorted(result.times, reverse=True)[:5]
    if slow:
        w("slowest: %s\n" % ", ".join("%s %.1f s" % (tid.split(".", 1)[-1], dt) for dt, tid in slow))
    for test, reason in result.skipped:
        w("SKIPPED %s: %s\n" % (test.id(), reason))
    for what, items in (("FAILED ", result.failures), ("ERROR  ", result.errors)):
        for tid in sorted({test.id() for test, _ in items}):
            w("%s %s\n" % (what, tid))
    ok = result.wasSuccessful()
    w("RESULT: %s\n" % ("OK" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
