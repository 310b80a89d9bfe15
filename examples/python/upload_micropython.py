#!/usr/bin/python3
"""Take a MicroPython robot, run a program on it, print what it prints, give it back.

    make run                                                   # terminal 1: the simulated lab
    examples/python/upload_micropython.py examples/micropython/hello.py     # terminal 2
    examples/python/upload_micropython.py examples/micropython/square.py --robot micropython-bench
    examples/python/upload_micropython.py mine.py --seconds 30 --save     # and keep it as main.py

Needs pyzmq (Debian: python3-zmq). LABBRIDGE_PUB / LABBRIDGE_RPC override the endpoints
(tcp://127.0.0.1:5555 and :5556). The program's output (robot/<id>/console/) is printed as it
comes, its traceback on stderr. A program still running after --seconds is stopped (Ctrl-C on
the board, motors off). Exits 0 when the program ended well, 1 otherwise (a traceback, the
robot taken, stopped or lost). Format: bridge/PROTOCOL.md, section Robots.
"""
import argparse, json, sys, time
import zmq

import labbridge_net

ap = argparse.ArgumentParser(description="Run a MicroPython program on a robot through labbridge.")
ap.add_argument("program", help="the program (a .py file)")
ap.add_argument("--robot", help="a robot id (default: the first free MicroPython robot)")
ap.add_argument("--seconds", type=float, default=20, help="stop the program after this long")
ap.add_argument("--save", action="store_true", help="also save it on the board as main.py")
ap.add_argument("--name", help="who is programming (shown as the robot's owner)")
labbridge_net.add_options(ap)
args = ap.parse_args()

with open(args.program, encoding="utf-8") as f:
    source = f.read()
ctx = zmq.Context()
rpc = ctx.socket(zmq.DEALER)
rpc.setsockopt(zmq.LINGER, 0)
labbridge_net.connect(rpc, "rpc")
next_id = 0


def call(method, params=None, fail=True):
    """A request's result; exits with the bridge's message on an error (unless fail is False:
    then the error object is returned)."""
    global next_id
    next_id += 1
    rpc.send(json.dumps({"id": next_id, "method": method, "params": params or {}}).encode())
    while rpc.poll(30000):
        r = json.loads(rpc.recv())
        if r.get("id") != next_id:
            continue  # a late answer to an earlier request
        if "error" in r:
            if not fail:
                return r["error"]
            sys.exit("%s: %s" % (method, r["error"]["message"]))
        return r["result"]
    sys.exit("no answer from labbridge: is it running (make run)?")


if args.name:
    call("session.hello", {"name": args.name})
robots = [r for r in call("robot.list") if "micropython" in (r["robot"] or {}).get("languages", [])]
if args.robot:
    robots = [r for r in robots if r["device"] == args.robot]
    if not robots:
        sys.exit("%s is not a MicroPython robot here (robot.list)" % args.robot)
free = [r for r in robots if not r["owner"]]
if not free:
    sys.exit("no free MicroPython robot: %s" % (", ".join(
        "%s (taken by %s)" % (r["device"], r["owner_name"] or r["owner"]) for r in robots)
        or "none is connected"))
robot = free[0]["device"]
call("lease.acquire", {"device": robot, "ttl_ms": 10000})
print("%s is ours (%s)" % (robot, free[0]["name"]), file=sys.stderr)

# the console and the state, subscribed before the run (a heartbeat says the subscription holds)
sub = ctx.socket(zmq.SUB)
sub.setsockopt(zmq.LINGER, 0)
labbridge_net.connect(sub, "pub")
console, state = "robot/%s/console/" % robot, "robot/%s/state/" % robot
for topic in (console, state, "bridge/heartbeat/"):
    sub.subscribe(topic)
while sub.poll(5000) and sub.recv_multipart()[0] != b"bridge/heartbeat/":
    pass

ok = False
try:
    call("robot.program.load", {"device": robot, "language": "micropython", "source": source})
    if args.save:
        print("saved as %s" % call("device.call", {"device": robot, "action": "micropython.save",
                                                   "args": {}})["path"], file=sys.stderr)
    call("robot.program.run", {"device": robot})
    end = time.monotonic() + args.seconds
    renew = time.monotonic() + 3
    running = False
    while True:
        now = time.monotonic()
        if now >= end:
            print("still running after %g s: stopping it" % args.seconds, file=sys.stderr)
            call("robot.program.stop", {"device": robot})
            break
        if now >= renew:
            call("lease.acquire", {"device": robot, "ttl_ms": 10000})
            renew = now + 3
        if not sub.poll(int(min(end, renew) - now) * 1000 + 1):
            continue
        topic, header, *_ = sub.recv_multipart()
        data = json.loads(header).get("data") or {}
        if topic.decode() == console:
            out = sys.stderr if data.get("stream") == "stderr" else sys.stdout
            out.write(data.get("text", ""))
            out.flush()
        elif topic.decode() == state:
            if data.get("state") == "running":
                running = True
            elif running and data.get("state") in ("idle", "error", "stopped", "gone"):
                ok = data["state"] == "idle"
                if not ok:
                    print("%s: %s" % (data["state"], data.get("detail") or ""), file=sys.stderr)
                break
finally:
    call("lease.release", {"device": robot}, fail=False)
print("%s released" % robot, file=sys.stderr)
sys.exit(0 if ok else 1)
