#!/usr/bin/python3
"""A synchronised recording of two (or more) sensors, then the CSV files.

    make run                                   # in one terminal
    examples/python/record_experiment.py sim-temp-1 sim-light-1 --seconds 10 --out results/
    examples/python/record_experiment.py sim-temp-1 sim-ph-1 --french   # ';' and 21,5

The devices restart together at one instant of the bridge's clock (acquisition.start), the bridge
records their streams to CSV on its own disk (so the recording survives this script being
stopped or the laptop lid being closed), and at the end the files are fetched into --out.
Needs pyzmq (Debian: python3-zmq). LABBRIDGE_RPC overrides the request endpoint.
"""
import argparse
import itertools
import json
import os
import sys
import time

import zmq

import labbridge_net

_ids = itertools.count(1)


def call(sock, method, params=None, timeout=5.0):
    """Send a request, return (result, binary frames); exit with the bridge's message on error."""
    rid = next(_ids)
    sock.send_multipart([b"", json.dumps({"id": rid, "method": method,
                                          "params": params or {}}).encode()])
    if not sock.poll(int(timeout * 1000)):
        sys.exit("no answer from the bridge: is labbridge running?")
    frames = sock.recv_multipart()[1:]
    reply = json.loads(frames[0])
    if "error" in reply:
        e = reply["error"]
        sys.exit("%s failed: %s (%s %d)" % (method, e["message"], e["name"], e["code"]))
    return reply["result"], frames[1:]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("devices", nargs="+", help="device ids (labctl devices)")
    ap.add_argument("--seconds", type=float, default=10.0, help="duration (default 10 s)")
    ap.add_argument("--name", default="experiment", help="name of the recording")
    ap.add_argument("--french", action="store_true", help="';' separator and decimal comma")
    ap.add_argument("--out", default=".", help="folder for the CSV files (default: here)")
    ap.add_argument("--rpc", default=None)
    labbridge_net.add_options(ap)
    args = ap.parse_args()

    rpc = zmq.Context().socket(zmq.DEALER)
    rpc.setsockopt(zmq.LINGER, 0)
    labbridge_net.connect(rpc, "rpc", args.rpc)

    streams = ["sensor/%s/" % d for d in args.devices]
    opts = {"sep": ";", "decimal_comma": True} if args.french else {}
    # the devices restart together at start["at_ns"]; the recording keeps rows from then on
    start, _ = call(rpc, "acquisition.start", {"devices": args.devices, "delay_ms": 200})
    rec, _ = call(rpc, "recording.start", dict(streams=streams, name=args.name,
                                               at_ns=start["at_ns"], **opts))
    print("recording %d: %s, synchronised start at %s" %
          (rec["id"], ", ".join(args.devices),
           time.strftime("%H:%M:%S", time.localtime(start["at_ns"] / 1e9))))
    end = time.monotonic() + args.seconds
    while time.monotonic() < end:
        left = end - time.monotonic()
        print("\r%4.1f s left " % left, end="", flush=True)
        time.sleep(min(0.5, max(left, 0)))
    print()
    done, _ = call(rpc, "recording.stop", {"id": rec["id"]})
    os.makedirs(args.out, exist_ok=True)
    for f in done["files"]:
        path = os.path.join(args.out, f["name"])
        offset = 0
        with open(path, "wb") as out:
            while True:
                chunk, frames = call(rpc, "recording.fetch",
                                     {"id": rec["id"], "file": f["name"], "offset": offset})
                out.write(frames[0])
                offset += chunk["size"]
                if chunk["eof"]:
                    break
        with open(path, encoding="utf-8") as fh:
            rows = sum(1 for _ in fh) - 1
        print("%s: %d rows" % (path, rows))
    if not done["files"]:
        sys.exit("nothing was recorded: are the devices streaming?")


if __name__ == "__main__":
    main()
