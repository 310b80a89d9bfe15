#!/usr/bin/python3
"""Stream sensor samples into a CSV file for a spreadsheet, with nothing missed or counted twice.

    make run                                           # in one terminal
    examples/python/stream_to_csv.py sensor/sim-temp-1/ --count 500 --out temp.csv
    examples/python/stream_to_csv.py sensor/ --sep ';' --decimal-comma --out mesures.csv

It follows the Clone pattern of bridge/PROTOCOL.md: subscribe first, then ask for a snapshot,
then keep only the updates newer than the snapshot (seq greater than the snapshot's), so a
late start neither misses nor repeats a sample. Lost messages (seq gaps) are reported on stderr.
Endpoints: $LABBRIDGE_PUB and $LABBRIDGE_RPC (defaults tcp://127.0.0.1:5555 and :5556).
"""
import argparse
import csv
import datetime
import json
import os
import struct
import sys

import zmq

TYPES = {"f32": "f", "f64": "d", "i16": "h", "u16": "H", "i32": "i", "u8": "B"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("prefix", nargs="?", default="sensor/", help="topic prefix (default sensor/)")
    ap.add_argument("--count", type=int, help="stop after this many samples")
    ap.add_argument("--out", help="CSV file (default: standard output)")
    ap.add_argument("--sep", default=",", help="separator: ',' (default), ';' or a tab")
    ap.add_argument("--decimal-comma", action="store_true", help="21,5 instead of 21.5")
    args = ap.parse_args()
    if args.decimal_comma and args.sep == ",":
        sys.exit("--decimal-comma needs --sep ';' (as French spreadsheets expect)")

    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.connect(os.environ.get("LABBRIDGE_PUB", "tcp://127.0.0.1:5555"))
    sub.subscribe(args.prefix)                        # 1. subscribe first
    rpc = ctx.socket(zmq.DEALER)
    rpc.setsockopt(zmq.LINGER, 0)
    rpc.connect(os.environ.get("LABBRIDGE_RPC", "tcp://127.0.0.1:5556"))
    rpc.send_multipart([b"", json.dumps({"id": 1, "method": "snapshot",
                                         "params": {"prefix": args.prefix}}).encode()])
    if not rpc.poll(5000):                            # 2. then the snapshot
        sys.exit("no answer from the bridge: is labbridge running?")
    snap = json.loads(rpc.recv_multipart()[1])["result"]
    last = {s["topic"]: s["seq"] for s in snap["streams"]}

    out = open(args.out, "w", newline="", encoding="utf-8") if args.out else sys.stdout
    w = csv.writer(out, delimiter=args.sep)
    w.writerow(["time_iso", "t_ns", "topic", "quantity", "value", "unit"])
    written = 0
    while args.count is None or written < args.count:
        if not sub.poll(5000):
            sys.exit("no data within 5 s on %s" % args.prefix)
        frames = sub.recv_multipart()
        topic, h = frames[0].decode(), json.loads(frames[1])
        seq = h["seq"]
        if topic in last and seq <= last[topic]:
            continue                                  # 3. already in the snapshot
        if topic in last and seq > last[topic] + 1:
            print("gap on %s: %d messages lost" % (topic, seq - last[topic] - 1), file=sys.stderr)
        last[topic] = seq
        if h["type"] not in TYPES or len(frames) < 3:
            continue                                  # an event, not samples
        values = struct.unpack("<%d%s" % (h["count"], TYPES[h["type"]]), frames[2])
        for i, v in enumerate(values):
            t = h["t_host"] + (int(i * 1e9 / h["rate"]) if h["rate"] else 0)
            iso = datetime.datetime.fromtimestamp(t / 1e9, datetime.timezone.utc).isoformat()
            value = "%.7g" % v
            if "." not in value and "e" not in value:
                value += ".0"
            if args.decimal_comma:
                value = value.replace(".", ",")
            w.writerow([iso, t, topic, h.get("quantity", ""), value, h.get("unit", "")])
            written += 1
            if args.count is not None and written >= args.count:
                break
    if args.out:
        out.close()


if __name__ == "__main__":
    main()
