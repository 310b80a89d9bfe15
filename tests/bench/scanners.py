#!/usr/bin/python3
"""Document-scanner benchmarks (issue 12): the simulated lab's SANE `test` scanner, which the
bridge reaches through the private SANE configuration it writes (drivers/sane/sane.c's simulate:
dll.conf with `test` alone, its test.conf).

    /usr/bin/python3 tests/bench/scanners.py [--bridge build/labbridge] [--runs 6] [--quick]
                                             [--only enum,discovery,rate,rss]

  1. enum: from just before starting the bridge to the scanner listed by `devices.list`
     (requests back to back from the `ready` line on), per run a new bridge; the `ready` line
     too. Target < 100 ms. The bridge runs with XDG_RUNTIME_DIR in a fresh temporary directory,
     so its private SANE directory is found (and copied: parts 2 and 3 use the copy).
  2. discovery: `build/bench_sane COPY` (sane_init + sane_get_devices through
     drivers/sane/session.c's worker, and directly), target < 100 ms.
  3. rate: an A3 300 dpi colour scan (3507 x 4960 px, 52 MB) from the test backend, as a scan
     job (`scan.submit`, --format, PNM by default: what scanimage writes to /dev/null, so like
     for like; the driver writes the job's file as it reads, in the same thread, so a compressing
     writer (JPEG, PNG, PDF) paces the stream). Bridge: from just before the submit
     request to the reception of the band flagged LAST by a C subscriber (`build/bench_zmq
     subscan` on scanner/<id>/image/). scanimage: the same scan (`-d test:0 --mode Color
     --resolution 300 -l 0 -t 0 -x 297 -y 420`, SANE_CONFIG_DIR = the copy) to /dev/null, its
     wall time, and the same command 1 mm high (its fixed cost: exec, sane_init, options,
     sane_start), and the scan written by scanimage in the job's format (like for like). Alternated
     (bridge first in even runs), --runs runs; the ratio of the median rates, target >= 0.9, on
     scanimage's read time (wall minus the 1-mm scan: strict) and on its whole wall time. First
     band after the submit request, target < 50 ms. CPU per scan of both.
  4. rss: VmHWM of the bridge (reset through /proc/PID/clear_refs before each scan) during an A3
     600 dpi colour scan job (7015 x 9921 px, 209 MB) to PNG and to PDF, target < 64 MB; VmRSS
     sampled every 20 ms too. Then the PDF job again with a client subscribed to the image stream
     that stops reading (what a stalled tablet costs).

Figures, not pass/fail tests: each part prints its figures and MET / NOT MET, then a last line
BENCH_JSON {...}. Exit status 0 whatever the figures, 1 if a part could not run. Every wait has a
timeout; only the processes started here are stopped.
"""
import argparse
import glob
import json
import os
import resource
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402 (tests/bench/benchlib.py: the bridge, CPU from /proc)
from benchlib import (BENCH_ZMQ, ROOT, BenchError, kb, log, machine_busy_s,  # noqa: E402
                      own_cpu_s, proc_status, threads_cpu_ns)

DEV = "sane-test_0"
SANE_NAME = "test:0"
A3_300 = {"mode": "Color", "resolution": 300, "page": "A3"}
A3_600 = {"mode": "Color", "resolution": 600, "page": "A3"}
SCANIMAGE_A3 = ["--mode", "Color", "--resolution", "300", "-l", "0", "-t", "0", "-x", "297",
                "-y", "420"]
END_EVENTS = ("done", "error", "cancelled", "failed")


class Load:
    """The other programs' CPU, in cores: the machine's busy time minus this script's, its
    waited-for children's (scanimage) and that of the live processes pids (bridge, subscriber)."""

    def __init__(self, pids=()):
        self.pids = list(pids)
        self.t, self.busy, self.own = time.monotonic(), machine_busy_s(), own_cpu_s()
        self.live = sum(threads_cpu_ns(p) for p in self.pids)

    def cores(self):
        dt = time.monotonic() - self.t
        live = (sum(threads_cpu_ns(p) for p in self.pids) - self.live) / 1e9
        mine = own_cpu_s() - self.own + live
        return max(0.0, (machine_busy_s() - self.busy - mine) / dt) if dt > 0 else 0.0


Client = benchlib.bench_client_class()


