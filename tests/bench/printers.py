#!/usr/bin/python3
"""3D-printer benchmarks: the Marlin driver and the print queue against the standalone Marlin
emulator (build/marlin-emu) on pseudo-terminals.

    /usr/bin/python3 tests/bench/printers.py [--bridge build/labbridge] [--emu build/marlin-emu]
                                             [--lines 100000] [--quick] [--repeat 2]

In one run, against the same emulator binary, each part with a fresh temporary directory and
private ipc:// endpoints:

  1. one line in flight (printer option inflight = 1), emulator --baud 0: labbridge's lines/s on a
     --lines file, and printcore's (Printrun's host library, the same file's first lines on the
     same emulator) -> the ratio of the best of --repeat runs each, target >= 10x;
  2. the driver's default flow window (lines and bytes in flight, the board's receive buffer),
     --baud 0: lines/s, best of --repeat runs, target >= 40 000;
  3. emulator --baud 115200: the bytes/s labbridge puts on the wire (its frames
     "N<n> <cmd>*<cs>\\n") over the link's 11 520 bytes/s, target >= 0.90;
  4. emergency-stop latency while streaming at 115200: from just before the client sends
     printer.estop to the emulator reading M112 off the wire (both CLOCK_MONOTONIC), then reset,
     wait for the printer, a new job, again; p50/p99/max, target p99 < 5 ms;
  5. eight printers streaming at once at 115200: the bridge's CPU (utime + stime from /proc) over
     a window while all eight print, as a share of one core, target < 25 %; and their lines/s.

Sizes: --lines (100 000) for parts 1 and 2, printcore on the file's first 10 000 lines (it
streams about 1 000 lines/s: lines/s is what is compared); 8 000 lines in part 3 (~27 s at
115 200 baud); 100 e-stops of a 3 000-line job; 6 000-line jobs and a 10-s window in part 5.
--quick: 20 000 / 2 000 / 2 000 lines, 8 e-stops, 2 500-line jobs, a 3-s window, one run each.
Each measurement also prints the other programs' load on the machine (cores): on a shared VM the
lines/s of parts 1 and 2 move by 2x with it.

Figures, not pass/fail tests: each part prints its measurements and whether its target is MET or
NOT MET, then a summary table and a last line BENCH_JSON {...}. The exit status is 0 whatever the
figures, 1 if a part could not run (the other parts still run and are reported).
"""
import argparse
import json
import math
import os
import random
import select
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import zlib

import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402 (tests/bench/benchlib.py: the bridge, CPU from /proc)
from benchlib import BenchError, log, proc_cpu_s  # noqa: E402
from benchlib import machine_busy_s as system_busy_s  # noqa: E402
LINK_BYTES_S = 115200 / 10  # 8N1: 10 bits a byte
CHUNK = 256 * 1024  # print.upload chunk (PROTOCOL.md: "256 KiB is a good size")
FINAL = ("done", "failed", "cancelled", "interrupted")


