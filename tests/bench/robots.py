#!/usr/bin/python3
"""Robot benchmarks: a classroom of emulated robots of every family (build/robot-farm: mBots,
Thymios running Debian's Aseba VM, MicroPython boards running python3, Firmata boards mapped as
servo robots) driven by one bridge through the real drivers.

    /usr/bin/python3 tests/bench/robots.py [--bridge build/labbridge] [--farm build/robot-farm]
                                           [--each 8] [--rounds 20] [--window 10]

  1. sensors: every robot streams its sensors at its native rate (device.start); the bridge's CPU
     (utime + stime from /proc) over --window seconds, as a share of one core: target < 5 %
     for 32 robots. The messages/s received are printed beside it.
  2. stop-all: each round, one client takes every robot's lease and sets those with wheels moving;
     then room.stop, and for each robot the time from just before the request to its
     robot/<id>/state/ message saying "stopped" (its driver's halted hook has run: the stop is on
     its wire); room.release; --rounds rounds. p50/p99/max over all robots and per family:
     target p99 < 50 ms.

Figures, not pass/fail tests: each part prints its figures and MET / NOT MET, then a last line
BENCH_JSON {...}. Exit status 0 whatever the figures, 1 if a part could not run.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402 (tests/bench/benchlib.py: the bridge, CPU from /proc)
from benchlib import HZ, ROOT, BenchError, log, machine_busy_s, proc_cpu_s  # noqa: E402


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


class Client:
    def __init__(self, ctx, ep):
        self.s = ctx.socket(zmq.DEALER)
        self.s.setsockopt(zmq.LINGER, 0)
        self.s.connect(ep)
        self.n = 0

    def send(self, method, params=None):
        self.n += 1
        self.s.send(json.dumps({"id": self.n, "method": method, "params": params or {}}).encode())
        return self.n

    def wait(self, rid, timeout=20):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.s.poll(100):
                r = json.loads(self.s.recv())
                if r.get("id") == rid:
                    return r
        raise BenchError("no reply to request %d" % rid)

    def call(self, method, params=None, timeout=20):
        r = self.wait(self.send(method, params), timeout)
        if "error" in r:
            raise BenchError("%s: %s" % (method, r["error"]["message"]))
        return r["result"]


def config(robots, tmp):
    """The bridge's configuration for the farm's robots: [FAMILY.bN] sections."""
    lines = ["[bridge]", "simulate = no", "data_dir = %s" % os.path.join(tmp, "data"),
             "request_timeout_ms = 10000"]
    for i, (family, path) in enumerate(robots):
        lines.append("[%s.b%d]" % (family, i))
        lines.append("port = %s" % path)
        if family == "firmata":
            lines += ["robot = servo-wheels", "left = servo:9", "right = servo:10 reversed"]
        if family == "micropython":
            lines.append("robot = maqueen")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bridge", default=os.path.join(ROOT, "build", "labbridge"))
    ap.add_argument("--farm", default=os.path.join(ROOT, "build", "robot-farm"))
    ap.add_argument("--each", type=int, default=8, help="robots of each family (4 families)")
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--window", type=float, default=10)
    ap.add_argument("--threads", action="store_true", help="also the CPU of each thread name")
    ap.add_argument("--only", help="drive only this family's robots (the farm still runs all)")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="lb-bench-robots-")
    farm = subprocess.Popen([args.farm, str(args.each)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    robots = []
    for line in farm.stdout:
        if line.strip() == "ready":
            break
        robots.append(tuple(line.split()))
    if len(robots) != 4 * args.each:
        raise BenchError("the farm started %d robots" % len(robots))
    if args.only:
        robots = [r for r in robots if r[0] == args.only]
    bridge = benchlib.Bridge(args.bridge, tmp, lambda d: config(robots, d), name="robots",
                             quiet=False)
    pub = bridge.pub
    ok = True
    result = {"robots": len(robots)}
    ctx = zmq.Context()
    try:
        bridge.wait_ready(30)
        c = Client(ctx, bridge.rpc)
        end = time.monotonic() + 60
        while len(c.call("robot.list")) < len(robots):
            if time.monotonic() > end:
                have = {r["device"] for r in c.call("robot.list")}
                raise BenchError("only %d of %d robots opened: %s" % (
                    len(have), len(robots), sorted(have)))
            time.sleep(0.2)
        listing = c.call("robot.list")
        log("%d robots open: %s" % (len(listing), ", ".join(sorted(
            "%s x%d" % (f, sum(1 for r in listing if r["driver"] == f))
            for f in {r["driver"] for r in listing}))))

        # 1. sensors at their native rates
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.RCVHWM, 1000000)
        sub.connect(pub)
        sub.subscribe(b"robot/")
        for r in listing:
            try:
                c.call("device.start", {"device": r["device"]})
            except BenchError as e:
                log("  %s: %s" % (r["device"], e))
        time.sleep(2)  # every stream under way
        while sub.poll(0):
            sub.recv_multipart()
        cpu0, busy0, t0, msgs = proc_cpu_s(bridge.pid), machine_busy_s(), time.monotonic(), 0
        while time.monotonic() - t0 < args.window:
            if sub.poll(50):
                sub.recv_multipart()
                msgs += 1
        dt = time.monotonic() - t0
        cpu = (proc_cpu_s(bridge.pid) - cpu0) / dt
        if args.threads:
            by = {}
            for tid in os.listdir("/proc/%d/task" % bridge.pid):
                with open("/proc/%d/task/%s/comm" % (bridge.pid, tid)) as f:
                    name = f.read().strip()
                by.setdefault(name, 0.0)
                with open("/proc/%d/task/%s/stat" % (bridge.pid, tid)) as f:
                    fl = f.read().rsplit(")", 1)[1].split()
                by[name] += (int(fl[11]) + int(fl[12])) / HZ
            log("   CPU seconds since start, by thread name: " + ", ".join(
                "%s %.2f" % kv for kv in sorted(by.items(), key=lambda kv: -kv[1])[:12]))
        other = (machine_busy_s() - busy0) / dt - cpu
        result.update(sensors_cpu_pct=round(100 * cpu, 2), sensors_msgs_s=round(msgs / dt),
                      other_load_cores=round(other, 2))
        log("1. %d robots streaming: bridge CPU %.2f %% of one core (%d messages/s; "
            "other load %.2f cores); target < 5 %%: %s" % (
                len(listing), 100 * cpu, msgs / dt, other,
                "MET" if cpu < 0.05 else "NOT MET"))
        for r in listing:
            c.call("device.stop", {"device": r["device"]})
        sub.close()

        # 2. stop-all
        sub = ctx.socket(zmq.SUB)
        sub.connect(pub)
        for r in listing:
            sub.subscribe(("robot/%s/state/" % r["device"]).encode())
        time.sleep(0.5)
        lat = {r["device"]: [] for r in listing}
        fam = {r["device"]: r["driver"] for r in listing}
        for rnd in range(args.rounds):
            for r in listing:
                c.call("lease.acquire", {"device": r["device"]})
                if "robot.move" in r["requests"]:
                    c.call("robot.move", {"device": r["device"], "left": 0.3, "right": 0.3})
            while sub.poll(0):
                sub.recv_multipart()
            t0 = time.monotonic()
            rid = c.send("room.stop", {"reason": "bench"})
            left = set(lat)
            end = t0 + 10
            while left and time.monotonic() < end:
                if not sub.poll(100):
                    continue
                topic, header = sub.recv_multipart()[:2]
                t = time.monotonic()
                d = json.loads(header)["data"]
                if d.get("state") == "stopped" and d["device"] in left:
                    left.discard(d["device"])
                    lat[d["device"]].append((t - t0) * 1000)
            r = c.wait(rid)
            if "error" in r:
                raise BenchError("room.stop: %s" % r["error"])
            if left:
                log("  round %d: no 'stopped' from %s" % (rnd + 1, sorted(left)))
            c.call("room.release")
            for dev in lat:
                c.call("robot.stop", {"device": dev})
        allv = [v for vs in lat.values() for v in vs]
        if not allv:
            raise BenchError("no robot reported stopped")
        p99 = pct(allv, 99)
        result.update(stop_p50_ms=round(pct(allv, 50), 2), stop_p99_ms=round(p99, 2),
                      stop_max_ms=round(max(allv), 2), stop_samples=len(allv))
        log("2. stop-all, %d rounds x %d robots: p50 %.2f ms, p99 %.2f ms, max %.2f ms "
            "(%d samples of %d); target p99 < 50 ms: %s" % (
                args.rounds, len(listing), pct(allv, 50), p99, max(allv), len(allv),
                args.rounds * len(listing), "MET" if p99 < 50 and
                len(allv) == args.rounds * len(listing) else "NOT MET"))
        for f in sorted(set(fam.values())):
            v = [x for dev, xs in lat.items() if fam[dev] == f for x in xs]
            if v:
                log("   %-12s p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms  (%d)" % (
                    f, pct(v, 50), pct(v, 99), max(v), len(v)))
                result["stop_p99_%s_ms" % f] = round(pct(v, 99), 2)
    except BenchError as e:
        log("robots: could not run: %s (log: %s)" % (e, bridge.log_path))
        ok = False
    finally:
        bridge.stop()
        farm.stdin.close()
        farm.wait(10)
    log("BENCH_JSON " + json.dumps(result))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