class Bridge(benchlib.Bridge):
    """A ready bridge with the simulated lab's SANE scanner only, on ipc:// endpoints in a folder
    of its own in tmp (with its XDG_RUNTIME_DIR, where the private SANE directory goes)."""

    def __init__(self, path, tmp):
        def conf(d):
            os.mkdir(os.path.join(d, "run"), 0o700)
            return ("[bridge]\nsimulate = yes\nemulate = sane\nrequest_timeout_ms = 10000\n"
                    "data_dir = %s\n" % os.path.join(d, "data"))
        super().__init__(path, tmp, conf, name="scan",
                         env=lambda d: {"XDG_RUNTIME_DIR": os.path.join(d, "run")})
        self.wait_ready(15)

    def sane_dir(self):
        d = glob.glob(os.path.join(self.dir, "run", "labbridge-sane-*"))
        if len(d) != 1:
            raise BenchError("the bridge's private SANE directory is not in %s/run" % self.dir)
        return d[0]


def wait_listed(c, timeout=10):
    """Requests devices.list back to back until DEV is in it: the time it was seen."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if any(d["id"] == DEV for d in c.call("devices.list")):
            return time.monotonic()
    raise BenchError("%s not listed within %d s" % (DEV, timeout))


def part_enum(args, tmp, result):
    ctx = zmq.Context()
    ready, listed, conf = [], [], None
    load = Load()
    for _ in range(args.enum_runs):
        b = Bridge(args.bridge, tmp)
        try:
            c = Client(ctx, b.rpc)
            t = wait_listed(c)
            ready.append((b.t_ready - b.t0) * 1000)
            listed.append((t - b.t0) * 1000)
            if conf is None:
                conf = os.path.join(tmp, "saneconf")
                shutil.copytree(b.sane_dir(), conf)
            c.close()
        finally:
            b.stop()
    ctx.term()
    med = statistics.median(listed)
    result.update(enum_listed_ms_p50=round(med, 2), enum_listed_ms_max=round(max(listed), 2),
                  enum_ready_ms_p50=round(statistics.median(ready), 2))
    log("1. enumeration, bridge start -> %s in devices.list: p50 %.1f ms, max %.1f ms "
        "(%d runs; `ready` line p50 %.1f ms; other load %.2f cores); target < 100 ms: %s" % (
            DEV, med, max(listed), len(listed), statistics.median(ready), load.cores(),
            "MET" if max(listed) < 100 else ("p50 MET, max NOT MET" if med < 100 else
                                             "NOT MET")))
    return conf


def sane_conf_copy(args, tmp):
    """A copy of the private SANE directory of a bridge started for it (part 1 skipped)."""
    ctx = zmq.Context()
    b = Bridge(args.bridge, tmp)
    try:
        c = Client(ctx, b.rpc)
        wait_listed(c)
        conf = os.path.join(tmp, "saneconf")
        shutil.copytree(b.sane_dir(), conf)
        c.close()
    finally:
        b.stop()
        ctx.destroy(0)
    return conf


def part_discovery(args, conf, result):
    exe = os.path.join(ROOT, "build", "bench_sane")
    p = subprocess.run([exe, conf, str(args.discovery_runs)], capture_output=True, text=True,
                       timeout=120)
    for line in p.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            for k, v in json.loads(line[11:]).items():
                result["discovery_%s_p50_ms" % k] = round(v["p50_ms"], 3)
                result["discovery_%s_max_ms" % k] = round(v["max_ms"], 3)
        else:
            log("2. " + line)
    if p.returncode != 0:
        raise BenchError("bench_sane: %s" % (p.stderr.strip() or p.returncode))


class ScanSub:
    """build/bench_zmq subscan on the bridge's image stream: one JSON line per scan."""

    def __init__(self, b):
        self.p = subprocess.Popen([BENCH_ZMQ, "subscan", b.pub,
                                   "scanner/%s/image/" % DEV, "0"],
                                  stdout=subprocess.PIPE, text=True)

    def next(self, min_height=0, timeout=60):
        """The next scan's line (at least min_height rows: lines of smaller scans are skipped)."""
        end = time.monotonic() + timeout
        while True:
            r, _, _ = select.select([self.p.stdout], [], [], max(0, end - time.monotonic()))
            line = self.p.stdout.readline() if r else ""
            if not line:
                raise BenchError("the subscriber reported no scan within %d s%s" % (
                    timeout, "" if self.p.poll() is None else " (it ended)"))
            s = json.loads(line)
            if s["height"] >= min_height:
                return s

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
        self.p.wait(10)


