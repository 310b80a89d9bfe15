#!/usr/bin/python3
"""Run the labbridge integration tests (tests/integration/test_*.py) against a daemon build.

    /usr/bin/python3 tests/integration/run.py --bridge build/asan/labbridge \\
        --labctl build/asan/labctl --watch build/asan/watch [-k PATTERN] [-q] [--failfast] [-j N]

Every test starts its own daemon on private endpoints and stops it with SIGTERM; the daemon must
exit with status 0 and print no sanitizer report. On a failure the daemon's output is printed.

The tests are discovered (nothing here names them) and run by N worker processes (-j, default 3):
each takes the next test class from a queue, largest first, and its output is printed in one
block when the class is done, so that the workers' lines do not interleave. The tests are
independent: each has its own temporary directory, ipc:// endpoints, port-0 TCP and data
directory. -j 1 runs everything in this process.

A skipped test fails the run, unless its reason starts with "allowed:" (e.g.
self.skipTest("allowed: needs a Go Direct sensor on USB")): a test that cannot run is a test that
does not test, and must say why that is acceptable. The allowed skips are listed in the summary.

Exit status: 0 when every test passed, 1 otherwise, 2 on bad usage.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS_DIR = HERE  # where the test_*.py files are (--tests-dir: the runner's own tests)
ALLOWED_SKIP = "allowed:"


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


def tests_of(suite):
    """The test cases of a suite, flattened."""
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from tests_of(t)
        else:
            yield t


def discover(patterns):
    """The test cases (discovered), keeping those whose id contains one of the patterns."""
    loader = unittest.TestLoader()
    suite = loader.discover(TESTS_DIR, pattern="test_*.py", top_level_dir=TESTS_DIR)
    tests = list(tests_of(suite))
    # a module that does not import shows up as a failing "unittest.loader._FailedTest"
    return [t for t in tests if not patterns or any(p in t.id() for p in patterns)]


def tid(t):  # a subtest counts as its test
    return getattr(t, "test_case", t).id()


def run_here(ids, quiet, failfast, stream):
    """Run the tests of those ids in this process; a summary dict (JSON-able)."""
    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    for t in discover([]):
        if t.id() in ids:
            suite.addTest(t)
    runner = unittest.TextTestRunner(stream=stream, verbosity=1 if quiet else 2,
                                     failfast=failfast, resultclass=Result, buffer=False)
    result = runner.run(suite)
    del loader
    return {
        "run": result.testsRun,
        "failed": sorted({tid(t) for t, _ in result.failures}),
        "errors": sorted({tid(t) for t, _ in result.errors}),
        "skipped": [[t.id(), reason] for t, reason in result.skipped],
        "times": result.times,
    }


def units_of(tests):
    """The tests grouped by class ("module.Class"): a worker's unit of work, largest first."""
    units = {}
    for t in tests:
        units.setdefault(t.id().rsplit(".", 1)[0], []).append(t.id())
    return sorted(units.items(), key=lambda kv: (-len(kv[1]), kv[0]))


