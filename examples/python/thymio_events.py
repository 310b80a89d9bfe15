#!/usr/bin/python3
"""Upload an Aseba program to a Thymio and talk with it through events: the robot drives
forward and emits "obstacle [distance]" when something is close in front; this script answers
each obstacle with a "speed" event (back up, then forward again) and stops after a few.

    make run                                          # terminal 1: the simulated lab
    examples/python/thymio_events.py                  # terminal 2: the first free Thymio
    examples/python/thymio_events.py --robot thymio-pg --count 5 --program my.aseba

Needs pyzmq (Debian: python3-zmq). LABBRIDGE_PUB / LABBRIDGE_RPC override the endpoints
(tcp://127.0.0.1:5555 and :5556). The program is compiled by the bridge against the robot's own
description; a mistake in it is reported with its line and column. Exits 0 after --count
obstacles, 1 on an error or when no obstacle came within --timeout seconds. Format:
bridge/PROTOCOL.md, sections Robots and Thymio.
"""
import argparse, json, os, sys, time
import zmq

import labbridge_net

HERE = os.path.dirname(os.path.abspath(__file__))
ap = argparse.ArgumentParser(description="Events between a Thymio's program and this script.")
ap.add_argument("--robot", help="a Thymio's id (default: the first free one)")
ap.add_argument("--program", default=os.path.join(HERE, "..", "aseba", "obstacle_events.aseba"),
                help="the Aseba program (it emits obstacle [d] and handles speed [v])")
ap.add_argument("--count", type=int, default=3, help="obstacles to answer before stopping")
ap.add_argument("--timeout", type=float, default=30, help="seconds to wait for them")
labbridge_net.add_options(ap)
args = ap.parse_args()

ctx = zmq.Context()
rpc = ctx.socket(zmq.DEALER)
rpc.setsockopt(zmq.LINGER, 0)
labbridge_net.connect(rpc, "rpc")
next_id = 0


def call(method, params=None):
    """A request's result; exits with the bridge's message on an error."""
    global next_id
    next_id += 1
    rpc.send(json.dumps({"id": next_id, "method": method, "params": params or {}}).encode())
    while rpc.poll(10000):
        r = json.loads(rpc.recv())
        if r.get("id") != next_id:
            continue  # a late answer to an earlier request
        if "error" in r:
            sys.exit("%s: %s" % (method, r["error"]["message"]))
        return r["result"]
    sys.exit("no answer from labbridge: is it running (make run)?")


thymios = [r for r in call("robot.list") if r["driver"] == "thymio"]
if args.robot:
    thymios = [r for r in thymios if r["device"] == args.robot]
free = [r for r in thymios if not r["owner"]]
if not free:
    sys.exit("no free Thymio here (robot.list): %s" % (
        ", ".join(r["device"] for r in thymios) or "none is connected"))
robot = free[0]["device"]
call("lease.acquire", {"device": robot, "ttl_ms": 10000})

# subscribe before the program runs: its first event must not be missed
sub = ctx.socket(zmq.SUB)
sub.setsockopt(zmq.LINGER, 0)
labbridge_net.connect(sub, "pub")
sub.setsockopt(zmq.SUBSCRIBE, ("robot/%s/event/" % robot).encode())
sub.setsockopt(zmq.SUBSCRIBE, b"bridge/heartbeat/")
# subscriptions take effect asynchronously: the first heartbeat says ours are in place
if not sub.poll(10000):
    sys.exit("no heartbeat from labbridge on its stream socket")
sub.recv_multipart()
sub.setsockopt(zmq.UNSUBSCRIBE, b"bridge/heartbeat/")

with open(args.program, encoding="utf-8") as f:
    source = f.read()
loaded = call("robot.program.load", {
    "device": robot, "language": "aseba", "source": source,
    "events": [{"name": "obstacle", "size": 1}, {"name": "speed", "size": 1}]})
print("%s: program loaded (%d words of bytecode)" % (robot, loaded["words"]))
call("robot.program.run", {"device": robot})

answered = 0
backing = False
deadline = time.monotonic() + args.timeout
try:
    while answered < args.count:
        left = deadline - time.monotonic()
        if left <= 0 or not sub.poll(int(left * 1000)):
            sys.exit("no obstacle within %.0f s" % args.timeout)
        topic, header, *_ = sub.recv_multipart()
        data = json.loads(header).get("data") or {}
        if not topic.startswith(b"robot/") or data.get("name") != "obstacle":
            continue  # robot/<id>/event/ carries every event; event/<name>/ one each
        if not backing:
            answered += 1
            print("obstacle %d at %d: backing up" % (answered, data["args"][0]), flush=True)
            call("device.emit", {"device": robot, "event": "aseba.emit",
                                 "args": {"name": "speed", "args": [-150]}})
            backing = True
            back_until = time.monotonic() + 0.5
        elif time.monotonic() > back_until:
            call("device.emit", {"device": robot, "event": "aseba.emit",
                                 "args": {"name": "speed", "args": [200]}})
            backing = False
        call("lease.acquire", {"device": robot, "ttl_ms": 10000})
finally:
    call("robot.stop", {"device": robot})
    call("lease.release", {"device": robot})
print("%d obstacles answered, %s stopped and released" % (answered, robot))
