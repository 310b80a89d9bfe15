#!/usr/bin/python3
"""Print live samples from labbridge, with their time and unit.

    make run                                            # terminal 1: the simulated lab
    examples/python/watch_sensor.py                     # terminal 2: every sensor
    examples/python/watch_sensor.py sensor/sim-temp-1/ --count 20

Needs pyzmq (Debian: python3-zmq). LABBRIDGE_PUB overrides the stream endpoint
(tcp://127.0.0.1:5555). Exits 1 if nothing arrives for 5 s. Format: bridge/PROTOCOL.md.
"""
import argparse, datetime, json, struct, sys
import zmq

import labbridge_net

TYPES = {"f32": "f", "f64": "d", "i16": "h", "u16": "H", "i32": "i", "u8": "B"}

ap = argparse.ArgumentParser(description="Print live samples from labbridge.")
ap.add_argument("prefix", nargs="?", default="sensor/", help="topic prefix (default sensor/)")
ap.add_argument("--count", type=int, default=0, help="stop after N samples (default: never)")
labbridge_net.add_options(ap)
args = ap.parse_args()

sub = zmq.Context().socket(zmq.SUB)
sub.setsockopt(zmq.LINGER, 0)
labbridge_net.connect(sub, "pub")
sub.subscribe(args.prefix)  # 'sensor/', 'sensor/sim-temp-1/', ...: mind the final '/'
n = 0
while not args.count or n < args.count:
    if not sub.poll(5000):
        sys.exit("nothing on %r for 5 s: is labbridge running (make run)?" % args.prefix)
    topic, header, *samples = sub.recv_multipart()  # topic, JSON header, packed samples
    h = json.loads(header)
    if h["type"] == "json":  # an event, e.g. the end of a stream
        print(topic.decode(), json.dumps(h["data"]))
        continue
    for i, v in enumerate(struct.unpack("<%d%s" % (h["count"], TYPES[h["type"]]), samples[0])):
        t = (h["t_host"] + (i * 1e9 / h["rate"] if h["rate"] else 0)) / 1e9  # sample i's time
        print(datetime.datetime.fromtimestamp(t).strftime("%H:%M:%S.%f")[:-3],
              topic.decode(), "%.6g" % v, h.get("unit", ""))
        n += 1
        if n == args.count:
            break