def run_parallel(tests, args, argv):
    """Run the tests in args.jobs worker processes (this script with --worker); a summary."""
    from lbtest import die_with_parent  # sys.path has HERE by now
    total = {"run": 0, "failed": [], "errors": [], "skipped": [], "times": []}
    queue = units_of(tests)
    tmp = tempfile.mkdtemp(prefix="lbrun-")
    running = []  # (proc, unit name, ntests, out path, result path, t0)
    stop_scheduling = False
    n = 0
    try:
        while queue or running:
            while queue and len(running) < args.jobs and not stop_scheduling:
                unit, ids = queue.pop(0)
                n += 1
                base = os.path.join(tmp, "%03d" % n)
                with open(base + ".ids", "w") as f:
                    json.dump(ids, f)
                out = open(base + ".out", "wb")
                cmd = [sys.executable, os.path.abspath(__file__)] + argv + [
                    "--worker", base + ".ids", "--result", base + ".json"]
                # a worker (and, through lbtest, its daemons) ends with this runner: nothing
                # is left to reopen ports that later tests' emulators reuse
                p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True,
                                     preexec_fn=die_with_parent)
                out.close()
                running.append((p, unit, len(ids), base, time.monotonic()))
            for entry in list(running):
                p, unit, nt, base, t0 = entry
                if p.poll() is None:
                    continue
                running.remove(entry)
                with open(base + ".out", "rb") as f:
                    text = f.read().decode("utf-8", "replace")
                sys.stdout.write("\n----- %s: %d test%s in %.1f s\n%s" % (
                    unit, nt, "" if nt == 1 else "s", time.monotonic() - t0, text))
                sys.stdout.flush()
                try:
                    with open(base + ".json") as f:
                        r = json.load(f)
                except (OSError, ValueError):
                    # the worker died (a crash, a signal): every test of the unit failed
                    r = {"run": nt, "failed": [], "errors": [], "skipped": [], "times": []}
                    r["errors"] = ["%s (worker exited with status %s)" % (unit, p.returncode)]
                for k in ("failed", "errors", "skipped", "times"):
                    total[k] += r[k]
                total["run"] += r["run"]
                if args.failfast and (r["failed"] or r["errors"]):
                    stop_scheduling = True
            if running:
                time.sleep(0.05)
    except KeyboardInterrupt:
        for p, *_ in running:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except OSError:
                pass
        raise
    finally:
        for name in os.listdir(tmp):
            os.unlink(os.path.join(tmp, name))
        os.rmdir(tmp)
    return total


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
    ap.add_argument("-j", "--jobs", type=int, default=int(os.environ.get("LB_TEST_JOBS", "3")),
                    help="worker processes (default 3, or $LB_TEST_JOBS); 1: no workers")
    ap.add_argument("--tests-dir", default=HERE, help=argparse.SUPPRESS)  # the runner's tests
    ap.add_argument("--worker", help=argparse.SUPPRESS)  # a JSON file of test ids to run
    ap.add_argument("--result", help=argparse.SUPPRESS)  # where the worker writes its summary
    args = ap.parse_args()
    if args.jobs < 1:
        ap.error("-j must be at least 1")

    for var, path in (("LB_BRIDGE", args.bridge), ("LB_LABCTL", args.labctl),
                      ("LB_WATCH", args.watch), ("LB_MARLIN_EMU", args.marlin_emu)):
        os.environ[var] = os.path.abspath(path)
    if not os.access(os.environ["LB_BRIDGE"], os.X_OK):
        print("run.py: the daemon %s does not exist or is not executable (make %s)" %
              (args.bridge, args.bridge), file=sys.stderr)
        return 2

    global TESTS_DIR
    TESTS_DIR = os.path.abspath(args.tests_dir)
    sys.path.insert(0, HERE)
    if TESTS_DIR != HERE:
        sys.path.insert(0, TESTS_DIR)

    if args.worker:
        with open(args.worker) as f:
            ids = set(json.load(f))
        r = run_here(ids, args.quiet, args.failfast, sys.stdout)
        with open(args.result, "w") as f:
            json.dump(r, f)
        return 0

    tests = discover(args.patterns)
    n = len(tests)
    if n == 0:
        print("run.py: no test matches", file=sys.stderr)
        return 2
    jobs = min(args.jobs, len(units_of(tests)))
    print("labbridge integration tests: %d tests, daemon %s, %d worker%s" %
          (n, args.bridge, jobs, "" if jobs == 1 else "s"))
    sys.stdout.flush()
    t0 = time.monotonic()
    if jobs == 1:
        r = run_here({t.id() for t in tests}, args.quiet, args.failfast, sys.stdout)
    else:
        argv = ["--bridge", args.bridge, "--labctl", args.labctl, "--watch", args.watch,
                "--marlin-emu", args.marlin_emu, "--tests-dir", TESTS_DIR] + \
               (["-q"] if args.quiet else []) + \
               (["--failfast"] if args.failfast else [])
        args.jobs = jobs
        r = run_parallel(tests, args, argv)
    total = time.monotonic() - t0

    w = sys.stdout.write
    w("\n" + "=" * 70 + "\nSUMMARY\n")
    failed = set(r["failed"])
    errored = set(r["errors"]) - failed
    allowed = [(t, why) for t, why in r["skipped"] if why.startswith(ALLOWED_SKIP)]
    refused = [(t, why) for t, why in r["skipped"] if not why.startswith(ALLOWED_SKIP)]
    skipped = {t for t, _ in r["skipped"]}
    w("%d tests in %.1f s (%d worker%s): %d passed, %d failed, %d errors, %d skipped "
      "(%d allowed)\n" %
      (r["run"], total, jobs, "" if jobs == 1 else "s",
       r["run"] - len(failed | errored | skipped), len(failed), len(errored), len(skipped),
       len(allowed)))
    slow = sorted(r["times"], reverse=True)[:5]
    if slow:
        w("slowest: %s\n" % ", ".join("%s %.1f s" % (t.split(".", 1)[-1], dt) for dt, t in slow))
    for t, why in allowed:
        w("SKIPPED (allowed) %s: %s\n" % (t, why[len(ALLOWED_SKIP):].strip()))
    for t, why in refused:
        w("SKIPPED (not allowed: the run fails; say 'allowed: REASON' if it must be) %s: %s\n"
          % (t, why))
    for what, items in (("FAILED ", sorted(failed)), ("ERROR  ", sorted(errored))):
        for t in items:
            w("%s %s\n" % (what, t))
    ok = r["run"] > 0 and not failed and not errored and not refused
    w("RESULT: %s\n" % ("OK" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
