#!/usr/bin/python3
"""Live samples of the lab's sensors, with time and units, in a dozen lines of pyzmq.

    make run                                         # in one terminal
    examples/python/watch_sensor.py                  # every sensor
    examples/python/watch_sensor.py sensor/sim-temp-1/ --count 20

The stream endpoint is $LABBRIDGE_PUB, or tcp://127.0.0.1:5555 (bridge/PROTOCOL.md).
"""
import datetime, json, os, struct, sys
import zmq

args = [a for a in sys.argv[1:] if not a.startswith("--") and not a.isdigit()]
count = int(sys.argv[sys.argv.index("--count") + 1]) if "--count" in sys.argv else None
sub = zmq.Context().socket(zmq.SUB)
sub.connect(os.environ.get("LABBRIDGE_PUB", "tcp://127.0.0.1:5555"))
sub.subscribe(args[0] if args else "sensor/")      # a kind, a device or one stream
printed = 0
while count is None or printed < count:
    if not sub.poll(5000):
        sys.exit("nothing received within 5 s: is labbridge running?")
    frames = sub.recv_multipart()
    h = json.loads(frames[1])
    if h["type"] != "f32":
        continue                                    # an event: the end of a stream...
    for i, v in enumerate(struct.unpack("<%df" % h["count"], frames[2])):
        t = (h["t_host"] + i * 1e9 / h["rate"]) / 1e9 if h["rate"] else h["t_host"] / 1e9
        print(datetime.datetime.fromtimestamp(t).strftime("%H:%M:%S.%f")[:-3],
              frames[0].decode(), "%.4g" % v, h["unit"])
        printed += 1
