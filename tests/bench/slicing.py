#!/usr/bin/python3
"""Slicing benchmarks (issue 13's "Speed"): what slicing 3D models in the bridge costs the rest
of the bridge, and what the bridge adds to PrusaSlicer.

    /usr/bin/python3 tests/bench/slicing.py [--bridge build/labbridge] [--models 30] [--idle 5]
                     [--rounds 10] [--prefix "nice -n 10" ...] [--repeat 1] [--fake-models 4]
                     [--fake-mb 20] [--fake-sleep 1] [--bridge-log] [--only load,prefix,cube,fake]

  1. load: a release bridge with one simulated sensor streaming at 1 kHz (10 samples a message,
     100 messages/s) and no printer ([print] approval = no). Idle for --idle seconds, then
     --models different STL files (a 20 mm cube with a tower whose height and place vary)
     uploaded at once (pipelined print.upload requests, preset normal), measured until every job
     left "slicing" (bridge/queue/ events). In both phases: the stream latency (receive time -
     the message's last sample time, by build/bench_zmq sublat, a C subscriber, run in 0.5-s
     chunks: median and p99; a chunk that waited 5 s for a message is a stall, counted), the
     round trip of a devices.list request every 50 ms (p50, p99) and, at the same pace, a 1-byte
     fdatasync in the data folder (the disk's latency: the job store syncs on the main loop).
     Ratios loaded/idle against the 2.0 target; the total slicing time, models/min, the most
     prusa-slicer processes alive at once (the bridge's children, sampled every 50 ms); CPU
     (cores) of the bridge, its slicers, this script and the other programs of the machine.
  1b. prefix: part 1 again with the bridge's slicer a wrapper that runs prusa-slicer under each
     --prefix command (default `nice -n 10`: what the runner could do with setpriority in the
     child; `chrt --idle 0`, `taskset -c 1`...). --repeat N alternates parts 1 and 1b N times.
  2. cube: a 20 mm cube, preset normal, end to end through the bridge (just before the
     print.upload request to the bridge/queue/ event that says the job left "slicing") vs the
     same prusa-slicer command by hand (subprocess, the same arguments and INI: both captured
     from the bridge's own run by a wrapper standing for prusa-slicer in a first bridge; the same
     environment as the bridge gives it: LC_ALL=C, HOME and TMPDIR a fresh folder), and vs
     `prusa-slicer --info` then that command by hand (what the bridge runs when the upload did
     not measure the model: the job's meta has "model_mm" only then, and the line says which
     path ran). Rotated order, --rounds rounds after one warm-up of each, medians, ratio against
     the 1.10 target.
  3. fake: part 1 with a script standing for prusa-slicer that uses no CPU (sleeps --fake-sleep
     seconds, then copies the cube's real G-code repeated to --fake-mb MB) for --fake-models
     models: the bridge's own work per model job (checking the G-code, drawing its thumbnail,
     the job store), apart from the slicer's.

Figures, not pass/fail tests: each part prints its figures and MET / NOT MET, then a last line
BENCH_JSON {...}. Exit status 0 whatever the figures, 1 if a part could not run (the bridge's
state then: whether it answers, its queue, its log's end with --bridge-log, its threads when it
does not answer). Every wait has a timeout; only the processes started here are stopped.
"""
import argparse
import itertools
import json
import os
import shlex
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib

import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402 (tests/bench/benchlib.py: the bridge, CPU from /proc)
from benchlib import (BENCH_ZMQ, ROOT, BenchError, log, machine_busy_s, pct,  # noqa: E402
                      proc_cpu)
import lbtest  # noqa: E402 (the integration tests' request client: on the path since benchlib)

SENSOR = "lat"
STREAM_RATE, STREAM_BATCH = 1000, 10  # 1 kHz, 100 messages/s
CHUNK_MSGS = 50  # one sublat run: 0.5 s of the stream
REQ_PERIOD = 0.05  # a request every 50 ms
PRESET = "normal"

# Standing for prusa-slicer in the bridge that captures the command: keeps its arguments and
# the INI it was given, then runs the real one.
CAPTURE = r"""#!/bin/sh
out=%s
ini=
prev=
for a in "$@"; do
	[ "$prev" = --load ] && ini=$a
	prev=$a
done
if [ -n "$ini" ] && [ ! -e "$out/profile.ini" ]; then
	cp "$ini" "$out/profile.ini"
	for a in "$@"; do printf '%%s\n' "$a"; done >"$out/argv"
fi
exec %s "$@"
"""