class Progress:
    """A SUB on the scanner's progress stream (to know a scan ended before the next one)."""

    def __init__(self, ctx, b):
        self.s = ctx.socket(zmq.SUB)
        self.s.setsockopt(zmq.LINGER, 0)
        self.s.connect(b.pub)
        self.s.subscribe(("scanner/%s/progress/" % DEV).encode())

    def drain(self):
        while self.s.poll(0):
            self.s.recv_multipart()

    def wait_end(self, timeout=120):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.s.poll(100):
                f = self.s.recv_multipart()
                d = json.loads(f[1]).get("data", {})
                if d.get("event") in END_EVENTS or d.get("state") in END_EVENTS:
                    return d
        raise BenchError("the scan did not end within %d s" % timeout)


def start_scan(c, settings, fmt):
    """Start a scan job of DEV with settings, writing fmt (the only place that knows how scans
    are started): the job object."""
    return c.call("scan.submit", {"device": DEV, "format": fmt, "settings": settings})


def bridge_scan(c, sub, prog, settings, fmt, pid=None, timeout=60, min_height=1000):
    """One scan job: its start time (monotonic ns), the subscriber's line for it (the first scan
    at least min_height rows high), the bridge's CPU ms."""
    prog.drain()
    cpu0 = threads_cpu_ns(pid) if pid else 0
    t0 = time.monotonic_ns()
    start_scan(c, settings, fmt)
    s = sub.next(min_height, timeout)
    end = prog.wait_end(max(10, timeout))
    if end.get("event", end.get("state")) != "done":
        raise BenchError("the scan ended %s" % end)
    return t0, s, (threads_cpu_ns(pid) - cpu0) / 1e6 if pid else 0


def scanimage(args, conf, extra):
    """scanimage's wall time (s) and CPU time (ms) for the A3 scan with extra options."""
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    p = subprocess.run([args.scanimage, "-d", SANE_NAME] + SCANIMAGE_A3 + extra,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=120,
                       env=dict(os.environ, SANE_CONFIG_DIR=conf))
    t = time.monotonic() - t0
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        raise BenchError("scanimage: %s" % p.stderr.strip())
    return t, (ru.ru_utime + ru.ru_stime - ru0.ru_utime - ru0.ru_stime) * 1000


