#!/usr/bin/python3
"""MicroPython upload benchmarks: the driver against the simulated lab's board (raw REPL on a
pseudo-terminal, programs run by python3), through the robot service.

    /usr/bin/python3 tests/bench/micropython_upload.py [--bridge build/labbridge] [--kb 20]
                                                       [--repeat 3] [--noise-runs 1000]

  1. raw-paste at 115200 baud (the emulator takes what the host sends at 11 520 bytes/s, as a
     UART would): a --kb KB program loaded, then robot.program.run timed until the board has it
     all (the reply comes when the board acknowledged the end of the upload). The bytes on the
     wire (the checked wrapper around the program: result "bytes") per second over the link's
     11 520 bytes/s, target >= 0.90; also the program's own bytes per second (the wrapper's
     escapes cost some). Best of --repeat runs.
  2. --noise-runs uploads in a row with 1 % line noise on what the host sends (a byte changed,
     dropped or doubled; pty speed), of a short program (the upload, wrapper included, is about
     300 bytes: 1 % hits most of them all the same), then --noise-runs / 5 of a 1.4 KB program
     with 0.1 % noise: each either runs and prints exactly what the program says, or fails
     loudly (an error answer, or a traceback and state "error"): none runs corrupted code.
     Counts of each.

Figures, not pass/fail tests: prints its measurements and MET / NOT MET, then BENCH_JSON {...}.
Exit status 0 whatever the figures, 1 if a part could not run.
"""
import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import zmq  # noqa: E402
from lbtest import Client, Daemon, Subscriber, make_conf, wait_until  # noqa: E402

DEV = "micropython-sim-maqueen-1"
STATE = "robot/%s/state/" % DEV
CONSOLE = "robot/%s/console/" % DEV

ap = argparse.ArgumentParser()
ap.add_argument("--bridge", default="build/labbridge")
ap.add_argument("--kb", type=int, default=20)
ap.add_argument("--repeat", type=int, default=3)
ap.add_argument("--noise-runs", type=int, default=1000)
args = ap.parse_args()
os.environ["LB_BRIDGE"] = os.path.abspath(args.bridge)

tmp = tempfile.mkdtemp(prefix="bench-mpy-")
conf = make_conf({}, bridge={"emulate": "micropython", "data_dir": os.path.join(tmp, "data"),
                             "request_timeout_ms": 60000})
d = Daemon(tmp, conf)
d.start()
d.wait_ready()
ctx = zmq.Context()
c = Client(ctx, d.rpc, timeout=90)
figures, ok = {}, True
try:
    wait_until(lambda: DEV in [r["device"] for r in c.call("robot.list")], timeout=30,
               what="the emulated board")
    c.call("lease.acquire", {"device": DEV})
    sub = Subscriber(ctx, d.pub, [STATE, CONSOLE])

    # 1. raw-paste at 115200 baud
    line = "x = x + 1  # a line of a classroom program, more or less this long\n"
    src = "x = 0\n" + line * (args.kb * 1024 // len(line)) + "print('done', x)\n"
    c.call("micropython.emulator", {"baud": int(os.environ.get("MPY_BAUD", "115200"))})
    link = 115200 / 10
    best_wire = best_src = 0
    for _ in range(args.repeat):
        c.call("lease.acquire", {"device": DEV})
        c.call("robot.program.load", {"device": DEV, "language": "micropython", "source": src})
        t0 = time.monotonic()
        r = c.call("robot.program.run", {"device": DEV})
        dt = time.monotonic() - t0
        sub.wait_for(lambda m: m.topic == STATE and m.data["state"] == "running", timeout=30,
                     what="the program's start")
        sub.wait_for(lambda m: m.topic == STATE and m.data["state"] == "idle", timeout=30,
                     what="the program's end")
        best_wire = max(best_wire, r["bytes"] / dt / link)
        best_src = max(best_src, len(src) / dt / link)
        print("raw-paste: %d program bytes, %d on the wire in %.3f s: %.0f B/s of %.0f" %
              (len(src), r["bytes"], dt, r["bytes"] / dt, link), flush=True)
    figures["upload_wire_ratio"] = round(best_wire, 3)
    figures["upload_program_ratio"] = round(best_src, 3)
    print("upload: wire %.3f of the link (target >= 0.90: %s), program bytes %.3f" %
          (best_wire, "MET" if best_wire >= 0.9 else "NOT MET", best_src), flush=True)
    c.call("micropython.emulator", {"baud": 0})

    # 2. uploads with line noise: 1 % (a short program: most uploads are hit all the same)
    # and 0.1 % (a longer one)
    def noisy(runs, ppm, lines, seed):
        prog = "s = 0\n" + "".join("s += %d\n" % (i * 7919 % 1000) for i in range(lines)) + \
               "print('sum', s)\n"
        want = "sum %d\n" % sum(i * 7919 % 1000 for i in range(lines))
        c.call("micropython.emulator", {"noise_ppm": ppm, "seed": seed})
        c.call("robot.program.load", {"device": DEV, "language": "micropython", "source": prog})
        before = c.call("micropython.emulator", {"probe": True})["noise_events"]
        ran = refused = traceback = corrupted = 0
        t0 = time.monotonic()
        for i in range(runs):
            c.call("lease.acquire", {"device": DEV})  # renewed: a lease ends when not renewed
            r = c.request("robot.program.run", {"device": DEV})
            got = []
            sub.wait_for(lambda m: m.topic == STATE and m.data["state"] == "running",
                         timeout=30, what="the start of run %d (reply %r)" % (i, r))
            if "error" in r:
                refused += 1
                sub.wait_for(lambda m: m.topic == STATE and m.data["state"] == "error",
                             timeout=30, what="the error of run %d" % i)
                continue
            m = sub.wait_for(lambda m: m.topic == STATE and m.data["state"] in ("idle", "error"),
                             keep=got, timeout=30, what="the end of run %d" % i)
            out = "".join(x.data["text"] for x in got
                          if x.topic == CONSOLE and x.data["stream"] == "stdout")
            if m.data["state"] == "idle" and out == want:
                ran += 1
            elif m.data["state"] == "error" and "sum" not in out:
                traceback += 1
            else:
                corrupted += 1
                print("CORRUPTED run %d: %r %r" % (i, m.data, out), flush=True)
        c.call("micropython.emulator", {"noise_ppm": 0})
        events = c.call("micropython.emulator", {"probe": True})["noise_events"] - before
        key = "noise_%dppm_" % ppm
        figures.update({key + "runs": runs, key + "ran": ran, key + "refused": refused,
                        key + "traceback": traceback, key + "corrupted": corrupted,
                        key + "bytes_disturbed": events})
        print("noise %g %%, %d-byte program: %d uploads in %.0f s: %d ran exactly, %d refused "
              "(error answer), %d failed on the board (traceback), %d corrupted (target 0: "
              "%s); %d bytes disturbed" %
              (ppm / 1e4, len(prog), runs, time.monotonic() - t0, ran, refused, traceback,
               corrupted, "MET" if corrupted == 0 else "NOT MET", events), flush=True)

    noisy(args.noise_runs, 10000, 3, 4242)
    noisy(max(1, args.noise_runs // 5), 1000, 200, 777)
except Exception as e:  # a part that could not run
    print("FAILED: %s" % e, flush=True)
    print("bridge log (end):\n" + "\n".join(d.stderr().splitlines()[-30:]), flush=True)
    ok = False
finally:
    d.stop()
print("BENCH_JSON " + json.dumps(figures))
sys.exit(0 if ok else 1)