class Cpu:
    """CPU use over an interval, in cores: the bridge's own threads, its slicers (reaped
    children), and the other programs (the machine's busy time minus those, this script and its
    children: bench_zmq)."""

    def __init__(self, pid):
        self.pid = pid
        self.t, self.busy = time.monotonic(), machine_busy_s()
        self.bridge, self.kids = proc_cpu(pid)
        self.mine = sum(os.times()[:4])

    def cores(self):
        dt = time.monotonic() - self.t
        bridge, kids = proc_cpu(self.pid)
        bridge, kids = bridge - self.bridge, kids - self.kids
        mine = sum(os.times()[:4]) - self.mine
        other = machine_busy_s() - self.busy - bridge - kids - mine
        return {k: round(max(0.0, v) / dt, 2) for k, v in (
            ("bridge", bridge), ("slicers", kids), ("bench", mine), ("other", other))}


# ------------------------------------------------------------------------------------ models


def box(x0, y0, z0, x, y, z):
    """The 12 outward-facing triangles of an x by y by z mm box at (x0, y0, z0)."""
    v = [(0, 0, 0), (x, 0, 0), (x, y, 0), (0, y, 0), (0, 0, z), (x, 0, z), (x, y, z), (0, y, z)]
    v = [(x0 + a, y0 + b, z0 + c) for a, b, c in v]
    f = [(0, 2, 1), (0, 3, 2), (4, 5, 6), (4, 6, 7), (0, 1, 5), (0, 5, 4), (1, 2, 6), (1, 6, 5),
         (2, 3, 7), (2, 7, 6), (3, 0, 4), (3, 4, 7)]
    return [[v[i] for i in t] for t in f]


def stl_binary(triangles, name):
    out = bytearray(name.encode().ljust(80, b" ")[:80] + struct.pack("<I", len(triangles)))
    for t in triangles:
        out += struct.pack("<3f", 0, 0, 0)
        for p in t:
            out += struct.pack("<3f", *p)
        out += b"\0\0"
    return bytes(out)


def cube():
    return stl_binary(box(0, 0, 0, 20, 20, 20), "slicing.py 20 mm cube")


