#!/usr/bin/python3
"""Write live samples from labbridge to a CSV file, with nothing missed or written twice.

    make run                                            # terminal 1: the simulated lab
    examples/python/stream_to_csv.py sensor/sim-temp-1/ --count 500 --out temp.csv
    examples/python/stream_to_csv.py sensor/ --sep ';' --decimal-comma --out mesures.csv

Columns: time_iso (UTC), t_ns (ns since 1970), topic, quantity, value, unit. `--sep ';'
--decimal-comma` writes 21,53 for French spreadsheets. It runs until --count rows or Ctrl-C.

It joins the streams with the Clone pattern of bridge/PROTOCOL.md: subscribe first and queue,
then ask the bridge for a `snapshot` (the last value and seq of every stream), write those last
values, and from then on drop any message whose seq is not above the snapshot's: every later
sample is written once. A jump in seq (messages the network or a slow reader lost) is reported
on stderr, as is a quiet loss that only the heartbeat reveals. Needs pyzmq (Debian:
python3-zmq). LABBRIDGE_PUB and LABBRIDGE_RPC override the endpoints (tcp://127.0.0.1:5555 and
tcp://127.0.0.1:5556). Exits 1 if no data comes for 5 s.
"""
import argparse
import csv
import json
import struct
import sys
import time

import zmq

import labbridge_net

TYPES = {"f32": "f", "f64": "d", "i16": "h", "u16": "H", "i32": "i", "u8": "B"}
HEARTBEAT = "bridge/heartbeat/"


def fail(msg):
    sys.exit("stream_to_csv: " + msg)


def number(v, typ, decimal_comma):
    """The shortest text that reads back as the same value (f32 needs fewer digits)."""
    if isinstance(v, int):
        text = str(v)
    else:
        text = repr(v)
        if typ == "f32":  # shortest text giving back the same 32-bit float
            for digits in range(6, 10):
                text = "%.*g" % (digits, v)
                if struct.unpack("<f", struct.pack("<f", float(text)))[0] == v:
                    break
    return text.replace(".", ",") if decimal_comma else text


