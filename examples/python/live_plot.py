#!/usr/bin/python3
"""Live plot of several sensors at once (matplotlib), straight from the bridge's streams.

    make run                                   # in one terminal
    examples/python/live_plot.py sensor/sim-temp-1/ sensor/sim-volt-1/
    examples/python/live_plot.py sensor/ --seconds 10 --out plot.png   # no window: to a file

Each topic gets its own subplot with its quantity and unit; the x axis is time in seconds on the
bridge's common clock. Losses (sequence gaps) are counted in the title. Needs pyzmq and
matplotlib (Debian: python3-zmq python3-matplotlib). LABBRIDGE_PUB overrides the endpoint.
"""
import argparse
import json
import struct
import sys
import time

import zmq

import labbridge_net

TYPES = {"f32": "f", "f64": "d", "i16": "h", "u16": "H", "i32": "i", "u8": "B"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("prefixes", nargs="*", default=["sensor/"], help="topic prefixes to plot")
    ap.add_argument("--window", type=float, default=10.0, help="seconds shown (default 10)")
    ap.add_argument("--seconds", type=float, help="stop after this many seconds")
    ap.add_argument("--out", help="render to this image file instead of a window")
    ap.add_argument("--pub", default=None)
    labbridge_net.add_options(ap)
    args = ap.parse_args()

    import matplotlib
    if args.out:
        matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    sub = zmq.Context().socket(zmq.SUB)
    labbridge_net.connect(sub, "pub", args.pub)
    for p in args.prefixes:
        sub.subscribe(p)

    series = {}   # topic -> {"t": [], "v": [], "label": str, "seq": last, "lost": n}
    t0 = None
    fig = plt.figure(figsize=(10, 6))
    if not args.out:
        plt.ion()
        plt.show()
    start = time.monotonic()
    last_draw = 0.0
    while args.seconds is None or time.monotonic() - start < args.seconds:
        if not sub.poll(200):
            if not series and time.monotonic() - start > 5:
                sys.exit("no data on %s for %s within 5 s: is labbridge running?" %
                         (args.pub, " ".join(args.prefixes)))
            continue
        frames = sub.recv_multipart()
        topic, h = frames[0].decode(), json.loads(frames[1])
        if h.get("type") not in TYPES or len(frames) < 3:
            continue  # events (end of stream...) carry no samples
        s = series.setdefault(topic, {"t": [], "v": [], "seq": None, "lost": 0,
                                      "label": "%s (%s)" % (h.get("quantity"), h.get("unit"))})
        if s["seq"] is not None and h["seq"] > s["seq"] + 1:
            s["lost"] += h["seq"] - s["seq"] - 1
        s["seq"] = h["seq"]
        values = struct.unpack("<%d%s" % (h["count"], TYPES[h["type"]]), frames[2])
        if t0 is None:
            t0 = h["t_host"]
        rate = h.get("rate") or 0
        for i, v in enumerate(values):
            s["t"].append((h["t_host"] - t0) / 1e9 + (i / rate if rate else 0))
            s["v"].append(v)
        # keep the window
        while s["t"] and s["t"][0] < s["t"][-1] - args.window:
            del s["t"][: max(1, len(s["t"]) // 10)]
            del s["v"][: max(1, len(s["v"]) // 10)]
        if time.monotonic() - last_draw > 0.2:
            draw(fig, series)
            if not args.out:
                plt.pause(0.001)
            last_draw = time.monotonic()
    if not series:
        sys.exit("no samples received")
    draw(fig, series)
    if args.out:
        fig.savefig(args.out)
        print("wrote %s (%d streams)" % (args.out, len(series)))


def draw(fig, series):
    """One subplot per stream, time on x."""
    fig.clf()
    for k, (topic, s) in enumerate(sorted(series.items())):
        ax = fig.add_subplot(len(series), 1, k + 1)
        ax.plot(s["t"], s["v"], linewidth=0.8)
        ax.set_ylabel(s["label"], fontsize=8)
        title = topic + ("   (%d messages lost)" % s["lost"] if s["lost"] else "")
        ax.set_title(title, fontsize=8)
    fig.axes[-1].set_xlabel("time (s)")
    fig.tight_layout()


if __name__ == "__main__":
    main()