def part_rate(args, tmp, conf, result):
    b = Bridge(args.bridge, tmp)
    ctx = zmq.Context()
    sub = ScanSub(b)
    try:
        c = Client(ctx, b.rpc)
        wait_listed(c)
        prog = Progress(ctx, b)
        # warm-up (and the subscriptions in place): small scans until the subscriber saw one
        end = time.monotonic() + 15
        while True:
            try:
                bridge_scan(c, sub, prog, {"mode": "Color", "resolution": 25, "page": "A3"},
                            args.format, timeout=1, min_height=0)
                break
            except BenchError:
                if time.monotonic() > end:
                    raise
        rows = []
        load = Load([b.pid, sub.p.pid])
        for r in range(args.runs):
            row = {}
            for who in (("bridge", "scanimage") if r % 2 == 0 else ("scanimage", "bridge")):
                if who == "bridge":
                    t0, s, cpu = bridge_scan(c, sub, prog, A3_300, args.format, b.pid)
                    if s["rows"] != s["height"] or not s["ordered"]:
                        raise BenchError("the bands were not the whole image: %s" % s)
                    row.update(bytes=s["bytes"], first_ms=(s["first_ns"] - t0) / 1e6,
                               bridge_ms=(s["last_ns"] - t0) / 1e6,
                               transfer_ms=(s["last_ns"] - s["first_ns"]) / 1e6,
                               bridge_cpu_ms=cpu)
                else:
                    t, row["si_cpu_ms"] = scanimage(args, conf, [])
                    row["si_ms"] = t * 1000
                    row["si_fixed_ms"] = scanimage(args, conf, ["-y", "1"])[0] * 1000
                    row["si_fmt_ms"] = scanimage(args, conf, [
                        "--format=" + args.format, "-o",
                        os.path.join(tmp, "scanimage." + args.format)])[0] * 1000
            row["si_read_ms"] = max(0.001, row["si_ms"] - row["si_fixed_ms"])
            row["si_fmt_read_ms"] = max(0.001, row["si_fmt_ms"] - row["si_fixed_ms"])
            rows.append(row)
            log("   run %d: bridge %.1f ms (first band %.1f ms, first to last %.1f ms; CPU %.1f "
                "ms), scanimage %.1f ms (1-mm scan %.1f ms; CPU %.1f ms; to a %s file %.1f ms), "
                "%.1f MB" % (
                    r + 1, row["bridge_ms"], row["first_ms"], row["transfer_ms"],
                    row["bridge_cpu_ms"], row["si_ms"], row["si_fixed_ms"], row["si_cpu_ms"],
                    args.format.upper(), row["si_fmt_ms"], row["bytes"] / 1e6))
        other = load.cores()
        mb = rows[0]["bytes"] / 1e6
        med = {k: statistics.median(x[k] for x in rows) for k in rows[0]}
        rate_b = mb / med["bridge_ms"] * 1000
        rate_si = mb / med["si_read_ms"] * 1000
        rate_si_wall = mb / med["si_ms"] * 1000
        rate_si_fmt = mb / med["si_fmt_read_ms"] * 1000
        first_max = max(x["first_ms"] for x in rows)
        result.update(rate_bridge_mb_s=round(rate_b, 1), rate_scanimage_mb_s=round(rate_si, 1),
                      rate_scanimage_wall_mb_s=round(rate_si_wall, 1),
                      rate_ratio=round(rate_b / rate_si, 3),
                      rate_ratio_wall=round(rate_b / rate_si_wall, 3),
                      rate_scanimage_fmt_mb_s=round(rate_si_fmt, 1),
                      rate_ratio_fmt=round(rate_b / rate_si_fmt, 3), rate_format=args.format,
                      first_band_ms_p50=round(med["first_ms"], 2),
                      first_band_ms_max=round(first_max, 2), rate_runs=len(rows),
                      rate_other_load_cores=round(other, 2),
                      bridge_cpu_ms_p50=round(med["bridge_cpu_ms"], 1),
                      scanimage_cpu_ms_p50=round(med["si_cpu_ms"], 1))
        log("3. A3 300 dpi colour (%.1f MB), a %s job, medians of %d alternated runs (other "
            "load %.2f cores):" % (mb, args.format.upper(), len(rows), other))
        log("   bridge to a ZeroMQ subscriber: %.1f ms, %.0f MB/s; scanimage to /dev/null: "
            "read %.1f ms (%.1f wall - %.1f fixed), %.0f MB/s (%.0f MB/s on its wall time)" % (
                med["bridge_ms"], rate_b, med["si_read_ms"], med["si_ms"], med["si_fixed_ms"],
                rate_si, rate_si_wall))
        log("   like for like, scanimage writing a %s file: read %.1f ms, %.0f MB/s: ratio "
            "bridge/scanimage %.2f" % (args.format.upper(), med["si_fmt_read_ms"], rate_si_fmt,
                                       rate_b / rate_si_fmt))
        log("   CPU per scan: the bridge's threads %.1f ms (test backend's reader thread "
            "included), scanimage %.1f ms" % (med["bridge_cpu_ms"], med["si_cpu_ms"]))
        log("   ratio bridge/scanimage %.2f (on scanimage's wall time %.2f); target >= 0.9: %s"
            % (rate_b / rate_si, rate_b / rate_si_wall,
               "MET" if rate_b / rate_si >= 0.9 else
               ("met on the wall time only" if rate_b / rate_si_wall >= 0.9 else "NOT MET")))
        log("   first band after the start request: p50 %.1f ms, max %.1f ms; target < 50 ms: "
            "%s" % (med["first_ms"], first_max, "MET" if first_max < 50 else
                    ("p50 MET, max NOT MET" if med["first_ms"] < 50 else "NOT MET")))
    finally:
        sub.stop()
        b.stop()
        ctx.destroy(0)


