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

HZ = os.sysconf("SC_CLK_TCK")
BENCH_ZMQ = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build",
                         "bench_zmq")


def start(bridge, tmp, conf):
    path = os.path.join(tmp, "bench.conf")
    with open(path, "w") as f:
        f.write(conf)
    p = subprocess.Popen([bridge, "-q", "-c", path, "--pub", "ipc://%s/pub" % tmp,
                          "--rpc", "ipc://%s/rpc" % tmp, "--ws", "none"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 15
    line = p.stdout.readline().decode()
    if not line.startswith("labbridge ready") or time.monotonic() > deadline:
        p.kill()
        sys.exit("the bridge did not start: %s %s" % (line, p.stderr.read().decode()))
    return p


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ


def call(ctx, tmp, method, params):
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.connect("ipc://%s/rpc" % tmp)
    s.send_multipart([b"", json.dumps({"id": 1, "method": method, "params": params}).encode()])
    if not s.poll(10000):
        sys.exit("no answer to %s" % method)
    r = json.loads(s.recv_multipart()[1])
    s.close()
    if "error" in r:
        sys.exit("%s: %s" % (method, r["error"]["message"]))
    return r["result"]


def classroom(bridge, seconds):
    tmp = tempfile.mkdtemp(prefix="lbbench-")
    conf = "[bridge]\nsimulate = yes\nemulate = none\n"
    for i in range(30):
        conf += "[sim.s%02d]\nquantity = voltage\nunit = V\nrate = 100\nwave = sine\n" % i
    p = start(bridge, tmp, conf)
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.RCVHWM, 0)
    sub.connect("ipc://%s/pub" % tmp)
    sub.subscribe(b"sensor/")
    # warm up: wait for every stream
    seen = set()
    deadline = time.monotonic() + 10
    while len(seen) < 30 and time.monotonic() < deadline:
        if sub.poll(1000):
            seen.add(sub.recv_multipart()[0])
    last, gaps, samples = {}, 0, 0
    c0, t0 = cpu_seconds(p.pid), time.monotonic()
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
    cpu = (cpu_seconds(p.pid) - c0) / dt
    p.terminate()
    p.wait(10)
    ctx.destroy(0)
    shutil.rmtree(tmp, ignore_errors=True)
    expected = 30 * 100 * dt
    return {"bench": "classroom_30x100Hz", "seconds": round(dt, 1), "samples": samples,
            "expected": int(expected), "lost_messages": gaps,
            "bridge_cpu_percent_of_one_core": round(100 * cpu, 2), "target_cpu_percent": 5,
            "met": cpu < 0.05 and gaps == 0}


def firmata(bridge, seconds, interval_ms):
    tmp = tempfile.mkdtemp(prefix="lbbench-")
    p = start(bridge, tmp, "[bridge]\nsimulate = yes\nemulate = firmata\n[sim.idle]\nrate = 1\n"
                           "autostart = 0\n")
    ctx = zmq.Context()
    dev = "firmata-sim-uno-1"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if any(d["id"] == dev for d in call(ctx, tmp, "devices.list", {})):
            break
        time.sleep(0.1)  # polling the device list at start, not a synchronisation in a test
    call(ctx, tmp, "device.set", {"device": dev, "key": "interval_ms", "value": interval_ms})
    # the C subscriber of tests/bench (bench_zmq sublat): Python would add its own latency
    n = int(seconds * 6 * 1000 / interval_ms)
    out = subprocess.run([BENCH_ZMQ, "sublat", "ipc://%s/pub" % tmp, "sensor/%s/" % dev, str(n)],
                         capture_output=True, timeout=seconds + 30).stdout.decode()
    r = json.loads(out.strip().splitlines()[-1])
    p.terminate()
    p.wait(10)
    ctx.destroy(0)
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
