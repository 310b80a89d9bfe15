#!/usr/bin/python3
"""Two-point calibration of a sensor (pH electrode in buffers 4 and 7, a thermometer in ice and
boiling water...), tare, or back to raw values. Stored in the bridge by the sensor's id.

    make run                                   # in one terminal
    examples/python/calibrate.py sim-ph-1 ph           # asks for the two reference values
    examples/python/calibrate.py sim-ph-1 ph --refs 4 7 --yes   # no questions (scripts)
    examples/python/calibrate.py sim-force-1 force --tare
    examples/python/calibrate.py sim-ph-1 ph --clear

For each reference it averages the shown value over --average seconds, then sends the pairs
(shown, true) to calib.set. Needs pyzmq (Debian: python3-zmq). LABBRIDGE_PUB / LABBRIDGE_RPC
override the endpoints.
"""
import argparse
import itertools
import json
import struct
import sys
import time

import zmq

import labbridge_net

_ids = itertools.count(1)


def call(sock, method, params):
    rid = next(_ids)
    sock.send_multipart([b"", json.dumps({"id": rid, "method": method, "params": params}).encode()])
    if not sock.poll(5000):
        sys.exit("no answer from the bridge: is labbridge running?")
    reply = json.loads(sock.recv_multipart()[1])
    if "error" in reply:
        sys.exit("%s failed: %s" % (method, reply["error"]["message"]))
    return reply["result"]


def average(sub, seconds):
    """Mean of the samples received during seconds (the value shown now)."""
    values, unit = [], ""
    end = time.monotonic() + seconds
    while time.monotonic() < end or not values:
        if not sub.poll(5000):
            sys.exit("no samples: is the sensor streaming?")
        frames = sub.recv_multipart()
        h = json.loads(frames[1])
        if h.get("type") != "f32" or len(frames) < 3:
            continue
        values += struct.unpack("<%df" % h["count"], frames[2])
        unit = h.get("unit", "")
    return sum(values) / len(values), unit


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("device")
    ap.add_argument("stream")
    ap.add_argument("--refs", nargs=2, type=float, metavar=("TRUE1", "TRUE2"),
                    help="the two reference values (asked for if not given)")
    ap.add_argument("--yes", action="store_true", help="do not wait for Enter between references")
    ap.add_argument("--average", type=float, default=2.0, help="seconds averaged per reference")
    ap.add_argument("--tare", action="store_true", help="make the value shown now read 0")
    ap.add_argument("--clear", action="store_true", help="remove the calibration")
    ap.add_argument("--pub", default=None)
    ap.add_argument("--rpc", default=None)
    labbridge_net.add_options(ap)
    args = ap.parse_args()

    ctx = zmq.Context()
    rpc = ctx.socket(zmq.DEALER)
    rpc.setsockopt(zmq.LINGER, 0)
    labbridge_net.connect(rpc, "rpc", args.rpc)
    target = {"device": args.device, "stream": args.stream}
    if args.clear:
        call(rpc, "calib.clear", target)
        print("%s/%s: calibration removed, raw values shown" % (args.device, args.stream))
        return
    if args.tare:
        r = call(rpc, "calib.tare", target)
        print("%s/%s: tared (offset %.6g)" % (args.device, args.stream, r["offset"]))
        return
    sub = ctx.socket(zmq.SUB)
    labbridge_net.connect(sub, "pub", args.pub)
    sub.subscribe("sensor/%s/%s/" % (args.device, args.stream))
    points = []
    for k in range(2):
        if args.refs:
            true = args.refs[k]
            if not args.yes:
                input("Put the sensor in reference %d (%g), then press Enter: " % (k + 1, true))
        else:
            true = float(input("Put the sensor in reference %d and type its true value: " % (k + 1)))
        shown, unit = average(sub, args.average)
        print("  reference %d: shown %.6g %s, true %g %s" % (k + 1, shown, unit, true, unit))
        points.append([shown, true])
    if abs(points[0][0] - points[1][0]) < 1e-9:
        sys.exit("the two readings are equal: were the references different?")
    r = call(rpc, "calib.set", dict(target, points=points))
    print("%s/%s calibrated: gain %.6g, offset %.6g (stored in the bridge)" %
          (args.device, args.stream, r["gain"], r["offset"]))


if __name__ == "__main__":
    main()