def stalled_subscriber(ctx, b, c, prog):
    """A SUB on the image stream that stops reading once subscribed (checked by a small scan's
    bands reaching it): what a client that stalls (a tablet whose Wi-Fi drops) costs."""
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.RCVHWM, 1)
    sub.setsockopt(zmq.RCVBUF, 4096)
    sub.connect(b.pub)
    sub.subscribe(("scanner/%s/image/" % DEV).encode())
    end = time.monotonic() + 15
    while time.monotonic() < end:
        prog.drain()
        start_scan(c, {"mode": "Gray", "resolution": 25, "page": "A4"}, "png")
        got = sub.poll(1000)
        prog.wait_end(30)
        if got:
            while sub.poll(100):
                sub.recv_multipart()
            return sub
    raise BenchError("the stalled subscriber never received a band")


def part_rss(args, tmp, result):
    b = Bridge(args.bridge, tmp)
    ctx = zmq.Context()
    try:
        c = Client(ctx, b.rpc)
        wait_listed(c)
        prog = Progress(ctx, b)
        time.sleep(0.2)  # not a synchronisation: lets the idle bridge settle before its RSS
        for fmt, stalled in (("png", False), ("pdf", False), ("pdf", True)):
            what = fmt + (" with a stalled subscriber" if stalled else "")
            sub = stalled_subscriber(ctx, b, c, prog) if stalled else None
            prog.drain()
            with open("/proc/%d/clear_refs" % b.pid, "w") as f:
                f.write("5")  # resets VmHWM to the current RSS
            before = kb(proc_status(b.pid), "VmRSS")
            t0 = time.monotonic()
            job = start_scan(c, A3_600, fmt)
            peak, end = 0, None
            deadline = time.monotonic() + 600
            while end is None and time.monotonic() < deadline:
                peak = max(peak, kb(proc_status(b.pid), "VmRSS"))
                if prog.s.poll(20):
                    d = json.loads(prog.s.recv_multipart()[1]).get("data", {})
                    if d.get("event") in END_EVENTS:
                        end = d
            dt = time.monotonic() - t0
            st = proc_status(b.pid)
            hwm = kb(st, "VmHWM")
            job = c.call("jobs.get", {"id": job["id"]})
            if sub is not None:
                sub.close()
            key = "rss_%s%s" % (fmt, "_stalled_sub" if stalled else "")
            result[key + "_hwm_kb"] = hwm
            result[key + "_before_kb"] = before
            log("4. A3 600 dpi colour to %s: VmHWM %.1f MB (VmRSS before %.1f MB, sampled peak "
                "%.1f MB), %.1f s, job %s; target < 64 MB: %s" % (
                    what.upper() if not stalled else what.replace(fmt, fmt.upper()),
                    hwm / 1024, before / 1024, peak / 1024, dt, job.get("state"),
                    "MET" if hwm < 64 * 1024 else "NOT MET"))
            if job.get("state") != "done":
                raise BenchError("the %s job ended %s" % (what, job))
    finally:
        b.stop()
        ctx.destroy(0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bridge", default=os.path.join(ROOT, "build", "labbridge"))
    ap.add_argument("--scanimage", default="scanimage")
    ap.add_argument("--runs", type=int, default=6, help="alternated rate runs")
    ap.add_argument("--format", default="pnm", choices=("pnm", "pdf", "png", "jpeg", "tiff"),
                    help="the rate part's job format")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default="enum,discovery,rate,rss")
    args = ap.parse_args()
    args.enum_runs = 3 if args.quick else 10
    args.discovery_runs = 5 if args.quick else 20
    if args.quick:
        args.runs = min(args.runs, 3)
    only = set(args.only.split(","))
    tmp = tempfile.mkdtemp(prefix="lb-bench-scanners-")
    result, ok = {}, True
    conf = None
    try:
        conf = part_enum(args, tmp, result) if "enum" in only else sane_conf_copy(args, tmp)
    except BenchError as e:
        log("1. enumeration: could not run: %s" % e)
        ok = False
    for name, fn in (("discovery", lambda: part_discovery(args, conf, result)),
                     ("rate", lambda: part_rate(args, tmp, conf, result)),
                     ("rss", lambda: part_rss(args, tmp, result))):
        if name not in only:
            continue
        if conf is None and name != "rss":
            log("%s: could not run: no SANE configuration copied" % name)
            ok = False
            continue
        try:
            fn()
        except (BenchError, OSError, subprocess.SubprocessError) as e:
            log("%s: could not run: %s" % (name, e))
            ok = False
    return benchlib.finish(tmp, result, ok)


if __name__ == "__main__":
    sys.exit(main())
