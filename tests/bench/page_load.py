#!/usr/bin/python3
"""The tablet page is interactive within 1 s of opening on loopback: Debian's chromium (headless,
tests/browser/page_load.mjs) opens the page served by the bridge in N fresh contexts (default 10:
no cache, no storage) and reads the time from the navigation's start to the page's ready mark:
`lb-pair-ready` (the pairing field accepts input) with no session, `lb-first-plot` (the first live
values drawn) with a session. Median and p90 are printed against the 1 s target and against a
reference measured in the same run: a blank HTML file served by the same bridge (its load event).

    /usr/bin/python3 tests/bench/page_load.py --bridge build/labbridge [--runs 10]

The bridge serves a copy of www/ with blank.html added ([bridge] www), one simulated sensor at
100 Hz. A figure, not a pass/fail test: the last line is BENCH_JSON {...}.
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import zmq

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BROWSER_DIR = os.path.join(ROOT, "tests", "browser")
TARGET_MS = 1000.0


def start(bridge, tmp, www):
    conf = ("[bridge]\nsimulate = yes\nemulate = none\nhttp = 127.0.0.1:0\nwww = %s\n[sane]\n"
            "discover = no\n[sim.t1]\nquantity = temperature\nunit = °C\nrate = 100\n" % www)
    path = os.path.join(tmp, "bench.conf")
    with open(path, "w") as f:
        f.write(conf)
    env = dict(os.environ, STATE_DIRECTORY=os.path.join(tmp, "data"))
    p = subprocess.Popen([bridge, "-q", "-c", path, "--pub", "ipc://%s/pub" % tmp,
                          "--rpc", "ipc://%s/rpc" % tmp, "--ws", "none"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    url = None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = p.stdout.readline().decode()
        if not line:
            break
        m = re.match(r"labbridge web page on (http://[\d.]+:\d+/)", line)
        if m:
            url = m.group(1)
        if line.startswith("labbridge ready"):
            return p, url
    p.kill()
    sys.exit("the bridge did not start: %s" % p.stderr.read().decode())


def call(tmp, method, params):
    s = zmq.Context.instance().socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.connect("ipc://%s/rpc" % tmp)
    s.send_multipart([b"", json.dumps({"id": 1, "method": method, "params": params}).encode()])
    if not s.poll(10000):
        sys.exit("no answer to %s" % method)
    r = json.loads(s.recv_multipart()[1])
    s.close()
    if "error" in r:
        sys.exit("%s: %s" % (method, r["error"]["message"]))
    return r["result"]


def p90(xs):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(0.9 * len(xs)) - 1))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bridge", default="build/labbridge")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--chromium", default=os.environ.get("LB_CHROMIUM", "/usr/bin/chromium"))
    a = ap.parse_args()
    node = shutil.which("node")
    if not node or not os.access(a.chromium, os.X_OK) or not os.path.isdir(
            os.path.join(BROWSER_DIR, "node_modules", "playwright-core")):
        sys.exit("page_load: needs node, %s and tests/browser/node_modules "
                 "(make test-deps tests/browser/node_modules/.installed)" % a.chromium)
    tmp = tempfile.mkdtemp(prefix="lbbench-page-")
    bridge = None
    try:
        www = os.path.join(tmp, "www")
        shutil.copytree(os.path.join(ROOT, "www"), www)
        with open(os.path.join(www, "blank.html"), "w") as f:
            f.write("<!doctype html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\">"
                    "<title>blank</title></head><body></body></html>\n")
        bridge, url = start(os.path.abspath(a.bridge), tmp, www)
        if not url:
            sys.exit("the bridge printed no web page address")
        code = call(tmp, "pair.new", {"role": "student", "name": "bench", "uses": a.runs})["code"]
        p = subprocess.run([node, os.path.join(BROWSER_DIR, "page_load.mjs"), "--url", url,
                            "--code", code, "--runs", str(a.runs), "--chromium", a.chromium],
                           capture_output=True, text=True, timeout=60 + 20 * a.runs, cwd=BROWSER_DIR)
        lines = [x for x in p.stdout.splitlines() if x.startswith("{")]
        if p.returncode != 0 or not lines:
            sys.exit("page_load.mjs failed (status %d):\n%s" % (p.returncode, p.stderr[-3000:]))
        r = json.loads(lines[-1])
    finally:
        if bridge:
            bridge.terminate()
            try:
                bridge.wait(10)
            except subprocess.TimeoutExpired:
                bridge.kill()
        shutil.rmtree(tmp, ignore_errors=True)

    ref = statistics.median(r["blank"])
    print("page load on loopback, %d fresh chromium contexts each (ms from navigation start)"
          % a.runs)
    print("%-34s %8s %8s %8s %10s %12s" % ("", "median", "p90", "max", "vs 1 s", "vs blank"))
    summary = {"runs": a.runs, "target_ms": TARGET_MS}
    for key, label in (("blank", "blank.html (reference, load event)"),
                       ("pairing", "pairing field ready (no session)"),
                       ("paired", "first live plot (session)")):
        xs = r[key]
        med, q90 = statistics.median(xs), p90(xs)
        print("%-34s %8.0f %8.0f %8.0f %9.0f%% %11.1fx" % (label, med, q90, max(xs),
                                                          100 * med / TARGET_MS, med / ref))
        summary[key] = {"median_ms": round(med, 1), "p90_ms": round(q90, 1),
                        "max_ms": round(max(xs), 1), "samples_ms": [round(x, 1) for x in xs]}
    ok = all(summary[k]["p90_ms"] <= TARGET_MS for k in ("pairing", "paired"))
    print("target (interactive within 1 s, p90): %s" % ("met" if ok else "NOT met"))
    summary["target_met"] = ok
    print("BENCH_JSON " + json.dumps(summary))


if __name__ == "__main__":
    main()
