#!/usr/bin/python3
"""The standalone Marlin emulator's own figures (moved here from tests/emulators/test_marlin_emu.py,
which asserts no speed): lines/s with 1 to 16 lines in flight at baud 0, and how close its
simulated links come to their baud rate.

    /usr/bin/python3 tests/bench/marlin_emu.py [--emu build/marlin-emu] [--lines 100000]

Figures, not pass/fail: each line says MET or NOT MET against its target (window 16: >= 50 000
lines/s; baud: within -5 % / +10 % of the ideal time); the exit status is 0 whatever the figures.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "emulators"))
import test_marlin_emu as tm  # noqa: E402 (the emulator driver and the streaming helper)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--emu", default="build/marlin-emu")
    ap.add_argument("--lines", type=int, default=100000)
    args = ap.parse_args()
    os.environ["MARLIN_EMU"] = args.emu
    for window in (1, 4, 8, 16):
        e = tm.Emu()
        e.boot()
        r = tm.stream(e, window, args.lines)
        e.stop()
        rate = args.lines / r["seconds"]
        target = " (target >= 50000: %s)" % ("MET" if rate >= 50000 else "NOT MET") \
            if window == 16 else ""
        print("baud 0, window %2d: %.0f lines/s, %d resends%s" %
              (window, rate, r["resends"], target))
    # input at 19200 baud: 2000 bytes take 1.0417 s
    e = tm.Emu("--baud", "19200")
    e.boot()
    t0 = time.monotonic()
    e.send("G1 X100.000 Y100.000 Z1.000 E0.1234 F99\n" * 50)
    oks = 0
    while oks < 50:
        oks += len([l for l in e.until(tm.is_ok) if l.startswith("ok")])
    dt = time.monotonic() - t0
    e.stop()
    print("19200 baud in: 2000 bytes in %.4f s, ideal 1.0417 (%s)" %
          (dt, "MET" if 0.95 <= dt / 1.0417 <= 1.10 else "NOT MET"))
    # output at 9600 baud: M115's answer
    e = tm.Emu("--baud", "9600")
    e.boot()
    e.send("M115\n")
    e.line()
    t1 = time.monotonic()
    rest = e.until(tm.is_ok)
    dt = time.monotonic() - t1
    e.stop()
    ideal = sum(len(l) + 1 for l in rest) / 960.0
    print("9600 baud out: %.4f s, ideal %.4f (%s)" %
          (dt, ideal, "MET" if 0.9 <= dt / ideal and dt <= ideal * 1.1 + 0.01 else "NOT MET"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
