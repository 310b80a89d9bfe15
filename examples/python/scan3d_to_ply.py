#!/usr/bin/python3
"""Scan an object on a 3D scanner (turntable, lasers, camera) and save the points as a PLY file.

    make run                                                # terminal 1: the simulated lab
    examples/python/scan3d_to_ply.py figure.ply             # terminal 2
    examples/python/scan3d_to_ply.py vase.ply --device ciclop-lab1 --steps 200

Needs pyzmq (Debian: python3-zmq). LABBRIDGE_PUB / LABBRIDGE_RPC override the endpoints
(tcp://127.0.0.1:5555 and :5556). The scan is a job of the bridge's scan service (it goes on if
this program stops); each step's points arrive as a binary batch on scanner3d/<id>/points (a live
preview: here counted), then the PLY is fetched with jobs.fetch. Exits 0 when the file is saved,
1 if the scan failed or was cancelled. Formats: bridge/PROTOCOL.md ("3D scanners").
"""
import argparse, json, os, struct, sys
import zmq

import labbridge_net

ap = argparse.ArgumentParser(description="Scan an object to a PLY file through labbridge.")
ap.add_argument("output", help="the PLY file to write")
ap.add_argument("--device", help="a 3D scanner id (default: the first one)")
ap.add_argument("--steps", type=int, help="positions around the turntable")
ap.add_argument("--speed", type=float, help="turntable speed, degrees per minute")
labbridge_net.add_options(ap)
args = ap.parse_args()

ctx = zmq.Context()
rpc = ctx.socket(zmq.DEALER)
rpc.setsockopt(zmq.LINGER, 0)
labbridge_net.connect(rpc, "rpc")
sub = ctx.socket(zmq.SUB)
sub.setsockopt(zmq.LINGER, 0)
labbridge_net.connect(sub, "pub")


def call(method, params=None, frames=False):
    """A request's result (and its binary frames when asked); exits on an error."""
    rpc.send_multipart([json.dumps({"id": 1, "method": method, "params": params or {}}).encode()])
    if not rpc.poll(10000):
        sys.exit("no answer from labbridge: is it running (make run)?")
    parts = rpc.recv_multipart()
    r = json.loads(parts[0])
    if "error" in r:
        sys.exit("%s: %s" % (method, r["error"]["message"]))
    return (r["result"], parts[1:]) if frames else r["result"]


def batch(b):
    """A point batch (protocols/pointbatch.h): step, steps, [(x, y, z, r, g, b)]."""
    if b[:4] != b"LBPB" or b[4] != 1:
        raise ValueError("not a point batch")
    step, steps, count = struct.unpack_from("<III", b, 8)
    return step, steps, [struct.unpack_from("<fffBBB", b, 20 + 15 * i) for i in range(count)]


scanners = call("devices.list", {"kind": "scanner3d"})
if not scanners:
    sys.exit("no 3D scanner in the lab")
dev = args.device or scanners[0]["id"]
sub.subscribe("scanner3d/%s/" % dev)
sub.subscribe("bridge/heartbeat/")  # subscriptions travel in order: one heartbeat, and ours are on
while not sub.poll(5000) or not sub.recv_multipart()[0].startswith(b"bridge/heartbeat/"):
    pass
sub.unsubscribe("bridge/heartbeat/")
settings = {k: v for k, v in (("steps", args.steps), ("speed", args.speed)) if v is not None}
job = call("scan.submit", {"device": dev, "format": "ply", "settings": settings,
                           "label": os.path.basename(args.output)})
print("job %d on %s" % (job["id"], dev))
streamed, steps_seen, state = 0, set(), job["state"]
while state not in ("done", "failed", "cancelled", "interrupted"):
    if not sub.poll(3000):
        state = call("jobs.get", {"id": job["id"]})["state"]
        continue
    topic, header, *data = sub.recv_multipart()
    if topic.endswith(b"/points/"):
        step, steps, pts = batch(data[0])
        streamed += len(pts)
        steps_seen.add(step)
        print("\rstep %d/%d  %d points" % (step + 1, steps, streamed), end="", flush=True,
              file=sys.stderr)
    elif topic.endswith(b"/progress/"):
        ev = json.loads(header).get("data") or {}
        if ev.get("job") == job["id"] and ev.get("event") in ("done", "failed", "cancelled"):
            # the service records the end: ask until it has
            for _ in range(50):
                j = call("jobs.get", {"id": job["id"]})
                if j["state"] not in ("starting", "running"):
                    break
                sub.poll(100)
            state = j["state"]
print(file=sys.stderr)
if state != "done":
    print("job %d: %s: %s" % (job["id"], state, call("jobs.get", {"id": job["id"]})["error"]))
    sys.exit(1)
with open(args.output + ".part", "wb") as f:
    off, total = 0, None
    while total is None or off < total:
        r, frames = call("jobs.fetch", {"id": job["id"], "file": "scan.ply", "offset": off},
                         frames=True)
        f.write(frames[0] if frames else b"")
        off, total = off + r["size"], r["total"]
os.replace(args.output + ".part", args.output)
n = int(open(args.output, "rb").read(400).split(b"element vertex ")[1].split()[0])
print("job %d: done, %d points in %d steps streamed, %d points in %s" % (
    job["id"], streamed, len(steps_seen), n, args.output))
sys.exit(0 if n == streamed else 1)
