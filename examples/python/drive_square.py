#!/usr/bin/python3
"""Take a robot, drive a square, give it back: the same script for a Thymio, an mBot, a
micro:bit robot or an Arduino robot.

    make run                                         # terminal 1: the simulated lab
    examples/python/drive_square.py                  # terminal 2: the first robot with wheels
    examples/python/drive_square.py --robot mbot-sim-1 --speed 0.4 --side 1.5 --name "group 3"

Needs pyzmq (Debian: python3-zmq). LABBRIDGE_PUB / LABBRIDGE_RPC override the endpoints
(tcp://127.0.0.1:5555 and :5556). The robot is this group's while the script holds its lease:
nobody else can drive it meanwhile, and if the script dies the bridge stops the robot at once.
Exits 0 once the square is driven, 1 if the robot was taken, stopped or lost. Format:
bridge/PROTOCOL.md, section Robots.
"""
import argparse, json, sys, time
import zmq

import labbridge_net

ap = argparse.ArgumentParser(description="Drive a robot along a square through labbridge.")
ap.add_argument("--robot", help="a robot id (default: the first free robot with wheels)")
ap.add_argument("--speed", type=float, default=0.5, help="wheel speed, 0..1 of the maximum")
ap.add_argument("--side", type=float, default=1.0, help="seconds along each side")
ap.add_argument("--turn", type=float, default=0.5, help="seconds for each quarter turn")
ap.add_argument("--name", help="who is driving (shown as the robot's owner)")
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


if args.name:
    call("session.hello", {"name": args.name})
robots = [r for r in call("robot.list") if "robot.move" in r["requests"]]
if args.robot:
    robots = [r for r in robots if r["device"] == args.robot]
    if not robots:
        sys.exit("%s is not a robot with wheels here (robot.list)" % args.robot)
free = [r for r in robots if not r["owner"]]
if not free:
    sys.exit("no free robot with wheels: %s" % (", ".join(
        "%s (taken by %s)" % (r["device"], r["owner_name"] or r["owner"]) for r in robots)
        or "none is connected"))
robot = free[0]["device"]
lease = call("lease.acquire", {"device": robot, "ttl_ms": 10000})
print("%s is ours (%s)" % (robot, free[0]["name"]))


def drive(left, right, seconds):
    """Wheels at (left, right) for seconds, the lease renewed on the way."""
    call("robot.move", {"device": robot, "left": left, "right": right})
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(min(0.1, max(0, end - time.monotonic())))
    call("lease.acquire", {"device": robot, "ttl_ms": 10000})


try:
    for side in range(4):
        print("side %d" % (side + 1), flush=True)
        drive(args.speed, args.speed, args.side)
        drive(args.speed, -args.speed, args.turn)  # a quarter turn on the spot
finally:
    call("robot.stop", {"device": robot})
    call("lease.release", {"device": robot})
print("square done, %s released" % robot)