def wait_for(pred, timeout, what, interval=0.005):
    """Poll pred until it returns something true; BenchError after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise BenchError("timeout (%.0f s) waiting for %s" % (timeout, what))
        time.sleep(interval)


class Load:
    """Other programs' load during a measurement: the machine's busy CPU (/proc/stat) minus ours
    (this process, with printcore's threads, and the given processes), in cores."""

    def __init__(self, pids):
        self.pids = list(pids)
        self.t0 = time.monotonic()
        self.c0 = self._ours()
        self.b0 = system_busy_s()

    def _ours(self):
        t = os.times()
        return t.user + t.system + sum(proc_cpu_s(p) for p in self.pids)

    def done(self):
        """(other programs' cores, our processes' cores) since the start."""
        dt = max(1e-9, time.monotonic() - self.t0)
        ours = (self._ours() - self.c0) / dt
        return max(0.0, (system_busy_s() - self.b0) / dt - ours), ours


# ------------------------------------------------------------------------------------ G-code

def gcode_lines(n, seed=1):
    """n commands shaped like a slicer's curves: short G1 moves, relative extrusion. The first two
    set the modes, the rest are G1 X.. Y.. E.. on a wobbly circle."""
    rnd = random.Random(seed)
    out = ["G90", "M83"]
    t = 0.0
    while len(out) < n:
        t += 0.02 + rnd.random() * 0.01
        r = 30 + 5 * math.sin(t * 7)
        out.append("G1 X%.3f Y%.3f E%.5f" % (110 + r * math.cos(t), 110 + r * math.sin(t),
                                             0.01 + rnd.random() * 0.03))
    return out[:n]


def frame_bytes(cmds, first_n=1):
    """Bytes of the frames "N<n> <cmd>*<cs>\\n" for cmds numbered from first_n."""
    total = 0
    for i, c in enumerate(cmds):
        body = "N%d %s" % (first_n + i, c)
        cs = 0
        for ch in body.encode():
            cs ^= ch
        total += len(body) + 1 + len(str(cs)) + 1
    return total


def text_of(cmds):
    return ("\n".join(cmds) + "\n").encode()


# ------------------------------------------------------------------------------------ processes

def read_line(f, timeout, what):
    """One line from a pipe (the writer flushes whole lines), within timeout seconds."""
    r, _, _ = select.select([f], [], [], timeout)
    if not r:
        raise BenchError("no line from %s within %.0f s" % (what, timeout))
    line = f.readline()
    if not line:
        raise BenchError("%s closed its output" % what)
    return line


class Emulator:
    """One marlin-emu process: its pty, and stats over stdin/stdout."""

    def __init__(self, binary, *args):
        self.proc = subprocess.Popen([binary] + [str(a) for a in args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.path = read_line(self.proc.stdout, 10, "marlin-emu").strip()
        if not self.path.startswith("/dev/"):
            raise BenchError("marlin-emu said %r: %s" % (self.path, self.proc.stderr.read()))

    def stats(self):
        self.proc.stdin.write("stats\n")
        self.proc.stdin.flush()
        return json.loads(read_line(self.proc.stdout, 5, "marlin-emu stats"))

    def close(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=5)
        except Exception:
            self.proc.kill()
            self.proc.wait(5)


class Bridge(benchlib.Bridge):
    """One ready labbridge with its configuration, data_dir and endpoints in a folder of tmp; a
    DEALER client."""

    def __init__(self, binary, tmp, printers, ctx):
        """printers: {NAME: {option: value}} -> [marlin.NAME] sections (printer-NAME)."""
        def conf(d):
            lines = ["[bridge]", "simulate = yes", "emulate = none",
                     "data_dir = %s" % os.path.join(d, "data"), "request_timeout_ms = 5000",
                     "[print]", "approval = no", "confirm_bed = no",
                     # a parked simulated sensor keeps the default simulated lab out
                     "[sim.idle]", "rate = 1", "autostart = 0"]
            for name, opts in printers.items():
                lines.append("[marlin.%s]" % name)
                lines += ["%s = %s" % kv for kv in opts.items()]
            return "\n".join(lines) + "\n"
        super().__init__(binary, tmp, conf, name="printers", cwd=tmp)
        self.wait_ready(15)
        self.sock = ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(self.rpc)
        self.next_id = 1

    def send(self, method, params, frames=()):
        """Send a request without waiting; its id."""
        rid = self.next_id
        self.next_id += 1
        self.sock.send_multipart([b"", json.dumps({"id": rid, "method": method,
                                                   "params": params}).encode()] + list(frames))
        return rid

    def reply(self, rid, method, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not self.sock.poll(int(left * 1000) + 1):
                raise BenchError("no reply to %s within %.0f s" % (method, timeout))
            r = json.loads(self.sock.recv_multipart()[-1])
            if r.get("id") == rid:
                return r

    def request(self, method, params, frames=(), timeout=10):
        return self.reply(self.send(method, params, frames), method, timeout)

    def call(self, method, params=None, timeout=10):
        r = self.request(method, params or {}, timeout=timeout)
        if "error" in r:
            raise BenchError("%s %s: %s" % (method, json.dumps(params), r["error"]))
        return r["result"]

    def devices(self):
        return {d["id"]: d for d in self.call("devices.list")}

    def printer_state(self, dev_id):
        d = self.devices().get(dev_id)
        return d and d.get("config", {}).get("state")

    def wait_printer(self, dev_id, timeout=15):
        """Wait until the printer is listed and idle (after its handshake)."""
        return wait_for(lambda: self.printer_state(dev_id) == "idle", timeout,
                        "%s idle in devices.list" % dev_id, 0.02)

    def upload(self, data, name, printer=None, timeout=30):
        """print.upload in chunks (a binary frame each); the job object."""
        rid = "bench-%d" % time.monotonic_ns()
        off = 0
        while True:
            piece = data[off:off + CHUNK]
            final = off + len(piece) >= len(data)
            p = {"request_id": rid, "name": name, "offset": off, "final": final}
            if final:
                p["crc32"] = zlib.crc32(data)
            if printer:
                p["printer"] = printer
            r = self.request("print.upload", p, frames=[piece], timeout=timeout)
            if "error" in r:
                raise BenchError("print.upload: %s" % r["error"])
            if final:
                return r["result"]
            off += len(piece)

    def job(self, jid):
        return self.call("print.job", {"id": jid})

    def wait_job(self, jid, states, timeout):
        return wait_for(lambda: (lambda j: j if j["state"] in states else None)(self.job(jid)),
                        timeout, "job %d in %s" % (jid, "/".join(states)), 0.02)

    def stop(self):
        super().stop()
        if getattr(self, "sock", None) is not None:
            self.sock.close(0)
            self.sock = None


class Setup:
    """A temporary directory, emulators and a bridge, cleaned up at the end of a part."""

    def __init__(self, args):
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix="lbbench-printers-")
        self.ctx = zmq.Context()
        self.emus = []
        self.bridge = None

    def emulator(self, *emu_args):
        e = Emulator(self.args.emu, *emu_args)
        self.emus.append(e)
        return e

    def start_bridge(self, printers):
        self.bridge = Bridge(self.args.bridge, self.tmp, printers, self.ctx)
        return self.bridge

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.bridge:
            self.bridge.stop()
        for e in self.emus:
            e.close()
        self.ctx.destroy(0)
        shutil.rmtree(self.tmp, ignore_errors=True)


def job_seconds(job):
    """A finished job's streaming time from its started and finished timestamps (ns)."""
    if job["state"] != "done":
        raise BenchError("job %d ended %s: %s" % (job["id"], job["state"], job.get("error")))
    return (job["finished"] - job["started"]) / 1e9


def stream_job(args, cmds, emu_args, printer_opts, timeout):
    """One emulator, one printer, one job of cmds: (seconds, job)."""
    with Setup(args) as s:
        e = s.emulator(*emu_args)
        opts = {"port": e.path}
        opts.update(printer_opts)
        b = s.start_bridge({"b": opts})
        b.wait_printer("printer-b")
        data = text_of(cmds)
        load = Load([b.pid, e.proc.pid])
        job = b.upload(data, "bench.gcode", timeout=60)
        job = b.wait_job(job["id"], FINAL, timeout)
        other, _ = load.done()
        st = e.stats()
        secs = job_seconds(job)
        if st["executed"] < len(cmds):
            raise BenchError("the emulator executed %d commands, the file has %d" %
                             (st["executed"], len(cmds)))
        return secs, job, st, other


# ------------------------------------------------------------------------------------ printcore

def printcore_run(args, cmds):
    """printcore (Printrun) streaming cmds to a fresh emulator at --baud 0: (seconds, stats)."""
    from printrun.printcore import printcore
    from printrun import gcoder
    import logging
    logging.disable(logging.WARNING)  # printcore logs every non-fatal oddity
    e = Emulator(args.emu, "--baud", 0)
    p = None
    try:
        # printcore opens the port through pyserial at the given baud (a pty takes any), runs
        # `stty -F PORT -hup`, then sends M105 until the board answers: p.online
        devnull = os.open(os.devnull, os.O_WRONLY)
        saved = os.dup(1)
        os.dup2(devnull, 1)  # stty's chatter
        try:
            p = printcore(e.path, 115200)
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            os.close(devnull)
        wait_for(lambda: p.online, 15, "printcore online", 0.01)
        g = gcoder.LightGCode(cmds)
        base = e.stats()["executed"]
        load = Load([e.proc.pid])
        t0 = time.monotonic()
        if not p.startprint(g):
            raise BenchError("printcore refused to start the print")
        wait_for(lambda: not p.printing, max(60, len(cmds) / 100), "printcore to finish", 0.002)
        secs = time.monotonic() - t0
        other, _ = load.done()
        st = e.stats()
        done = st["executed"] - base
        if done < len(cmds):
            raise BenchError("printcore: the emulator executed %d commands of %d" %
                             (done, len(cmds)))
        return secs, other
    finally:
        if p is not None:
            try:
                p.disconnect()
            except Exception:
                pass
        e.close()


# ------------------------------------------------------------------------------------ parts

def labbridge_runs(args, cmds, printer_opts):
    """args.repeat runs of one job at --baud 0, each with a fresh bridge and emulator: the
    lines/s of each run (printed) and the other load of each."""
    rates, loads = [], []
    for i in range(args.repeat):
        # no simulated baud: nothing to pace the writes to (as a board with native USB)
        secs, job, st, other = stream_job(args, cmds, ["--baud", 0],
                                          dict(printer_opts, pace=0), 120)
        rates.append(len(cmds) / secs)
        loads.append(other)
        log("labbridge : run %d: %d lines in %.3f s = %.0f lines/s (job started -> finished), "
            "%d resends  (other load %.2f cores)" %
            (i + 1, len(cmds), secs, rates[-1], st["rejected"], other))
    return rates, loads


def part1(args, cmds, results):
    log("\n== 1. one line in flight (inflight = 1), emulator --baud 0, best of %d" % args.repeat)
    rates, loads = labbridge_runs(args, cmds, {"inflight": 1})
    lb = max(rates)
    n_pc = min(len(cmds), args.printcore_lines)
    pcs, pc_loads = [], []
    for i in range(args.repeat):
        pc_secs, pc_other = printcore_run(args, cmds[:n_pc])
        pcs.append(n_pc / pc_secs)
        pc_loads.append(pc_other)
        log("printcore : run %d: %d lines (the file's first %d) in %.3f s = %.0f lines/s "
            "(startprint -> printing False)  (other load %.2f cores)" %
            (i + 1, n_pc, n_pc, pc_secs, pcs[-1], pc_other))
    pc = max(pcs)
    ratio = lb / pc
    met = ratio >= 10
    log("best: labbridge %.0f lines/s, printcore %.0f lines/s: ratio %.1fx "
        "(worst run of each: %.1fx)" % (lb, pc, ratio, min(rates) / min(pcs)))
    log("ratio target >= 10x: %s" % verdict(met))
    results.append({"bench": "inflight1_vs_printcore", "lines": len(cmds),
                    "labbridge_lines_s": [round(x) for x in rates], "printcore_lines": n_pc,
                    "printcore_lines_s": [round(x) for x in pcs], "ratio": round(ratio, 2),
                    "other_load_cores": [round(x, 2) for x in loads + pc_loads],
                    "target": ">= 10x", "met": met,
                    "figure": "%.1fx (%.0f vs %.0f lines/s)" % (ratio, lb, pc)})


def part2(args, cmds, results):
    log("\n== 2. default flow window (inflight and rx_buffer defaults), emulator --baud 0, "
        "best of %d" % args.repeat)
    rates, loads = labbridge_runs(args, cmds, {})
    lb = max(rates)
    met = lb >= 40000
    log("best: %.0f lines/s (worst %.0f)" % (lb, min(rates)))
    log("lines/s target >= 40000: %s" % verdict(met))
    results.append({"bench": "window_lines_s", "lines": len(cmds),
                    "lines_s": [round(x) for x in rates],
                    "other_load_cores": [round(x, 2) for x in loads],
                    "target": ">= 40000 lines/s", "met": met, "figure": "%.0f lines/s" % lb})


def part3(args, cmds, results):
    log("\n== 3. wire use at 115200 baud (emulator --baud 115200), %d lines" % len(cmds))
    secs, job, st, other = stream_job(args, cmds, ["--baud", 115200], {},
                               30 + 2 * frame_bytes(cmds) / LINK_BYTES_S)
    fb = frame_bytes(cmds)
    bps = fb / secs
    ratio = bps / LINK_BYTES_S
    met = ratio >= 0.90
    log("labbridge : %d frame bytes (%d lines, numbered from 1) in %.2f s = %.0f bytes/s, "
        "%.0f lines/s, %d resends  (other load %.2f cores)" %
        (fb, len(cmds), secs, bps, len(cmds) / secs, st["rejected"], other))
    log("link use = %.3f of %.0f bytes/s  (target >= 0.90: %s)" % (ratio, LINK_BYTES_S,
                                                                  verdict(met)))
    results.append({"bench": "wire_115200", "lines": len(cmds), "frame_bytes": fb,
                    "bytes_s": round(bps), "link_bytes_s": LINK_BYTES_S,
                    "ratio": round(ratio, 3), "target": ">= 0.90", "met": met,
                    "other_load_cores": round(other, 2),
                    "figure": "%.3f (%.0f B/s)" % (ratio, bps)})


def pct(sorted_vals, q):
    """Nearest-rank percentile of sorted values."""
    k = max(0, min(len(sorted_vals) - 1, int(math.ceil(q / 100 * len(sorted_vals))) - 1))
    return sorted_vals[k]


def part4(args, cmds, results):
    n = args.estops
    log("\n== 4. emergency stop while streaming at 115200 baud, %d samples" % n)
    rnd = random.Random(4)
    data = text_of(cmds)
    lat = []
    with Setup(args) as s:
        e = s.emulator("--baud", 115200)
        b = s.start_bridge({"b": {"port": e.path}})
        dev = "printer-b"
        b.wait_printer(dev)
        load = Load([b.pid, e.proc.pid])
        for i in range(n):
            job = b.upload(data, "estop-%d.gcode" % i)
            base = e.stats()
            after = base["executed"] + rnd.randint(10, 200)  # stop at a random point
            wait_for(lambda: e.stats()["executed"] >= after, 20, "job %d streaming" % job["id"])
            t0 = time.monotonic_ns()
            r = b.request("printer.estop", {"printer": dev})
            t_reply = time.monotonic_ns()
            if "error" in r:
                raise BenchError("printer.estop: %s" % r["error"])
            st = wait_for(lambda: (lambda x: x if x["estop_ns"] and x["estop_ns"] !=
                                   base["estop_ns"] else None)(e.stats()), 5, "M112 on the wire")
            lat.append((st["estop_ns"] - t0) / 1e6)
            if not st["halted"]:
                raise BenchError("the emulator is not halted after M112")
            j = b.wait_job(job["id"], FINAL, 10)
            if j["state"] != "failed":
                raise BenchError("job %d after the e-stop: %s" % (job["id"], j["state"]))
            log("  sample %2d: %.3f ms (reply after %.3f ms, at line %d)" %
                (i + 1, lat[-1], (t_reply - t0) / 1e6, st["executed"] - base["executed"]))
            b.call("device.call", {"device": dev, "action": "reset"})
            b.wait_printer(dev, 15)
        other, _ = load.done()
    v = sorted(lat)
    p50, p99, mx = pct(v, 50), pct(v, 99), v[-1]
    met = p99 < 5
    log("e-stop latency: p50 %.3f ms, p99 %.3f ms, max %.3f ms over %d samples  "
        "(other load %.2f cores)" % (p50, p99, mx, len(v), other))
    log("p99 target < 5 ms: %s" % verdict(met))
    results.append({"bench": "estop_latency_ms", "samples": len(v), "p50": round(p50, 3),
                    "p99": round(p99, 3), "max": round(mx, 3), "all": [round(x, 3) for x in lat],
                    "other_load_cores": round(other, 2), "target": "p99 < 5 ms", "met": met,
                    "figure": "p50 %.2f / p99 %.2f / max %.2f ms" % (p50, p99, mx)})


def part5(args, cmds, results):
    k = 8
    log("\n== 5. %d printers streaming at once at 115200 baud, %.0f s window" %
        (k, args.window))
    data = text_of(cmds)
    with Setup(args) as s:
        emus = [s.emulator("--baud", 115200) for _ in range(k)]
        b = s.start_bridge({"p%d" % i: {"port": e.path} for i, e in enumerate(emus)})
        devs = ["printer-p%d" % i for i in range(k)]
        for d in devs:
            b.wait_printer(d)
        jobs = [b.upload(data, "multi-%d.gcode" % i, printer=d)["id"]
                for i, d in enumerate(devs)]
        for j in jobs:
            b.wait_job(j, ("printing",) + FINAL, 10)
        # all streaming: every emulator has executed some commands
        wait_for(lambda: all(e.stats()["executed"] > 20 for e in emus), 10, "all 8 streaming")
        ex0 = [e.stats()["executed"] for e in emus]
        load = Load([b.pid] + [e.proc.pid for e in emus])
        c0, t0 = b.cpu_s(), time.monotonic()
        time.sleep(args.window)  # the measurement window (not a synchronisation)
        c1, t1 = b.cpu_s(), time.monotonic()
        other, ours = load.done()
        ex1 = [e.stats()["executed"] for e in emus]
        states = [b.job(j)["state"] for j in jobs]
    dt = t1 - t0
    cpu = 100 * (c1 - c0) / dt
    per = [(a - z) / dt for a, z in zip(ex1, ex0)]
    total = sum(per)
    if any(st != "printing" for st in states):
        log("  warning: not all jobs were still printing at the end of the window: %s" % states)
    met = cpu < 25
    log("bridge CPU %.1f %% of one core over %.1f s; %.0f lines/s in total (per printer "
        "%.0f-%.0f); the 8 emulators and this script %.2f cores  (other load %.2f cores)" %
        (cpu, dt, total, min(per), max(per), ours - cpu / 100, other))
    log("bridge CPU target < 25 %%: %s" % verdict(met))
    results.append({"bench": "eight_printers", "seconds": round(dt, 1),
                    "bridge_cpu_percent": round(cpu, 2), "lines_s_total": round(total),
                    "lines_s_per_printer": [round(x) for x in per], "jobs": states,
                    "other_load_cores": round(other, 2),
                    "target": "< 25 % of one core", "met": met,
                    "figure": "%.1f %% CPU, %.0f lines/s" % (cpu, total)})


def verdict(met):
    return "MET" if met else "NOT MET"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bridge", default="build/labbridge")
    ap.add_argument("--emu", default="build/marlin-emu")
    ap.add_argument("--lines", type=int, default=100000, help="lines of parts 1 and 2")
    ap.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    ap.add_argument("--repeat", type=int, default=2,
                    help="runs of parts 1 and 2 (each with a fresh bridge and emulator); the "
                         "best is compared with the target")
    args = ap.parse_args()
    args.bridge = os.path.abspath(args.bridge)
    args.emu = os.path.abspath(args.emu)
    for p in (args.bridge, args.emu):
        if not os.access(p, os.X_OK):
            sys.exit("%s: not built (make build/labbridge build/marlin-emu)" % p)
    if args.quick:
        args.lines = min(args.lines, 20000)
    if args.quick:
        args.repeat = 1
    args.printcore_lines = 2000 if args.quick else 10000
    wire_lines = 2000 if args.quick else 8000
    args.estops = 8 if args.quick else 100  # p99 of 100 is not just the largest stall
    args.window = 3.0 if args.quick else 10.0
    multi_lines = 2500 if args.quick else 6000

    t_start = time.monotonic()
    big = gcode_lines(args.lines)
    results, broken = [], []
    parts = [(part1, big), (part2, big), (part3, gcode_lines(wire_lines, 3)),
             (part4, gcode_lines(3000, 4)), (part5, gcode_lines(multi_lines, 5))]
    for fn, cmds in parts:
        try:
            fn(args, cmds, results)
        except Exception as e:
            broken.append(fn.__name__)
            log("%s could not run: %s" % (fn.__name__, e))
            if not isinstance(e, BenchError):
                traceback.print_exc()

    log("\n== summary (%.0f s%s)" % (time.monotonic() - t_start, ", --quick" if args.quick else ""))
    rows = [("benchmark", "measured", "target", "result")]
    names = {"inflight1_vs_printcore": "1. inflight=1 vs printcore, baud 0",
             "window_lines_s": "2. default window, baud 0",
             "wire_115200": "3. wire use at 115200",
             "estop_latency_ms": "4. e-stop latency at 115200",
             "eight_printers": "5. 8 printers at 115200: bridge CPU"}
    for r in results:
        rows.append((names[r["bench"]], r["figure"], r["target"], verdict(r["met"])))
    for b in broken:
        rows.append((b, "did not run", "", "BROKEN"))
    w = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        log("  ".join(c.ljust(w[i]) for i, c in enumerate(row)).rstrip())
    log("BENCH_JSON " + json.dumps({"results": results, "broken": broken,
                                    "quick": args.quick}))
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
