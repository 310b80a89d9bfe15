#!/usr/bin/python3
"""Live data for tablets over HTTP: N Server-Sent-Event clients (default 30, one student session
each) on 6 simulated sensors at 100 Hz. Every client must receive every message (no seq gap, no
`gap` reported by the bridge); the bridge's CPU time (utime + stime from /proc/PID/stat) over the
measured interval, as a share of one core, is reported against 20 %.

    /usr/bin/python3 tests/bench/http_stream.py --bridge build/labbridge [--clients 30] [--seconds 10]

The clients run in a few processes of their own (non-blocking sockets, HTTP/1.0 so that the
stream is not chunked), parsing only each event's topic, seq and gap. A figure, not a pass/fail
test: the last line is BENCH_JSON {...}.
"""
import argparse
import json
import multiprocessing
import os
import re
import selectors
import shutil
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402 (tests/bench/benchlib.py: the bridge, CPU from /proc)

SENSORS, RATE = 6, 100
EVENT = re.compile(rb'"topic":"([^"]+)".*?"seq":(\d+).*?"count":(\d+).*"gap":(\d+)\}')


def start(bridge, tmp):
    """A ready bridge with SENSORS simulated sensors and its web server on a free port; (the
    Bridge, (host, port) of its web page or None)."""
    conf = "[bridge]\nsimulate = yes\nemulate = none\nhttp = 127.0.0.1:0\n[sane]\ndiscover = no\n"
    for i in range(SENSORS):
        conf += "[sim.s%d]\nquantity = voltage\nunit = V\nrate = %d\nwave = sine\n" % (i, RATE)
    b = benchlib.start_bridge(bridge, tmp, conf, timeout=20)
    for line in b.lines:
        m = re.match(r"labbridge web page on http://([\d.]+):(\d+)/", line)
        if m:
            return b, (m.group(1), int(m.group(2)))
    return b, None


def pair(addr, code):
    with socket.create_connection(addr, timeout=10) as s:
        body = json.dumps({"code": code}).encode()
        s.sendall(b"POST /api/pair HTTP/1.0\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return json.loads(data.split(b"\r\n\r\n", 1)[1])["token"]


def clients(addr, tokens, warmup_until, measure_s, out):
    """Read len(tokens) streams until warmup_until + measure_s; put per-client figures in out."""
    sel = selectors.DefaultSelector()
    state = []
    for tok in tokens:
        s = socket.create_connection(addr, timeout=10)
        s.sendall(b"GET /api/stream?topics=sensor/&token=%s HTTP/1.0\r\n\r\n" % tok.encode())
        s.setblocking(False)
        st = {"buf": b"", "last": {}, "gaps": 0, "reported": 0, "events": 0, "samples": 0,
              "head": True}
        state.append(st)
        sel.register(s, selectors.EVENT_READ, st)
    end = warmup_until + measure_s
    while time.monotonic() < end:
        for key, _ in sel.select(0.2):
            st = key.data
            try:
                chunk = key.fileobj.recv(1 << 20)
            except BlockingIOError:
                continue
            if not chunk:
                sel.unregister(key.fileobj)
                continue
            st["buf"] += chunk
            if st["head"]:
                if b"\r\n\r\n" not in st["buf"]:
                    continue
                st["buf"] = st["buf"].split(b"\r\n\r\n", 1)[1]
                st["head"] = False
            *events, st["buf"] = st["buf"].split(b"\n\n")
            measuring = time.monotonic() >= warmup_until
            for ev in events:
                m = EVENT.search(ev)
                if not m:
                    continue
                topic, seq, count, gap = (m.group(1), int(m.group(2)), int(m.group(3)),
                                          int(m.group(4)))
                last = st["last"].get(topic)
                if measuring and last is not None:
                    st["gaps"] += max(0, seq - last - 1)
                    st["reported"] += gap
                    st["events"] += 1
                    st["samples"] += count
                st["last"][topic] = seq
    out.put([{"gaps": s["gaps"], "reported": s["reported"], "events": s["events"],
              "samples": s["samples"],
              "topics": len(s["last"])} for s in state])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bridge", default="build/labbridge")
    ap.add_argument("--clients", type=int, default=30)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--procs", type=int, default=3)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="lbbench-http-")
    p, addr = start(args.bridge, tmp)
    try:
        if not addr:
            sys.exit("the bridge printed no web page address")
        code = p.call("pair.new", {"name": "bench", "uses": max(1, args.clients)})["code"]
        tokens = [pair(addr, code) for _ in range(args.clients)]
        warmup = 2.0
        warmup_until = time.monotonic() + warmup
        q = multiprocessing.Queue()
        groups = [tokens[i::args.procs] for i in range(args.procs)]
        procs = [multiprocessing.Process(target=clients,
                                         args=(addr, g, warmup_until, args.seconds, q))
                 for g in groups if g]
        for pr in procs:
            pr.start()
        time.sleep(max(0.0, warmup_until - time.monotonic()))  # the measured interval's start
        c0, t0 = p.cpu_s(), time.monotonic()
        results = []
        if not procs:  # --clients 0: the bridge's own cost, for comparison
            time.sleep(args.seconds)
        for _ in procs:
            results += q.get(timeout=args.seconds + 60)
        dt = time.monotonic() - t0
        cpu = (p.cpu_s() - c0) / dt
        for pr in procs:
            pr.join(10)
    finally:
        p.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    events = sum(r["events"] for r in results)
    gaps = sum(r["gaps"] for r in results)
    reported = sum(r["reported"] for r in results)
    samples = sum(r["samples"] for r in results)
    short = sum(1 for r in results if r["topics"] < SENSORS)
    expected_per_client = SENSORS * RATE * args.seconds
    r = {"bench": "http_sse_%dx%dx%dHz" % (args.clients, SENSORS, RATE),
         "clients": args.clients, "seconds": round(dt, 1), "events": events,
         "events_per_client_per_s": round(events / max(1, len(results)) / args.seconds, 1),
         "samples_per_client": round(samples / max(1, len(results))),
         "samples_expected_per_client": int(expected_per_client),
         "lost_messages": gaps, "gaps_reported_by_bridge": reported,
         "clients_missing_a_sensor": short,
         "bridge_cpu_percent_of_one_core": round(100 * cpu, 2), "target_cpu_percent": 20,
         "met": cpu < 0.20 and gaps == 0 and short == 0}
    print("%s: %d clients, %d events, %d lost, bridge CPU %.1f%% of one core (target 20%%): %s"
          % (r["bench"], r["clients"], events, gaps, r["bridge_cpu_percent_of_one_core"],
             "met" if r["met"] else "NOT met"))
    print("BENCH_JSON " + json.dumps(r))


if __name__ == "__main__":
    main()
