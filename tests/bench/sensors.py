#!/usr/bin/python3
"""Sensor benchmarks: a classroom load (30 sensors at 100 Hz: CPU of the bridge, losses) and a
Firmata board at the firmware's fastest interval through the real driver (losses, added latency,
measured by the C subscriber build/bench_zmq).

    /usr/bin/python3 tests/bench/sensors.py --bridge build/labbridge

Figures, not pass/fail: each line says the target and whether it is met. CPU time is the
bridge's own (utime + stime from /proc/PID/stat) over the measured interval, as a share of one
core. Added latency is the time from the driver's reception of the bytes (t_host, stamped when the
serial read returns) to the subscriber's reception.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402 (tests/bench/benchlib.py: the bridge, CPU from /proc)
from benchlib import BENCH_ZMQ  # noqa: E402


def classroom(bridge, seconds):
    tmp = tempfile.mkdtemp(prefix="lbbench-")
    conf = "[bridge]\nsimulate = yes\nemulate = none\n"
    for i in range(30):
        conf += "[sim.s%02d]\nquantity = voltage\nunit = V\nrate = 100\nwave = sine\n" % i
    p = benchlib.start_bridge(bridge, tmp, conf)
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.RCVHWM, 0)
    sub.connect(p.pub)
    sub.subscribe(b"sensor/")
    # warm up: wait for every stream
    seen = set()
    deadline = time.monotonic() + 10
    while len(seen) < 30 and time.monotonic() < deadline:
        if sub.poll(1000):
            seen.add(sub.recv_multipart()[0])
    last, gaps, samples = {}, 0, 0
    c0, t0 = p.cpu_s(), time.monotonic()
    while time.monotonic() - t0 < seconds:
        if not sub.poll(200):
            continue
        topic, header, data = sub.recv_multipart()
        h = json.loads(header)
        if topic in last and h["seq"] != last[topic] + 1:
            gaps += h["seq"] - last[topic] - 1
        last[topic] = h["seq"]
        samples += h["count"]
    dt = time.monotonic() - t0
    cpu = (p.cpu_s() - c0) / dt
    p.stop()
    ctx.destroy(0)
    shutil.rmtree(tmp, ignore_errors=True)
    expected = 30 * 100 * dt
    return {"bench": "classroom_30x100Hz", "seconds": round(dt, 1), "samples": samples,
            "expected": int(expected), "lost_messages": gaps,
            "bridge_cpu_percent_of_one_core": round(100 * cpu, 2), "target_cpu_percent": 5,
            "met": cpu < 0.05 and gaps == 0}


def firmata(bridge, seconds, interval_ms):
    tmp = tempfile.mkdtemp(prefix="lbbench-")
    p = benchlib.start_bridge(bridge, tmp, "[bridge]\nsimulate = yes\nemulate = firmata\n"
                              "[sim.idle]\nrate = 1\nautostart = 0\n")
    dev = "firmata-sim-uno-1"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if any(d["id"] == dev for d in p.call("devices.list")):
            break
        time.sleep(0.1)  # polling the device list at start, not a synchronisation in a test
    p.call("device.set", {"device": dev, "key": "interval_ms", "value": interval_ms})
    # the C subscriber of tests/bench (bench_zmq sublat): Python would add its own latency
    n = int(seconds * 6 * 1000 / interval_ms)
    out = subprocess.run([BENCH_ZMQ, "sublat", p.pub, "sensor/%s/" % dev, str(n)],
                         capture_output=True, timeout=seconds + 30).stdout.decode()
    r = json.loads(out.strip().splitlines()[-1])
    p.stop()
    shutil.rmtree(tmp, ignore_errors=True)
    return {"bench": "firmata_6_pins", "interval_ms": interval_ms, "samples": r["n"],
            "expected_per_s": round(6 * 1000 / interval_ms), "lost_messages": r["missing"],
            "added_latency_us_p50": r["p50_us"], "added_latency_us_p99": r["p99_us"],
            "target_p99_us": 1000, "met": r["missing"] == 0 and r["p99_us"] < 1000}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bridge", default="build/labbridge")
    ap.add_argument("--seconds", type=float, default=10)
    args = ap.parse_args()
    results = [classroom(args.bridge, args.seconds),
               # 6 pins x 3 bytes every 4 ms = 4500 B/s: the fastest that fits 57600 baud
               firmata(args.bridge, args.seconds, 4)]
    for r in results:
        print(json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
