#!/usr/bin/python3
"""test_marlin_emu.py - checks the emulated Marlin printer (build/marlin-emu) over its pseudo-terminal.

Run: /usr/bin/python3 tests/emulators/test_marlin_emu.py [-v]
The binary: $MARLIN_EMU, else build/marlin-emu, else build/asan/marlin-emu.

These tests must pass on a loaded machine under ASan: they wait for conditions (a line, a stat)
with generous timeouts, never for a fixed time, and assert no speed; a duration is only checked
from below where the emulator must not be faster than it simulates (a baud rate, a heat-up).
The emulator's speed and its baud accuracy are measured in tests/bench/marlin_emu.py.
"""
import json
import os
import re
import select
import subprocess
import sys
import tempfile
import termios
import time
import tty
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WAIT = 30.0  # seconds: how long any expected answer may take on a loaded machine


def emu_binary():
    env = os.environ.get("MARLIN_EMU")
    if env:
        return env
    for p in ("build/marlin-emu", "build/asan/marlin-emu"):
        if os.path.exists(os.path.join(ROOT, p)):
            return os.path.join(ROOT, p)
    raise unittest.SkipTest("build/marlin-emu is not built")


def checksum(s):
    c = 0
    for b in s.encode():
        c ^= b
    return c


def numbered(n, cmd):
    s = "N%d %s" % (n, cmd)
    return "%s*%d\n" % (s, checksum(s))


