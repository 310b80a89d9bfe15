#!/usr/bin/python3
"""make memcheck: the daemon (a build without sanitizers) and labctl under valgrind's memcheck.

    /usr/bin/python3 tests/integration/memcheck.py --bridge build/labbridge --labctl build/labctl

Starts build/labbridge under `valgrind --leak-check=full --error-exitcode=99
--errors-for-leak-kinds=definite` with a small simulated lab on private ipc:// endpoints, drives it
for about 3 s (requests of every kind, errors included, and subscribers), runs `labctl devices`
under valgrind against it, stops the daemon with SIGTERM and fails on any valgrind error (status
99 or a non-zero ERROR SUMMARY), on a definite leak, or on a non-zero exit status.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lbtest import Client, Daemon, Subscriber, make_conf, sensor  # noqa: E402

VALGRIND = ["valgrind", "--leak-check=full", "--error-exitcode=99",
            "--errors-for-leak-kinds=definite", "--show-leak-kinds=definite",
            "--num-callers=30"]
READY_TIMEOUT = 90    # valgrind starts slowly
STOP_TIMEOUT = 60


def valgrind_summary(log):
    """(number of errors, definitely lost bytes) from a valgrind log."""
    errors = re.findall(r"ERROR SUMMARY: (\d+) errors", log)
    lost = re.findall(r"definitely lost: ([\d,]+) bytes", log)
    return (int(errors[-1]) if errors else None,
            int(lost[-1].replace(",", "")) if lost else 0)


def drive(d, seconds):
    """Requests of every kind, and two subscribers, for about seconds."""
    ctx = zmq.Context()
    try:
        c = Client(ctx, d.rpc, timeout=15)
        req = Client(ctx, d.rpc, kind="req", timeout=15)
        sub = Subscriber(ctx, d.pub, [""], timeout=15)
        sub2 = Subscriber(ctx, d.pub, ["sensor/sim-fast/"], rcvhwm=5, timeout=15)
        n = 0
        end = time.monotonic() + seconds
        assert req.call("bridge.info")["protocol"] == 1
        while time.monotonic() < end or n == 0:
            c.call("whoami")
            c.call("session.hello", {"name": "memcheck"})
            c.call("devices.list")
            c.call("device.info", {"device": "sim-t1"})
            c.call("snapshot", {"prefix": "sensor/"})
            c.call("device.get", {"device": "sim-t1"})
            c.call("device.set", {"device": "sim-t1", "key": "rate", "value": 20 + n})
            c.call("device.stop", {"device": "sim-t2"})
            c.call("device.start", {"device": "sim-t2"})
            c.call("device.call", {"device": "sim-t2", "action": "hang", "args": {"ms": 5}})
            c.call("lease.acquire", {"device": "sim-t1", "ttl_ms": 1000})
            c.call("lease.release", {"device": "sim-t1"})
            for method, params in (("nosuch", None), ("device.get", {"device": "nope"}),
                                   ("devices.list", {"bogus": 1}),
                                   ("device.call", {"device": "sim-t1", "action": "fly"})):
                assert "error" in c.request(method, params)
            for raw in (b"{bad json", b"[1]", b'{"id":1}', b'{"id":1,"method":"x\xff"}',
                        b" " * 70000):
                c.send_frames([raw])
                assert "error" in c.recv_json()
            assert "error" in c.request("bridge.info", frames=[b"binary"])
            sub.collect(0.2)
            n += 1
        # a device leaves and comes back; a lease dies with its connection
        c.call("sim.unplug", {"device": "sim-t2"})
        sub.wait_for(lambda m: m.topic == "bridge/devices/" and m.data["event"] == "removed",
                     timeout=15, what="the removed event")
        c.call("sim.plug", {"device": "sim-t2"})
        sub.wait_for(lambda m: m.topic == "bridge/devices/" and m.data["event"] == "added",
                     timeout=15, what="the added event")
        holder = Client(ctx, d.rpc, timeout=15)
        holder.call("lease.acquire", {"device": "sim-t1"})
        holder.close()
        sub2.collect(0.5)
        return n
    finally:
        ctx.destroy(linger=0)


def run_labctl(labctl, d, tmp):
    """labctl devices under valgrind; (ok, message)."""
    log = os.path.join(tmp, "labctl.valgrind")
    cmd = VALGRIND + ["--log-file=" + log, labctl, "--pub", d.pub, "--rpc", d.rpc, "devices"]
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=120)
    except subprocess.TimeoutExpired:
        return False, "labctl devices did not finish within 120 s"
    text = open(log, encoding="utf-8", errors="replace").read() if os.path.exists(log) else ""
    errors, lost = valgrind_summary(text)
    out = p.stdout.decode("utf-8", "replace")
    if p.returncode != 0 or errors or lost or "sim-t1" not in out:
        return False, ("labctl devices: status %d, %s valgrind errors, %d bytes definitely lost"
                       "\nstdout: %s\nstderr: %s\n--- valgrind log\n%s" %
                       (p.returncode, errors, lost, out, p.stderr.decode("utf-8", "replace"),
                        text))
    return True, "labctl devices: clean (status 0, 0 errors)"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bridge", default="build/labbridge")
    ap.add_argument("--labctl", default="build/labctl")
    ap.add_argument("--seconds", type=float, default=3.0, help="how long to drive the daemon")
    args = ap.parse_args()
    if not shutil.which("valgrind"):
        print("memcheck: valgrind is not installed (make test-deps)", file=sys.stderr)
        return 2
    bridge = os.path.abspath(args.bridge)
    labctl = os.path.abspath(args.labctl)
    if not os.access(bridge, os.X_OK):
        print("memcheck: %s is not built" % args.bridge, file=sys.stderr)
        return 2
    tmp = tempfile.mkdtemp(prefix="lbmemcheck-")
    failures = []
    t0 = time.monotonic()
    vg_log = os.path.join(tmp, "bridge.valgrind")
    conf = make_conf({"t1": sensor(rate=50), "t2": sensor(rate=20),
                      "fast": sensor(rate=20000)},
                     bridge={"request_timeout_ms": 5000})
    d = Daemon(tmp, conf, wrapper=VALGRIND + ["--log-file=" + vg_log], binary=bridge)
    try:
        d.start()
        d.wait_ready(READY_TIMEOUT)
        print("memcheck: %s ready under valgrind (%.1f s)" % (args.bridge, time.monotonic() - t0))
        try:
            n = drive(d, args.seconds)
            print("memcheck: drove the daemon: %d rounds of requests" % n)
        except AssertionError as e:
            failures.append("driving the daemon: %s" % e)
        if os.access(labctl, os.X_OK):
            ok, msg = run_labctl(labctl, d, tmp)
            print("memcheck: " + msg.splitlines()[0])
            if not ok:
                failures.append(msg)
        else:
            print("memcheck: SKIPPED labctl: %s is not built" % args.labctl)
    except AssertionError as e:
        failures.append(str(e))
    finally:
        rc = d.stop(STOP_TIMEOUT)
    text = open(vg_log, encoding="utf-8", errors="replace").read() if os.path.exists(vg_log) else ""
    errors, lost = valgrind_summary(text)
    print("memcheck: daemon exit status %s, %s valgrind errors, %d bytes definitely lost" %
          (rc, errors, lost))
    if d.killed:
        failures.append("the daemon did not stop within %d s of SIGTERM" % STOP_TIMEOUT)
    elif rc != 0:
        failures.append("the daemon exited with status %s (99: valgrind errors)" % rc)
    if errors is None:
        failures.append("no valgrind summary in the log")
    elif errors or lost:
        failures.append("valgrind: %d errors, %d bytes definitely lost" % (errors, lost))
    if failures:
        print("\n--- daemon\n%s\n--- valgrind log\n%s" % (d.log(), text))
        for f in failures:
            print("memcheck: FAILED: %s" % f.splitlines()[0])
    shutil.rmtree(tmp, ignore_errors=True)
    print("memcheck: %s in %.1f s" % ("FAILED" if failures else "OK", time.monotonic() - t0))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
