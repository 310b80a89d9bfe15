#!/usr/bin/python3
"""Send a G-code file to the classroom print queue and follow it until it is printed.

    make run                                              # terminal 1: the simulated lab
    examples/python/print_file.py benchy.gcode            # terminal 2
    examples/python/print_file.py part.gcode --printer printer-sim-1 --name "group 3"

Needs pyzmq (Debian: python3-zmq). LABBRIDGE_PUB / LABBRIDGE_RPC override the endpoints
(tcp://127.0.0.1:5555 and :5556). The file goes in 256 KiB chunks with a CRC-32; a chunk that
times out is sent again with the same request id, which the bridge never turns into a second
job. Exits 0 when the job is done, 1 if it failed or was cancelled. Format: bridge/PROTOCOL.md.
"""
import argparse, json, os, socket, sys, time, zlib
import zmq

import labbridge_net

ap = argparse.ArgumentParser(description="Print a G-code file through labbridge's queue.")
ap.add_argument("file", help="a sliced G-code file")
ap.add_argument("--printer", help="a printer id (default: the first free printer)")
ap.add_argument("--name", help="who is printing (shown in the queue)")
labbridge_net.add_options(ap)
args = ap.parse_args()

ctx = zmq.Context()
rpc = ctx.socket(zmq.DEALER)
rpc.setsockopt(zmq.LINGER, 0)
labbridge_net.connect(rpc, "rpc")
sub = ctx.socket(zmq.SUB)
sub.setsockopt(zmq.LINGER, 0)
labbridge_net.connect(sub, "pub")
sub.subscribe("bridge/queue/")
sub.subscribe("printer/")


def call(method, params, frames=(), tries=3):
    """A request's result; the same request is sent again after a 5 s timeout."""
    for _ in range(tries):
        rpc.send_multipart([json.dumps({"id": 1, "method": method, "params": params}).encode()]
                           + list(frames))
        if rpc.poll(5000):
            r = json.loads(rpc.recv())
            if "error" in r:
                sys.exit("%s: %s" % (method, r["error"]["message"]))
            return r["result"]
    sys.exit("no answer from labbridge: is it running (make run)?")


if args.name:
    call("session.hello", {"name": args.name})
data = open(args.file, "rb").read()
request_id = "%s-%d-%d" % (socket.gethostname(), os.getpid(), time.time_ns())
for off in range(0, max(len(data), 1), 256 * 1024):
    chunk = data[off:off + 256 * 1024]
    final = off + len(chunk) >= len(data)
    params = {"request_id": request_id, "name": os.path.basename(args.file), "offset": off,
              "final": final}
    if final:
        params["crc32"] = zlib.crc32(data)
    if args.printer:
        params["printer"] = args.printer
    job = call("print.upload", params, [chunk])
    print("\ruploaded %d%%" % (100 * (off + len(chunk)) // max(len(data), 1)), end="",
          file=sys.stderr)
print(file=sys.stderr)
meta = job["meta"]
print("job %d: %s, %d lines, %s, estimated %s" % (
    job["id"], job["name"], meta["lines"], meta["slicer"] or "unknown slicer",
    "%d min" % (meta["time_s"] / 60) if meta["time_s"] else "?"))
state = job["state"]
if state == "submitted":
    print("waiting for a teacher's approval (labctl job approve %d)" % job["id"])
while state not in ("done", "failed", "cancelled", "interrupted"):
    if not sub.poll(3000):
        state = call("print.job", {"id": job["id"]})["state"]  # the queue can be asked too
        continue
    topic, header, *_ = sub.recv_multipart()
    h = json.loads(header)
    if h["type"] != "json":
        continue  # the temperature streams (f32 samples)
    d = h["data"]
    if topic == b"bridge/queue/" and d["id"] == job["id"]:
        state = d["event"] if d["event"] != "moved" else state
        if d["job"] and d["job"]["error"]:
            print("\n" + d["job"]["error"])
    elif topic.endswith(b"/status/") and (d.get("job") or {}).get("id") == job["id"]:
        j = d["job"]
        print("\r%5.1f%%  line %d/%d  hotend %.0f°C  bed %.0f°C  ETA %s   " % (
            j["percent"], j["line"], j["lines"], d["hotend"]["actual"], d["bed"]["actual"],
            "%d s" % j["eta_s"] if j["eta_s"] >= 0 else "?"), end="", flush=True)
print("\njob %d: %s" % (job["id"], state))
sys.exit(0 if state == "done" else 1)