def pupil_model(i):
    """Model i: a 20 mm cube with a 5 x 5 mm tower on top, its height and place varying."""
    h = 1 + 0.5 * (i % 10)
    x, y = 2 + (i % 4) * 3.5, 2 + (i // 4 % 4) * 3.5
    return stl_binary(box(0, 0, 0, 20, 20, 20) + box(x, y, 20, 5, 5, h),
                      "slicing.py pupil %d" % i)


# ------------------------------------------------------------------------------------ bridge


Client = benchlib.bench_client_class()


UPLOAD_IDS = itertools.count(1)


def upload_params(data, name):
    """print.upload's parameters for data in one chunk (an upload id unique in this process)."""
    return {"request_id": "bench-%d-%d" % (os.getpid(), next(UPLOAD_IDS)), "name": name,
            "offset": 0, "final": True, "crc32": zlib.crc32(data), "preset": PRESET}


class Bridge(benchlib.Bridge):
    """A ready release bridge with one simulated 1 kHz sensor and the print service without a
    printer, on ipc:// endpoints in its own folder of tmp."""

    def __init__(self, path, tmp, slicer=None, log_all=False):
        def conf(d):
            return ("[bridge]\nsimulate = yes\nemulate = none\nrequest_timeout_ms = 10000\n"
                    "data_dir = %s\n[sane]\ndiscover = no\n" % os.path.join(d, "data") +
                    "[sim.%s]\nquantity = voltage\nunit = V\nwave = sine\nrate = %d\n"
                    "batch = %d\n" % (SENSOR, STREAM_RATE, STREAM_BATCH) +
                    "[print]\napproval = no\n" + ("slicer = %s\n" % slicer if slicer else ""))
        super().__init__(path, tmp, conf, name="slicing", quiet=not log_all,
                         extra=["--http", "none"])
        self.tmp = self.dir
        self.wait_ready(15)

    def slicers(self):
        """How many of the bridge's children are prusa-slicer now (every thread's children)."""
        n = 0
        try:
            tids = os.listdir("/proc/%d/task" % self.pid)
        except OSError:
            return 0
        for tid in tids:
            try:
                with open("/proc/%d/task/%s/children" % (self.pid, tid)) as f:
                    kids = f.read().split()
            except OSError:
                continue
            for k in kids:
                try:
                    with open("/proc/%s/comm" % k) as f:
                        n += f.read().strip().startswith("prusa-slicer")
                except OSError:
                    pass  # ended meanwhile
        return n

    def state(self):
        """What became of the bridge, for an error message: running or its exit status, whether
        it answers a request now (and its queue's states), the end of its log; when it does not
        answer, every thread's state and backtrace (lbtest.hang_report) go to stdout."""
        rc = self.proc.p.poll()
        self.errf.flush()
        try:
            with open(self.log_path, errors="replace") as f:
                tail = " | ".join(f.read().strip().splitlines()[-5:])
        except OSError:
            tail = ""
        alive = ""
        if rc is None:
            ctx = zmq.Context()
            c = lbtest.Client(ctx, self.rpc, timeout=3)
            try:
                t = time.monotonic()
                c.call("devices.list")
                states = {}
                for j in c.call("print.queue", {}):
                    states[j.get("state")] = states.get(j.get("state"), 0) + 1
                alive = "; it answers (devices.list in %.1f ms), print.queue: %s" % (
                    (time.monotonic() - t) * 1e3, states)
            except AssertionError as e:
                alive = "; it does not answer (%s): its threads below" % e
                log(lbtest.hang_report(self.pid))
            finally:
                c.close()
                ctx.destroy(0)
        return "bridge %s%s; its log ends: %s" % (
            "running" if rc is None else "exited with status %d" % rc, alive, tail or "(empty)")


class QueueEvents:
    """A SUB on bridge/queue/: which jobs left "slicing", and when (monotonic s)."""

    def __init__(self, ctx, b):
        self.s = ctx.socket(zmq.SUB)
        self.s.setsockopt(zmq.LINGER, 0)
        self.s.connect(b.pub)
        self.s.subscribe(b"bridge/queue/")
        self.left = {}  # job id -> (time, event, job)

    def read(self, timeout_ms=0):
        """Reads the events waiting (waiting timeout_ms for the first); returns how many."""
        n = 0
        while self.s.poll(timeout_ms if n == 0 else 0):
            f = self.s.recv_multipart()
            t = time.monotonic()
            n += 1
            d = json.loads(f[1]).get("data", {})
            job = d.get("job") or {}
            if d.get("event") != "slicing" and job.get("state") != "slicing" and "id" in d:
                self.left.setdefault(d["id"], (t, d.get("event"), job))
        return n

    def wait_left(self, job_id, timeout):
        end = time.monotonic() + timeout
        while job_id not in self.left:
            left = end - time.monotonic()
            if left <= 0:
                raise BenchError("job %s still slicing after %d s" % (job_id, timeout))
            self.read(int(left * 1000) + 1)
        return self.left[job_id]

    def close(self):
        self.s.close(0)


def wait_subscribed(c, ev, timeout=10):
    """Until the queue SUB receives events (a SUB misses what is published before it is
    connected): a tiny G-code job uploaded and cancelled, again until its events arrive."""
    end = time.monotonic() + timeout
    data = b"G28\n"
    while time.monotonic() < end:
        p = upload_params(data, "warm.gcode")
        p.pop("preset")
        job = c.call("print.upload", p, frames=[data])
        c.call("print.cancel", {"id": job["id"]})
        if ev.read(500):
            ev.left.clear()
            return
    raise BenchError("no event on bridge/queue/ within %d s" % timeout)


class StreamLatency:
    """build/bench_zmq sublat on the sensor's stream, in chunks of CHUNK_MSGS messages, back to
    back on a thread; each chunk's latencies go to the phase that was current all along it."""

    def __init__(self, b, tmp):
        self.b, self.tmp = b, tmp
        self.phase = "warm-up"
        self.lat = {}  # phase -> [latency ns]
        self.missing = {}
        self.chunks = {}
        self.stalls = {}  # phase -> chunks that ended because no message came for 5 s
        self.error = None
        self.stopping = False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        out = os.path.join(self.tmp, "sublat.txt")
        try:
            while not self.stopping:
                phase = self.phase
                p = subprocess.run([BENCH_ZMQ, "sublat", self.b.pub, "sensor/sim-%s/" % SENSOR,
                                    str(CHUNK_MSGS), "2", out],
                                   capture_output=True, text=True, timeout=30)
                lines = p.stdout.strip().splitlines()
                r = json.loads(lines[-1]) if lines else {}
                if p.returncode != 0 and not r.get("timeout"):
                    raise BenchError("bench_zmq sublat: %s %s" % (p.stdout, p.stderr))
                if phase != self.phase:
                    continue
                if r.get("timeout"):  # no message for 5 s (or 10 s at first): a stall, counted
                    self.stalls[phase] = self.stalls.get(phase, 0) + 1
                with open(out) as f:
                    lat = [int(line.split()[0]) for line in f if line.strip()]
                self.lat.setdefault(phase, []).extend(lat)
                self.missing[phase] = self.missing.get(phase, 0) + r["missing"]
                self.chunks[phase] = self.chunks.get(phase, 0) + 1
        except (BenchError, OSError, ValueError, subprocess.SubprocessError) as e:
            self.error = e

    def wait_chunks(self, phase, n, timeout):
        """Until n chunks of phase are in (the phase must be current)."""
        end = time.monotonic() + timeout
        while self.chunks.get(phase, 0) < n and self.error is None:
            if time.monotonic() > end:
                raise BenchError("no stream latency for %s within %d s" % (phase, timeout))
            time.sleep(0.05)  # polling another thread's progress, bounded by the timeout
        self.check()

    def check(self):
        if self.error is not None:
            raise BenchError(str(self.error))

    def stop(self):
        self.stopping = True
        self.t.join(40)


def stats_ms(v_ns):
    return {"n": len(v_ns), "p50_ms": round(statistics.median(v_ns) / 1e6, 3),
            "p99_ms": round(pct(v_ns, 99) / 1e6, 3), "max_ms": round(max(v_ns) / 1e6, 3)}


PREFIXED = r"""#!/bin/sh
exec %s %s "$@"
"""


def part_load(args, tmp, result, prefix=None, fake=None):
    """Part 1; with prefix (a command, e.g. "nice -n 10"), the bridge's slicer is a wrapper
    running prusa-slicer under it (what a runner calling setpriority in the child would do);
    with fake ((path, models, label)), that slicer and that many models (part 3)."""
    slicer = fake[0] if fake else None
    if prefix:
        slicer = os.path.join(tmp, "prefixed-%d" % time.monotonic_ns())
        with open(slicer, "w") as f:
            f.write(PREFIXED % (prefix, shlex.quote(args.slicer_path)))
        os.chmod(slicer, 0o755)
    b = Bridge(args.bridge, tmp, slicer=slicer, log_all=args.bridge_log)
    ctx = zmq.Context()
    sl = None
    try:
        c = Client(ctx, b.rpc)
        ev = QueueEvents(ctx, b)
        wait_subscribed(c, ev)
        sl = StreamLatency(b, b.tmp)
        sl.wait_chunks("warm-up", 1, 20)
        models = [pupil_model(i) for i in range(fake[1] if fake else args.models)]
        rtt = {"idle": [], "loaded": []}
        syncs = {"idle": [], "loaded": []}
        probe = os.open(os.path.join(b.tmp, "data", "fsync-probe"), os.O_WRONLY | os.O_CREAT,
                        0o600)

        def request(phase):
            t = time.monotonic_ns()
            c.call("devices.list")
            rtt[phase].append(time.monotonic_ns() - t)
            # the disk's own latency meanwhile (the bridge's job store syncs on its main loop)
            os.pwrite(probe, b"x", 0)
            t = time.monotonic_ns()
            os.fdatasync(probe)
            syncs[phase].append(time.monotonic_ns() - t)

        # idle: requests every 50 ms, until --idle seconds and 3 latency chunks at least
        sl.phase = "idle"
        cpu, t0 = Cpu(b.pid), time.monotonic()
        n0 = sl.chunks.get("idle", 0)
        while time.monotonic() - t0 < args.idle or sl.chunks.get("idle", 0) < n0 + 3:
            if time.monotonic() - t0 > args.idle + 20:
                raise BenchError("the stream latency chunks did not come in the idle phase")
            request("idle")
            time.sleep(REQ_PERIOD)  # pacing the requests, not a synchronisation
            sl.check()
        idle_load = cpu.cores()
        # loaded: every upload sent at once, then the same requests until all left "slicing"
        sl.phase = "loaded"
        ups = Client(ctx, b.rpc)
        t_up = time.monotonic()
        ids = [ups.send("print.upload", upload_params(m, "pupil-%02d.stl" % i), frames=[m])
               for i, m in enumerate(models)]
        jobs, replies = [], {}
        end = time.monotonic() + 60
        while len(replies) < len(ids) and time.monotonic() < end:
            try:
                r = ups.recv_json(max(0.001, end - time.monotonic()))
            except AssertionError:
                break
            replies[r.get("id")] = r
        if len(replies) < len(ids):
            raise BenchError("%d of %d uploads not answered within 60 s (ids %s; answered: %s)"
                             % (len(ids) - len(replies), len(ids),
                                [i for i in ids if i not in replies],
                                [(i, "result" if "result" in r else r.get("error"))
                                 for i, r in sorted(replies.items())]))
        for i in ids:
            if "result" not in replies[i]:
                raise BenchError("print.upload: %s" % replies[i].get("error"))
            jobs.append(replies[i]["result"]["id"])
        t_uploaded = time.monotonic()
        cpu = Cpu(b.pid)
        most, samples = 0, []
        while not all(j in ev.left for j in jobs):
            if time.monotonic() - t_up > args.slice_timeout:
                raise BenchError("%d of %d models still slicing after %d s" % (
                    sum(j not in ev.left for j in jobs), len(jobs), args.slice_timeout))
            request("loaded")
            n = b.slicers()
            most = max(most, n)
            samples.append(n)
            ev.read(int(REQ_PERIOD * 1000))
            sl.check()
        t_end = max(ev.left[j][0] for j in jobs)
        loaded_load = cpu.cores()
        sl.phase = "after"
        ended = {ev.left[j][1] for j in jobs}
        failed = [ev.left[j][2].get("error") for j in jobs if ev.left[j][1] == "failed"]
        sl.stop()
        sl.check()
        ups.close()
        c.close()
        ev.close()
        os.close(probe)
        for ph in ("idle", "loaded"):
            if not sl.lat.get(ph):
                raise BenchError("no stream latency measured in the %s phase (slicing too short:"
                                 " %.1f s?)" % (ph, t_end - t_up))
        s_idle, s_load = stats_ms(sl.lat["idle"]), stats_ms(sl.lat["loaded"])
        r_idle, r_load = stats_ms(rtt["idle"]), stats_ms(rtt["loaded"])
        total = t_end - t_up
        busy_samples = [n for n in samples if n > 0]
        f_idle, f_load = stats_ms(syncs["idle"]), stats_ms(syncs["loaded"])
        r = dict(
            fdatasync_idle=f_idle, fdatasync_loaded=f_load, models=len(jobs),
            slicing_s=round(total, 2),
            models_per_min=round(len(jobs) / total * 60, 1),
            upload_s=round(t_uploaded - t_up, 3), slicers_max=most,
            slicers_mean=round(statistics.mean(busy_samples), 2) if busy_samples else 0,
            ended=sorted(e or "?" for e in ended), failed=len(failed),
            stream_idle=s_idle, stream_loaded=s_load, rtt_idle=r_idle, rtt_loaded=r_load,
            stream_missing_idle=sl.missing.get("idle", 0),
            stream_missing_loaded=sl.missing.get("loaded", 0),
            stream_stalls_5s_idle=sl.stalls.get("idle", 0),
            stream_stalls_5s_loaded=sl.stalls.get("loaded", 0),
            cpu_idle_cores=idle_load, cpu_loaded_cores=loaded_load)
        ratios = {"stream p50": s_load["p50_ms"] / s_idle["p50_ms"],
                  "stream p99": s_load["p99_ms"] / s_idle["p99_ms"],
                  "request p99": r_load["p99_ms"] / r_idle["p99_ms"]}
        r["ratios"] = {k: round(v, 2) for k, v in ratios.items()}
        r["slicer"] = prefix or (fake[2] if fake else "prusa-slicer")
        result.setdefault("fake" if fake else "load", []).append(r)
        log("%s %d models (20 mm cube + a tower), preset %s%s, uploaded at once (%.2f s for the "
            "uploads' replies), every one out of \"slicing\" %.2f s after the first upload: "
            "%.1f models/min; slicers at once: at most %d (mean %.2f while any ran); ended: %s%s"
            % ("3." if fake else "1b." if prefix else "1.", len(jobs), PRESET,
               ", the slicer run by `%s`" % prefix if prefix else
               ", the slicer %s" % fake[2] if fake else "",
               t_uploaded - t_up, total, len(jobs) / total * 60, most, r["slicers_mean"],
               ", ".join(r["ended"]), "; failed: %s" % failed[0] if failed else ""))
        log("   CPU in cores (of 2), idle phase / loaded phase: bridge %.2f / %.2f, slicers "
            "%.2f / %.2f, this benchmark %.2f / %.2f, other programs %.2f / %.2f" % (
                idle_load["bridge"], loaded_load["bridge"], idle_load["slicers"],
                loaded_load["slicers"], idle_load["bench"], loaded_load["bench"],
                idle_load["other"], loaded_load["other"]))
        for what, i, l, extra in (
                ("stream latency (1 kHz sensor, %d-sample messages; C subscriber)"
                 % STREAM_BATCH, s_idle, s_load,
                 ", seq gaps %d / %d, stalls over 5 s %d / %d" % (
                     sl.missing.get("idle", 0), sl.missing.get("loaded", 0),
                     sl.stalls.get("idle", 0), sl.stalls.get("loaded", 0))),
                ("devices.list round trip every %d ms" % (REQ_PERIOD * 1000), r_idle, r_load,
                 ""),
                ("the disk meanwhile: fdatasync of 1 byte in the data folder", f_idle, f_load,
                 "")):
            log("   %s: idle p50 %.2f ms p99 %.2f ms max %.2f ms (n %d); loaded p50 %.2f ms p99 "
                "%.2f ms max %.2f ms (n %d)%s" % (
                    what, i["p50_ms"], i["p99_ms"], i["max_ms"], i["n"], l["p50_ms"],
                    l["p99_ms"], l["max_ms"], l["n"], extra))
        log("   ratios loaded/idle: %s; target <= 2.0: %s" % (
            ", ".join("%s %.2f" % kv for kv in ratios.items()),
            "MET" if all(v <= 2.0 for v in ratios.values()) else "NOT MET"))
    except (BenchError, AssertionError) as e:
        raise BenchError("%s (%s)" % (e, b.state()))
    finally:
        if sl is not None and sl.t.is_alive():
            sl.stop()
        b.stop()
        ctx.destroy(0)


def capture_command(args, tmp, data):
    """The slicer's arguments and INI for data (preset normal), from a bridge whose slicer is a
    wrapper that keeps them: (argv list, folder holding profile.ini)."""
    out = os.path.join(tmp, "captured")
    if os.path.exists(os.path.join(out, "argv")):  # captured by an earlier part
        with open(os.path.join(out, "argv")) as f:
            return f.read().splitlines(), out
    os.makedirs(out, exist_ok=True)
    wrapper = os.path.join(out, "prusa-slicer")
    with open(wrapper, "w") as f:
        f.write(CAPTURE % (shlex.quote(out), shlex.quote(args.slicer_path)))
    os.chmod(wrapper, 0o755)
    b = Bridge(args.bridge, tmp, slicer=wrapper)
    ctx = zmq.Context()
    try:
        c = Client(ctx, b.rpc)
        ev = QueueEvents(ctx, b)
        wait_subscribed(c, ev)
        job = c.call("print.upload", upload_params(data, "cube.stl"), frames=[data])
        _, what, _ = ev.wait_left(job["id"], 60)
        if what != "sliced":
            raise BenchError("the capture job ended %s: %s" % (
                what, c.call("print.job", {"id": job["id"]}).get("error")))
        ev.close()
        c.close()
    finally:
        b.stop()
        ctx.destroy(0)
    try:
        with open(os.path.join(out, "argv")) as f:
            argv = f.read().splitlines()
    except OSError:
        raise BenchError("the wrapper did not see a slicing run")
    return argv, out


def by_hand(args, argv, ini, model, folder, info=False):
    """prusa-slicer with the bridge's arguments on our own files, as the bridge runs it (LC_ALL=C,
    HOME and TMPDIR its folder, cwd its folder), after `prusa-slicer --info MODEL` when info:
    (wall seconds of both, the slicing command)."""
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    cmd, i = [args.slicer_path], 0
    while i < len(argv):
        a = argv[i]
        if a == "--load":
            cmd += [a, ini]
            i += 2
            continue
        if a == "--output":
            cmd += [a, os.path.join(folder, "out.gcode")]
            i += 2
            continue
        cmd.append(a)
        i += 1
    cmd[-1] = model  # the model is the last argument
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "HOME": folder,
           "TMPDIR": folder}
    t = time.monotonic()
    for c in ([[args.slicer_path, "--info", model]] if info else []) + [cmd]:
        p = subprocess.run(c, cwd=folder, env=env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        if p.returncode != 0:
            break
    dt = time.monotonic() - t
    if p.returncode != 0 or not os.path.exists(os.path.join(folder, "out.gcode")):
        raise BenchError("prusa-slicer by hand (%s): %s" % (
            " ".join(cmd), p.stdout.decode(errors="replace")[-300:]))
    return dt, cmd


def part_cube(args, tmp, result):
    data = cube()
    argv, captured = capture_command(args, tmp, data)
    model = os.path.join(tmp, "cube.stl")
    with open(model, "wb") as f:
        f.write(data)
    ini = os.path.join(captured, "profile.ini")
    b = Bridge(args.bridge, tmp)
    ctx = zmq.Context()
    try:
        c = Client(ctx, b.rpc)
        ev = QueueEvents(ctx, b)
        wait_subscribed(c, ev)
        rows, info_ran, cmd = [], set(), None

        def bridge_run():
            t = time.monotonic()
            job = c.call("print.upload", upload_params(data, "cube.stl"), frames=[data])
            t_reply = time.monotonic()
            t_end, what, _ = ev.wait_left(job["id"], 60)
            if what != "sliced":
                raise BenchError("the cube's job ended %s: %s" % (
                    what, c.call("print.job", {"id": job["id"]}).get("error")))
            meta = c.call("print.job", {"id": job["id"]}).get("meta") or {}
            info_ran.add("model_mm" in meta)
            return t_end - t, t_reply - t

        order = ("bridge", "hand", "hand_info")
        for r in range(args.rounds + 1):  # round 0: warm-up of each
            row = {}
            for who in order[r % 3:] + order[:r % 3]:
                if who == "bridge":
                    row["bridge"], row["upload"] = bridge_run()
                else:
                    row[who], c2 = by_hand(args, argv, ini, model, os.path.join(tmp, "hand"),
                                           info=who == "hand_info")
                    cmd = cmd or c2
            if r > 0:
                rows.append(row)
            log("   round %s: bridge %.1f ms (upload reply %.1f ms), by hand %.1f ms, by hand "
                "--info then slicing %.1f ms" % (
                    r if r else "0 (warm-up, not counted)", row["bridge"] * 1e3,
                    row["upload"] * 1e3, row["hand"] * 1e3, row["hand_info"] * 1e3))
        ev.close()
        c.close()
    finally:
        b.stop()
        ctx.destroy(0)
    med = {k: statistics.median(x[k] for x in rows) for k in rows[0]}
    ratio = med["bridge"] / med["hand"]
    ratio_info = med["bridge"] / med["hand_info"]
    path = ("with `prusa-slicer --info` first (meta has model_mm)" if info_ran == {True} else
            "without --info (size measured at upload)" if info_ran == {False} else
            "mixed: --info in some rounds")
    result["cube"] = {
        "bridge_ms_p50": round(med["bridge"] * 1e3, 1),
        "hand_ms_p50": round(med["hand"] * 1e3, 1),
        "hand_info_ms_p50": round(med["hand_info"] * 1e3, 1),
        "upload_reply_ms_p50": round(med["upload"] * 1e3, 1), "ratio": round(ratio, 3),
        "ratio_vs_hand_info": round(ratio_info, 3), "rounds": len(rows),
        "info_ran": sorted(info_ran),
        "bridge_ms_min": round(min(x["bridge"] for x in rows) * 1e3, 1),
        "hand_ms_min": round(min(x["hand"] for x in rows) * 1e3, 1)}
    log("2. 20 mm cube, preset %s, medians of %d alternated rounds: through the bridge (upload "
        "-> out of \"slicing\") %.1f ms (upload reply %.1f ms), prusa-slicer by hand %.1f ms "
        "(min %.1f vs %.1f ms), by hand --info then slicing %.1f ms; the bridge ran %s" % (
            PRESET, len(rows), med["bridge"] * 1e3, med["upload"] * 1e3, med["hand"] * 1e3,
            result["cube"]["bridge_ms_min"], result["cube"]["hand_ms_min"],
            med["hand_info"] * 1e3, path))
    log("   by hand: %s" % " ".join(shlex.quote(a) for a in cmd))
    log("   ratio bridge/by hand %.3f (bridge/by hand with --info %.3f); target < 1.10: %s" % (
        ratio, ratio_info, "MET" if ratio < 1.10 else
        ("NOT MET (met against the same two runs by hand)" if ratio_info < 1.10 else
         "NOT MET")))


FAKE = r"""#!/bin/sh
# Standing for prusa-slicer without using the CPU: --info answers for the pupils' models; a
# slicing run prints one progress line, sleeps, then writes a copy of a real G-code file.
for a in "$@"; do
	if [ "$a" = --info ]; then
		printf '[model.stl]\nsize_x = 20.000000\nsize_y = 20.000000\nsize_z = 25.000000\n'
		printf 'number_of_facets = 24\nmanifold = yes\n'
		exit 0
	fi
	[ "$prev" = --output ] && out=$a
	prev=$a
done
echo "10 => Processing triangulated mesh"
sleep %s
exec cp %s "$out"
"""


def part_fake(args, tmp, result):
    """Part 3: the bridge's own work per model job, without a slicer using the CPU: part 1 with
    FAKE standing for prusa-slicer, writing the cube's real G-code repeated to --fake-mb MB."""
    data = cube()
    argv, captured = capture_command(args, tmp, data)
    model = os.path.join(tmp, "cube.stl")
    with open(model, "wb") as f:
        f.write(data)
    folder = os.path.join(tmp, "fake-gcode")
    by_hand(args, argv, os.path.join(captured, "profile.ini"), model, folder)
    with open(os.path.join(folder, "out.gcode"), "rb") as f:
        one = f.read()
    big = os.path.join(tmp, "big.gcode")
    with open(big, "wb") as f:
        for _ in range(max(1, round(args.fake_mb * 1e6 / len(one)))):
            f.write(one)  # the same print again and again: valid G-code, as long as wanted
    mb = os.path.getsize(big) / 1e6
    os.unlink(os.path.join(folder, "out.gcode"))
    fake = os.path.join(tmp, "fake-slicer")
    with open(fake, "w") as f:
        f.write(FAKE % (args.fake_sleep, shlex.quote(big)))
    os.chmod(fake, 0o755)
    part_load(args, tmp, result, fake=(fake, args.fake_models,
                                       "a script (sleep %s s, then a %.1f MB G-code copied)"
                                       % (args.fake_sleep, mb)))
    os.unlink(big)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bridge", default=os.path.join(ROOT, "build", "labbridge"))
    ap.add_argument("--slicer", default="prusa-slicer", help="the program by hand")
    ap.add_argument("--models", type=int, default=30)
    ap.add_argument("--idle", type=float, default=5, help="seconds of the idle phase")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--slice-timeout", type=float, default=120)
    ap.add_argument("--prefix", action="append",
                    help="part 1b: part 1 again with the slicer run by this command prefix "
                    "(repeatable; default: \"nice -n 10\")")
    ap.add_argument("--repeat", type=int, default=1,
                    help="parts 1 and 1b alternated this many times")
    ap.add_argument("--fake-models", type=int, default=4, help="part 3's models")
    ap.add_argument("--fake-mb", type=float, default=20, help="part 3's G-code size")
    ap.add_argument("--fake-sleep", default="1", help="part 3's slicing time (s, no CPU)")
    ap.add_argument("--bridge-log", action="store_true",
                    help="parts 1 and 3: the bridge logs everything (not -q); its last lines "
                    "are printed when a part fails")
    ap.add_argument("--only", default="load,prefix,cube,fake")
    args = ap.parse_args()
    args.slicer_path = shutil.which(args.slicer)
    only = set(args.only.split(","))
    tmp = tempfile.mkdtemp(prefix="lb-bench-slicing-")
    result, ok = {}, True
    args.prefix = args.prefix or ["nice -n 10"]
    parts = []
    for _ in range(args.repeat):
        parts.append(("load", part_load))
        parts += [("prefix", lambda a, t, r, p=p: part_load(a, t, r, prefix=p))
                  for p in args.prefix]
    parts += [("cube", part_cube), ("fake", part_fake)]
    for name, fn in parts:
        if name not in only:
            continue
        try:
            if not args.slicer_path:
                raise BenchError("%s is not installed (apt-get install prusa-slicer)"
                                 % args.slicer)
            if not os.access(BENCH_ZMQ, os.X_OK):
                raise BenchError("%s is missing (make build/bench_zmq)" % BENCH_ZMQ)
            fn(args, tmp, result)
        except (BenchError, AssertionError, OSError, ValueError, KeyError,
                subprocess.SubprocessError) as e:  # AssertionError: lbtest, no reply in time
            log("%s: could not run: %s" % (name, e))
            ok = False
    return benchlib.finish(tmp, result, ok)


if __name__ == "__main__":
    sys.exit(main())