class Emu:
    """The emulator process and one open port to it."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([emu_binary()] + list(args), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self.path = self.proc.stdout.readline().strip()
        self.fd = None
        self.buf = b""

    def open(self):
        self.fd = os.open(self.path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(self.fd)
        self.buf = b""

    def close_port(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def ctl(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def stats(self):
        return self.ctl("stats")

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        while data:
            select.select([], [self.fd], [], 5)
            try:
                n = os.write(self.fd, data)
            except BlockingIOError:
                continue
            data = data[n:]

    def fill(self, timeout):
        r, _, _ = select.select([self.fd], [], [], max(0, timeout))
        if r:
            try:
                self.buf += os.read(self.fd, 65536)
            except BlockingIOError:
                pass

    def line(self, timeout=WAIT):
        """The next line (str, without newline) or None on timeout."""
        end = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = end - time.monotonic()
            if left <= 0:
                return None
            self.fill(left)
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode("latin-1")

    def until(self, pred, timeout=WAIT):
        """Lines up to and including the first one matching pred; fails on timeout."""
        out = []
        end = time.monotonic() + timeout
        while True:
            line = self.line(end - time.monotonic())
            if line is None:
                raise AssertionError("timeout; got %r" % out)
            out.append(line)
            if pred(line):
                return out

    def quiet(self, seconds):
        """Lines received within seconds: only to check that nothing comes (a negative check
        cannot fail because the machine is slow), never to wait for something."""
        out = []
        end = time.monotonic() + seconds
        while True:
            line = self.line(end - time.monotonic())
            if line is None:
                return out
            out.append(line)

    def wait_stat(self, key, value, timeout=WAIT):
        """Wait until stats()[key] == value; the stats. AssertionError on timeout."""
        end = time.monotonic() + timeout
        while True:
            st = self.stats()
            if st[key] == value:
                return st
            if time.monotonic() > end:
                raise AssertionError("timeout waiting for %s = %r: %r" % (key, value, st))
            time.sleep(0.01)  # polling interval of a condition, not a synchronisation

    def boot(self):
        self.open()
        return self.until(lambda l: l.startswith("echo: M92"))

    def stop(self):
        self.close_port()
        try:
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        rc = self.proc.wait(timeout=5)
        self.proc.stdout.close()
        return rc


def is_ok(line):
    return line.startswith("ok")


def stream(e, window, total, timeout=WAIT):
    """Stream total numbered moves with window lines in flight over e's open port (after
    M110): {"seconds", "resends"}. AssertionError if the answers stop for timeout."""
    e.send("N0 M110 N0*125\n")
    e.line()
    lines = [numbered(i, "G1 X%d.5 Y%d" % (i % 200, i % 150)).encode()
             for i in range(1, total + 1)]
    sent = acked = resends = 0
    rest = b""
    t0 = time.monotonic()
    while acked < total:
        if sent - acked < window and sent < total:
            k = min(window - (sent - acked), total - sent)
            e.send(b"".join(lines[sent:sent + k]))
            sent += k
        r, _, _ = select.select([e.fd], [], [], timeout)
        if not r:
            raise AssertionError("no answer for %.0f s (%d of %d acknowledged)" %
                                 (timeout, acked, total))
        try:
            chunk = rest + os.read(e.fd, 1 << 16)
        except BlockingIOError:
            continue
        cut = chunk.rfind(b"\n") + 1
        acked += chunk.count(b"ok N", 0, cut)
        resends += chunk.count(b"Resend", 0, cut)
        rest = chunk[cut:]
    return {"seconds": time.monotonic() - t0, "resends": resends}


class MarlinEmuTest(unittest.TestCase):
    def start(self, *args, boot=True):
        e = Emu(*args)
        self.addCleanup(lambda: e.proc.poll() is None and e.stop())
        if boot:
            e.boot()
        return e

    def test_start_banner(self):
        e = self.start(boot=False)
        e.open()
        lines = e.until(lambda l: l.startswith("echo: M92"))
        self.assertEqual(lines[0], "start")
        self.assertIn("echo:Marlin 2.1.2.1", lines)
        self.assertTrue(any(l.startswith("echo: Free Memory:") for l in lines))
        self.assertEqual(e.stop(), 0)

    def test_m110_m115_caps(self):
        e = self.start("--serial", "abc-123")
        self.assertEqual(numbered(0, "M110 N0"), "N0 M110 N0*125\n")
        self.assertEqual(numbered(1, "M115"), "N1 M115*39\n")
        e.send("N0 M110 N0*125\n")
        self.assertEqual(e.line(), "ok N0 P15 B3")
        e.send("N1 M115*39\n")
        lines = e.until(is_ok)
        self.assertTrue(lines[0].startswith("FIRMWARE_NAME:Marlin 2.1.2.1 ("), lines[0])
        self.assertIn("SOURCE_CODE_URL:github.com/MarlinFirmware/Marlin PROTOCOL_VERSION:1.0 "
                      "MACHINE_TYPE:labbridge emulated printer EXTRUDER_COUNT:1 UUID:abc-123",
                      lines[0])
        for cap in ("EMERGENCY_PARSER:1", "AUTOREPORT_TEMP:1", "ADVANCED_OK:1", "EEPROM:1",
                    "SERIAL_XON_XOFF:0", "ARCS:1", "THERMAL_PROTECTION:1"):
            self.assertIn("Cap:" + cap, lines)
        self.assertEqual(lines[-1], "ok N1 P15 B3")
        # M110 N<n> on a bare line sets the number too
        e.send("M110 N41\n")
        self.assertEqual(e.line(), "ok P15 B3")
        e.send(numbered(42, "G1 X1"))
        self.assertEqual(e.line(), "ok N42 P15 B3")

    def test_caps_options(self):
        e = self.start("--no-advanced-ok", "--no-autoreport")
        e.send("M115\n")
        lines = e.until(is_ok)
        self.assertIn("Cap:AUTOREPORT_TEMP:0", lines)
        self.assertIn("Cap:ADVANCED_OK:0", lines)
        self.assertEqual(lines[-1], "ok")
        e.send("M155 S1\n")
        self.assertEqual(e.until(is_ok), ['echo:Unknown command: "M155 S1"', "ok"])

    def test_line_errors_resend(self):
        e = self.start()
        e.send("N1 G1 X1*0\n")
        self.assertEqual(e.until(is_ok),
                         ["Error:checksum mismatch, Last Line: 0", "Resend: 1", "ok"])
        e.send(numbered(5, "G1 X1"))
        self.assertEqual(e.until(is_ok), [
            "Error:Line Number is not Last Line Number+1, Last Line: 0", "Resend: 1", "ok"])
        e.send("N1 G1 X1\n")
        self.assertEqual(e.until(is_ok),
                         ["Error:No Checksum with line number, Last Line: 0", "Resend: 1", "ok"])
        # an error drops what arrived with the bad line
        e.send("N1 G1 X1*0\n" + numbered(2, "G1 X2"))
        self.assertEqual(e.until(is_ok),
                         ["Error:checksum mismatch, Last Line: 0", "Resend: 1", "ok"])
        self.assertEqual(e.quiet(0.2), [])
        # both lines arrived together: Marlin queues both, then executes (B counts them)
        e.send(numbered(1, "G1 X1") + numbered(2, "G1 X2"))
        self.assertEqual(e.line(), "ok N1 P15 B2")
        self.assertEqual(e.line(), "ok N2 P15 B3")
        # bare lines: no checks; comments stripped
        e.send("G1 X3 ; a comment\n\n")
        self.assertEqual(e.line(), "ok P15 B3")
        e.send("hello\n")
        self.assertEqual(e.until(is_ok), ['echo:Unknown command: "hello"', "ok P15 B3"])
        self.assertEqual(e.stats()["rejected"], 4)

    def test_no_resend_ok(self):
        e = self.start()
        self.assertEqual(e.ctl("fault no_resend_ok"), {"ok": True})
        e.send("N1 G1*0\n")
        self.assertEqual(e.line(), "Error:checksum mismatch, Last Line: 0")
        self.assertEqual(e.line(), "Resend: 1")
        self.assertEqual(e.quiet(0.2), [])

    def test_m105_m114(self):
        e = self.start()
        e.send("M105\n")
        self.assertEqual(e.line(), "ok T:20.00 /0.00 B:20.00 /0.00 @:0 B@:0")
        e.send("G91\nG1 X10 Y5\nG1 X1\nG90\nM83\nG1 Z2 E3\nG1 E1\nG90\nG1 E1\nM114\n")
        lines = e.until(lambda l: l.startswith("X:"))
        self.assertEqual(lines[-1], "X:11.00 Y:5.00 Z:2.00 E:1.00 Count X:880 Y:400 Z:800")
        self.assertEqual(e.line(), "ok P15 B3")

    def test_autoreport(self):
        # the interval is the host's, in real time (time_scale does not apply)
        e = self.start("--time-scale", "0.01")
        e.send("M155 S0.04\n")
        self.assertEqual(e.line(), "ok P15 B3")
        t0 = time.monotonic()
        reports = [e.line() for _ in range(5)]
        dt = time.monotonic() - t0
        for r in reports:
            self.assertRegex(r, r"^ T:\d+\.\d\d /0\.00 B:\d+\.\d\d /0\.00 @:0 B@:0$")
        self.assertGreater(dt, 0.12)  # 5 reports every 40 ms: never faster
        e.send("M155 S0\n")
        e.until(is_ok)  # reports printed before the ok come before it
        self.assertEqual(e.quiet(0.2), [])

    def test_m109_wait(self):
        e = self.start("--time-scale", "0.01")
        t0 = time.monotonic()
        e.send(numbered(1, "M109 S200"))
        lines = e.until(is_ok)
        dt = time.monotonic() - t0
        self.assertEqual(lines[-1], "ok N1 P15 B3")
        waits = lines[:-1]
        self.assertGreater(len(waits), 10)
        self.assertRegex(waits[0], r"^ T:\d+\.\d\d /200\.00 B:20\.00 /0\.00 @:0 B@:0 W:\?$")
        self.assertRegex(waits[-1], r" W:\d+$")
        self.assertGreater(dt, 0.3)  # the heat-up is simulated, never skipped
        self.assertGreater(e.stats()["hotend"], 198.5)
        # bed, and M108 cancels a wait
        e.send("M190 S100\n")
        e.line()
        e.send("M108\n")
        lines = e.until(is_ok)
        self.assertLess(e.stats()["bed"], 99)

    def test_busy_and_overflow(self):
        e = self.start("--time-scale", "0.01", "--rx-buffer", "32")
        # G4 S200: 2 s, "busy" every 20 ms; once it is busy, what arrives waits in the 32-byte
        # receive buffer and the rest is lost
        e.send("G4 S200\n")
        self.assertEqual(e.line(), "echo:busy: processing")  # G4 runs: the board is busy
        e.send("G1 X1\nG1 X2\nG1 X3\n" + "G1 X4 ; this comment is lost\n" * 4)
        # G4's ok, then the three whole lines that fit (18 bytes); the 4th arrived cut after
        # 14 bytes ("G1 X4 ; this c") and waits for its end of line
        oks = []
        while len(oks) < 4:
            oks += [l for l in e.until(is_ok) if l.startswith("ok")]
        self.assertEqual(len(oks), 4)
        self.assertEqual(e.stats()["executed"], 4)
        # an end of line completes the cut line (its comment stripped); then a marker
        e.send("\nM105\n")
        self.assertRegex(e.line(), r"^ok P15 B[23]$")  # B: M105 may be queued already
        self.assertTrue(e.line().startswith("ok T:"))
        self.assertEqual(e.stats()["executed"], 6)  # 1 + 3 + the cut G1 X4 + M105

    def test_m112_halts(self):
        e = self.start("--time-scale", "0.01")
        e.send("G4 S1000\nG1 X1\nG1 X2\nG1 X3\n")
        self.assertEqual(e.line(), "echo:busy: processing")  # busy: M112 must cut through
        t0 = time.monotonic_ns()
        e.send("M112\n")
        self.assertEqual(e.until(lambda l: "kill()" in l)[-1],
                         "Error:Printer halted. kill() called!")
        s = e.stats()
        self.assertTrue(s["halted"])
        self.assertGreater(s["estop_ns"], t0)  # read off the wire (its latency: the bench)
        self.assertEqual(s["executed"], 1)  # G4 only: the queued moves never ran
        e.send("M105\n")
        self.assertEqual(e.quiet(0.3), [])
        # reopening resets the board, once the emulator has seen the port closed
        e.close_port()
        e.wait_stat("port_open", False)
        lines = e.boot()
        self.assertEqual(lines[0], "start")
        self.assertFalse(e.stats()["halted"])
        e.send("N1 M105*%d\n" % checksum("N1 M105"))
        self.assertTrue(e.line().startswith("ok T:"))

    def test_m112_numbered_when_full(self):
        e = self.start("--time-scale", "0.01", "--rx-buffer", "16")
        e.send("G4 S1000\n")
        self.assertEqual(e.line(), "echo:busy: processing")  # the buffer fills from now on
        e.send("G1 X1 Y1 Z1 E1 F1000\n" * 4 + numbered(7, "M112"))
        self.assertEqual(e.until(lambda l: "kill()" in l)[-1],
                         "Error:Printer halted. kill() called!")

    def test_fault_corrupt(self):
        e = self.start()
        e.ctl("fault corrupt 3")
        got = []
        n = 1
        while n <= 6:
            e.send(numbered(n, "G1 X%d" % n))
            lines = e.until(is_ok)
            got.append(lines)
            if lines[-1].startswith("ok N"):
                n += 1
        self.assertEqual(got[2], ["Error:checksum mismatch, Last Line: 2", "Resend: 3", "ok"])
        self.assertEqual(e.stats()["rejected"], 2)  # receptions 3 and 6
        e.ctl("fault ok")

    def test_fault_always_corrupt_drop_ok(self):
        e = self.start()
        e.ctl("fault always_corrupt 2")
        e.send(numbered(1, "G1 X1"))
        self.assertEqual(e.line(), "ok N1 P15 B3")
        for _ in range(3):
            e.send(numbered(2, "G1 X2"))
            self.assertEqual(e.until(is_ok)[0], "Error:checksum mismatch, Last Line: 1")
        e.ctl("fault ok")
        e.send(numbered(2, "G1 X2"))
        self.assertEqual(e.line(), "ok N2 P15 B3")
        e.ctl("fault drop_ok 2")
        e.send("G1\nG1\nG1\nG1\n")
        e.quiet(0.2)
        self.assertEqual(e.stats()["dropped_ok"], 2)

    def test_fault_reset(self):
        e = self.start()
        e.send(numbered(1, "G1 X1"))
        e.line()
        e.ctl("fault reset")
        lines = e.until(lambda l: l.startswith("echo: M92"))
        self.assertEqual(lines[0], "start")
        self.assertEqual(e.stats()["resets"], 1)
        e.send(numbered(1, "G1 X1"))
        self.assertEqual(e.line(), "ok N1 P15 B3")

    def test_fault_thermal_silent_garbage(self):
        e = self.start()
        e.ctl("fault garbage")
        e.send("G1\nG1\nG1\nG1\nG1\nG1\n")
        lines = e.quiet(0.2)
        self.assertTrue(any("garbage" in l for l in lines))
        self.assertEqual(len([l for l in lines if l.startswith("ok")]), 6)
        e.ctl("fault ok")
        e.ctl("fault silent")
        e.send("M105\n")
        self.assertEqual(e.quiet(0.2), [])
        e.ctl("fault ok")
        e.ctl("fault thermal")
        self.assertEqual(e.until(lambda l: "kill()" in l)[-2:], [
            "Error:Thermal Runaway, system stopped! Heater_ID: 0",
            "Error:Printer halted. kill() called!"])
        self.assertTrue(e.stats()["halted"])

    def test_log(self):
        with tempfile.TemporaryDirectory() as d:
            log = os.path.join(d, "exec.log")
            e = self.start("--log", log, "--time-scale", "0.01")
            cmds = ["M110 N0", "G28", "G1 X10 Y10 F3000", "M104 S50", "G1 X20 E1.5",
                    "M117 hello world", "M400"]
            data = numbered(0, cmds[0]) + numbered(1, cmds[1]) + "G1 X10 Y10 F3000 ; move\n"
            data += "".join(numbered(i, c) for i, c in enumerate(cmds[3:], start=2))
            # a host waits for M110's ok: executing M110 sets the line number again (Marlin)
            first, data = data.split("\n", 1)
            e.send(first + "\n")
            self.assertEqual(e.line(), "ok N0 P15 B3")
            e.send(data)
            oks = 1
            while oks < len(cmds):
                oks += len([l for l in e.until(is_ok) if l.startswith("ok")])
            e.stop()
            with open(log) as f:
                self.assertEqual(f.read().splitlines(), cmds)

    def test_baud_input(self):
        # the simulated link is never faster than its baud rate (its accuracy: the bench)
        e = self.start("--baud", "19200")
        line = "G1 X100.000 Y100.000 Z1.000 E0.1234 F99\n"  # 40 bytes
        self.assertEqual(len(line), 40)
        data = line * 50  # 2000 bytes: 1.0417 s at 1920 bytes/s
        t0 = time.monotonic()
        e.send(data)
        oks = 0
        while oks < 50:
            oks += len([l for l in e.until(is_ok) if l.startswith("ok")])
        dt = time.monotonic() - t0
        self.assertGreater(dt, 1.0417 * 0.95)
        self.assertEqual(e.stats()["executed"], 50)

    def test_baud_output(self):
        e = self.start("--baud", "9600")
        e.send("M115\n")
        t0 = time.monotonic()
        first = e.line()
        t1 = time.monotonic()
        rest = e.until(is_ok)
        t2 = time.monotonic()
        nbytes = sum(len(l) + 1 for l in rest)
        ideal = nbytes / 960.0
        self.assertTrue(first.startswith("FIRMWARE_NAME"))
        self.assertGreater(t2 - t1, ideal * 0.9)  # never faster than 9600 baud
        self.assertLess(t0, t1)

    def test_windows_baud0(self):
        # lines streamed with 1 to 16 in flight, as fast as the pty goes: every one executed
        # once, never a resend (the speed: tests/bench/marlin_emu.py)
        for window in (1, 4, 8, 16):
            e = self.start()
            streamed = stream(e, window, 3000)
            self.assertEqual(streamed["resends"], 0)
            self.assertEqual(e.stats()["executed"], 3000 + 1)
            e.stop()

    def test_bad_arguments(self):
        r = subprocess.run([emu_binary(), "--baud", "x"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--baud", r.stderr)
        r = subprocess.run([emu_binary(), "--bogus"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)

    def test_sigterm(self):
        e = self.start()
        e.proc.terminate()
        self.assertEqual(e.proc.wait(timeout=5), 0)
        e.close_port()
        e.proc.stdout.close()
        e.proc.stdin.close()


if __name__ == "__main__":
    unittest.main()