class Writer:
    """Turns stream messages into CSV rows, tracking each topic's last seq."""

    def __init__(self, out, args):
        self.csv = csv.writer(out, delimiter=args.sep, lineterminator="\n")
        self.out, self.args, self.rows, self.last = out, args, 0, {}
        self.csv.writerow(["time_iso", "t_ns", "topic", "quantity", "value", "unit"])

    def row(self, t_ns, topic, header, value):
        iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t_ns // 10**9))
        self.csv.writerow(["%s.%06dZ" % (iso, t_ns % 10**9 // 1000), t_ns, topic,
                           header.get("quantity", ""),
                           number(value, header["type"], self.args.decimal_comma),
                           header.get("unit", "")])
        self.rows += 1
        return self.args.count and self.rows >= self.args.count  # True: done

    def message(self, topic, h, frames):
        """Apply one message; True when --count rows are written."""
        expected = self.last.get(topic, 0) + 1  # a topic absent from the snapshot starts at 1
        if h["seq"] < expected:
            return False  # already in the snapshot (or before it): never twice
        if h["seq"] > expected:
            print("gap on %s: expected seq %d, got %d (%d messages lost)" %
                  (topic, expected, h["seq"], h["seq"] - expected), file=sys.stderr)
        self.last[topic] = h["seq"]
        if h["type"] not in TYPES or len(frames) < 3:
            if isinstance(h.get("data"), dict) and h["data"].get("event") == "end":
                print("%s ended: %s" % (topic, h["data"].get("reason")), file=sys.stderr)
            elif isinstance(h.get("data"), dict) and h["data"].get("event") == "error":
                print("%s error: %s" % (topic, h["data"].get("message")), file=sys.stderr)
            return False
        values = struct.unpack("<%d%s" % (h["count"], TYPES[h["type"]]), frames[2])
        for i, v in enumerate(values):
            t_ns = h["t_host"] + (round(i * 1e9 / h["rate"]) if h["rate"] else 0)
            if self.row(t_ns, topic, h, v):
                return True
        return False

    def heartbeat(self, data):
        """Losses just before a quiet period: the heartbeat knows the last seq sent."""
        for topic, sent in data.get("streams", {}).items():
            if topic in self.last and sent > self.last[topic]:
                print("gap on %s: expected seq %d, the heartbeat says %d was sent "
                      "(%d messages lost)" % (topic, self.last[topic] + 1, sent,
                                              sent - self.last[topic]), file=sys.stderr)
                self.last[topic] = sent


def request(rpc, method, params):
    rpc.send_multipart([b"", json.dumps({"id": 1, "method": method, "params": params}).encode()])
    if not rpc.poll(5000):
        fail("no answer from the bridge at %s within 5 s: is labbridge running (make run)?"
             % rpc.getsockopt(zmq.LAST_ENDPOINT).decode())
    reply = json.loads(rpc.recv_multipart()[-1])
    if "error" in reply:
        fail("%s: %s" % (method, reply["error"]["message"]))
    return reply["result"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("prefix", nargs="?", default="sensor/", help="topic prefix (default sensor/)")
    ap.add_argument("--count", type=int, default=0, help="stop after N rows (default: never)")
    ap.add_argument("--out", help="CSV file (default: standard output)")
    ap.add_argument("--sep", default=",", help="column separator (default ',')")
    ap.add_argument("--decimal-comma", action="store_true", help="21,5 instead of 21.5")
    labbridge_net.add_options(ap)
    args = ap.parse_args()
    if args.sep == "\\t":
        args.sep = "\t"
    if args.decimal_comma and args.sep == ",":
        print("stream_to_csv: note: decimal commas with ',' separators: values are quoted",
              file=sys.stderr)
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.RCVHWM, 100000)
    pub_ep = labbridge_net.connect(sub, "pub")
    rpc = ctx.socket(zmq.DEALER)
    rpc.setsockopt(zmq.LINGER, 0)
    labbridge_net.connect(rpc, "rpc")

    # 1. Subscribe, and wait until the subscription is in effect: the heartbeat subscription
    #    goes after ours, so once a heartbeat arrives, ours is active too. Queue what arrives.
    sub.subscribe(args.prefix)
    sub.subscribe(HEARTBEAT)
    queued = []
    while not any(f[0] == HEARTBEAT.encode() for f in queued):
        if not sub.poll(5000):
            fail("no heartbeat from the bridge at %s for 5 s: is labbridge running (make run)?"
                 % pub_ep)
        queued.append(sub.recv_multipart())
    # 2. The snapshot: the state of every stream under the prefix.
    snap = request(rpc, "snapshot", {"prefix": args.prefix})
    out = open(args.out, "w", newline="", encoding="utf-8") if args.out else sys.stdout
    w = Writer(out, args)
    done = False
    for s in snap["streams"]:
        w.last[s["topic"]] = s["seq"]
        h = s.get("header") or {}
        if h.get("type") in TYPES and isinstance(s.get("value"), (int, float)) and not done:
            # the last sample of that message: its time is t_host + (count - 1) / rate
            last_i = h.get("count", 1) - 1
            t_ns = h["t_host"] + (round(last_i * 1e9 / h["rate"]) if h.get("rate") else 0)
            done = w.row(t_ns, s["topic"], h, s["value"])
    # 3. Apply the queued messages, then the live ones, dropping those in the snapshot.
    last_data = time.monotonic()
    try:
        while not done:
            if time.monotonic() - last_data > 5:  # heartbeats alone do not count
                fail("no data on %r for 5 s: is that device there and running?" % args.prefix)
            if not queued and not sub.poll(1000):
                continue
            frames = queued.pop(0) if queued else sub.recv_multipart()
            topic, h = frames[0].decode(), json.loads(frames[1])
            if h.get("epoch") != snap["epoch"]:  # the bridge restarted: seqs start again
                print("stream_to_csv: the bridge restarted", file=sys.stderr)
                snap["epoch"], w.last = h.get("epoch"), {}
            if topic == HEARTBEAT:
                w.heartbeat(h["data"])
                if not topic.startswith(args.prefix):
                    continue
            last_data = time.monotonic()
            done = w.message(topic, h, frames)
            if not queued:
                out.flush()
    except KeyboardInterrupt:
        pass
    finally:
        if args.out:
            out.close()


if __name__ == "__main__":
    main()
