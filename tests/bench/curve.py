#!/usr/bin/python3
"""What CURVE costs the streams: raw libzmq and the bridge, plain tcp and CURVE side by side.

    /usr/bin/python3 tests/bench/curve.py [--bridge build/labbridge] [--bench build/bench_zmq]
                                          [--seconds 3]

(a) raw libzmq, two processes (bench_zmq pub -> sub), bridge-shaped messages: messages/s over
    plain tcp and over CURVE, same sizes, same run.
(b) the bridge with N simulated sensors at 100 kHz in batches of 100 (1000 messages/s each): the
    streams a subscriber receives on the local XPUB (plain tcp) alone, then with a CURVE subscriber
    on net_pub at the same time (both counted), and the bridge's CPU. Ratio = CURVE delivered /
    plain delivered in the same step.

Measurements, not pass/fail: exit status 0 when everything ran. One line per figure and a last
line CURVE_JSON {...}. Only processes started here are stopped (benchlib's Proc)."""
import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402  (tests/bench/benchlib.py: processes, the bridge, CPU)
import run as br  # noqa: E402  (tests/bench/run.py: the simulated lab's configuration)

import zmq  # noqa: E402

CERT = 'metadata\n    role = "%s"\n    name = "%s"\ncurve\n    public-key = "%s"\n'


def raw(args, size, count, curve):
    """bench_zmq pub -> sub, CURVE or not: the subscriber's result."""
    env_pub, env_sub = {}, {}
    if curve:
        spub, ssec = zmq.curve_keypair()
        cpub, csec = zmq.curve_keypair()
        env_pub = {"BENCH_CURVE_SERVER": ssec.decode()}
        env_sub = {"BENCH_CURVE_CLIENT": " ".join(k.decode() for k in (spub, cpub, csec))}
    pub = bl.Proc([args.bench, "pub", "tcp://127.0.0.1:0", str(size), str(count)],
                  name="bench_zmq pub", env=dict(os.environ, **env_pub))
    try:
        ep = pub.json_line(10)["endpoint"]
        sub = bl.Proc([args.bench, "sub", ep, str(size), str(count)], name="bench_zmq sub",
                      env=dict(os.environ, **env_sub))
        try:
            r = sub.json_line(120)
            sub.wait(10)
        finally:
            sub.kill()
        pub.wait(30)
    finally:
        pub.kill()
    return r


def start(args, tmp, ndev):
    """A ready bridge with ndev fast simulated sensors, a net_pub, and a registered observer key:
    (the Bridge, with its net_pub and server_key, observer public key, observer secret key)."""
    pub, sec = zmq.curve_keypair()
    devs = [("b%03d" % i, {"rate": "100000", "batch": 100, "wave": "constant", "offset": 1.5,
                           "noise": 0}) for i in range(ndev)]

    def conf(d):
        data = os.path.join(d, "data")
        os.makedirs(os.path.join(data, "keys"))
        with open(os.path.join(data, "keys", "bench.cert"), "w") as f:
            f.write(CERT % ("observer", "bench", pub.decode()))
        return br.sim_conf(devs, True, data)
    b = bl.start_bridge(args.bridge, tmp, conf, timeout=30, name="b%d" % ndev,
                        pub="tcp://127.0.0.1:0", extra=["--net-pub", "tcp://127.0.0.1:0"])
    try:
        b.net_pub = b.call("bridge.info", timeout=5)["endpoints"]["net_pub"]
        b.server_key = b.call("keys.list", timeout=5)["server_key"]
    except bl.BenchError:
        b.stop()
        raise
    return b, pub.decode(), sec.decode()


def step(args, b, cpub, csec, curve_too):
    """One counting window: a plain subscriber, and a CURVE one too when asked; the results and
    the bridge's CPU (cores) over the window."""
    subs = [bl.Proc([args.bench, "subtput", b.pub, "sensor/sim-b", str(args.seconds), "0.5"],
                    name="subtput plain")]
    if curve_too:
        env = dict(os.environ, BENCH_CURVE_CLIENT=" ".join((b.server_key, cpub, csec)))
        subs.append(bl.Proc(
            [args.bench, "subtput", b.net_pub, "sensor/sim-b", str(args.seconds), "0.5"],
            name="subtput curve", env=env))
    try:
        time.sleep(0.6)  # measuring the bridge's CPU over the subscribers' window, not a sync
        th0, t0 = bl.thread_cpu(b.pid), time.monotonic()
        res = [s.json_line(args.seconds + 30) for s in subs]
        th1, t1 = bl.thread_cpu(b.pid), time.monotonic()
        for s in subs:
            s.wait(10)
    finally:
        for s in subs:
            s.kill()
    split = br.thread_cpu_split(b.pid, th0, th1, t1 - t0)
    return res, round(sum(v["cores"] for v in split.values()), 3)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bridge", default=os.path.join(bl.ROOT, "build/labbridge"))
    ap.add_argument("--bench", default=os.path.join(bl.ROOT, "build/bench_zmq"))
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--devices", default="4,16,48")
    args = ap.parse_args()
    out = {"raw": [], "bridge": []}
    for size in (64, 400, 4096):
        count = {64: 1000000, 400: 400000, 4096: 100000}[size]
        p, c = raw(args, size, count, False), raw(args, size, count, True)
        out["raw"].append({"size": size, "plain_msgs_per_s": p["msgs_per_s"],
                           "curve_msgs_per_s": c["msgs_per_s"],
                           "ratio": round(c["msgs_per_s"] / p["msgs_per_s"], 3)})
        print("raw %5d B samples: plain %8.0f msg/s, CURVE %8.0f msg/s: CURVE/plain %.2f"
              % (size, p["msgs_per_s"], c["msgs_per_s"], c["msgs_per_s"] / p["msgs_per_s"]),
              flush=True)
    with tempfile.TemporaryDirectory(prefix="lb-curve-bench-") as tmp:
        for ndev in (int(x) for x in args.devices.split(",")):
            b, cpub, csec = start(args, tmp, ndev)
            try:
                (alone,), cores_alone = step(args, b, cpub, csec, False)
                (plain, curve), cores_both = step(args, b, cpub, csec, True)
            finally:
                b.stop()
            offered = ndev * 1000
            row = {"devices": ndev, "offered_msgs_per_s": offered,
                   "plain_alone_msgs_per_s": alone["msgs_per_s"],
                   "plain_alone_missing": alone["missing"], "bridge_cores_alone": cores_alone,
                   "plain_msgs_per_s": plain["msgs_per_s"], "plain_missing": plain["missing"],
                   "curve_msgs_per_s": curve["msgs_per_s"], "curve_missing": curve["missing"],
                   "curve_lag_ms": curve["lag_last_ms"], "bridge_cores_both": cores_both,
                   "ratio": round(curve["msgs_per_s"] / plain["msgs_per_s"], 3)
                   if plain["msgs_per_s"] else None}
            out["bridge"].append(row)
            print("bridge %2d sensors (offered %6d msg/s): plain alone %7.0f msg/s (missing %d, "
                  "bridge %.2f cores) | with a CURVE subscriber: plain %7.0f (missing %d), CURVE "
                  "%7.0f (missing %d, lag %.1f ms), bridge %.2f cores: CURVE/plain %.2f"
                  % (ndev, offered, alone["msgs_per_s"], alone["missing"], cores_alone,
                     plain["msgs_per_s"], plain["missing"], curve["msgs_per_s"],
                     curve["missing"], curve["lag_last_ms"], cores_both, row["ratio"] or 0),
                  flush=True)
    print("CURVE_JSON " + json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
