"""The 3D scanner driver against the genuine horus-fw (the Ciclop's firmware, a Grbl 0.9 derivative)
built with avr-gcc and run on an ATmega328P simulated by simavr (tests/emulators/avr/avr_uno.c,
build/avr-uno): every command of a scan answered by the real firmware, the turntable's rotation
measured from the step pulses on its pins, the motor enabled only during the scan, the laser lit
only at rest around its frames, everything off after the job, after a cancel mid-scan and after
room.stop.

horus-fw's pins (its cpu_map.h, CPU_MAP_ATMEGA328P_HORUS, not Grbl's): step D12, direction D13
(high for a positive move: defaults.h inverts the Y/Z direction masks, which fall on the same bit),
stepper enable D9 (active low), lasers 1..4 on D2..D5; 16/1.8 microsteps per degree (defaults.h).

The camera: `camera = test:commanded`, the renderer at the angle and lasers the board acknowledged
(horus-fw answers a move when it is over); a test-only configuration, see drivers/ciclop/TODO.md.

LB_HORUS_SRC names a checkout (or a bare git directory) of github.com/bqlabs/horus-fw. Debian ships
no horus-fw and this repository keeps no third-party code: without it the tests are skipped (an
allowed skip). The image is built once per source commit into build/avr/."""
import hashlib
import os
import select
import shutil
import subprocess
import tempfile
import threading
import time
import tty
import unittest

from lbtest import ROOT, BridgeTest, make_conf, program, wait_until

SRC = os.environ.get("LB_HORUS_SRC", "")
BUILD = os.path.join(ROOT, "build", "avr")
DEV = "ciclop-horus"
STEPS_PER_DEG = 16 / 1.8  # defaults.h DEFAULT_X_STEPS_PER_DEG
STEP, DIR, ENABLE, LASERS = "D12", "D13", "D9", ("D2", "D3", "D4", "D5")
# eight positions at the firmware's top speed, no extra waits: a short scan in real time
SHORT = {"steps": 8, "speed": 10800, "settle_ms": 0, "laser_ms": 0}
# the laser stays lit 3 s at each step: a cancel or a stop lands while it is on
LIT = {"steps": 8, "speed": 10800, "settle_ms": 0, "laser_ms": 3000}


def commit(rev):
    """The commit of rev in LB_HORUS_SRC's git history, or None (not git, no such rev)."""
    r = subprocess.run(["git", "-C", SRC, "rev-parse", "--verify", "-q", rev + "^{commit}"],
                       capture_output=True, text=True, timeout=30)
    return r.stdout.strip() if r.returncode == 0 and r.stdout.strip() else None


def source_key():
    """The source's commit (git), else a digest of its files."""
    if commit("HEAD"):
        return commit("HEAD")
    h = hashlib.sha256()
    for name in sorted(os.listdir(SRC)):
        if name.endswith((".c", ".h")) or name == "Makefile":
            with open(os.path.join(SRC, name), "rb") as f:
                h.update(name.encode() + b"\0" + f.read())
    return h.hexdigest()[:40]


def firmware(rev=None):
    """horus-fw's Intel HEX image (of the checkout, or of git revision rev), built with its own
    Makefile (avr-gcc) in a temporary tree."""
    key = commit(rev) if rev else source_key()
    hexfile = os.path.join(BUILD, "horus-fw-%s.hex" % key)
    if os.path.exists(hexfile):
        return hexfile
    os.makedirs(BUILD, exist_ok=True)
    tree = tempfile.mkdtemp(prefix="horus-fw-")
    try:
        if rev:
            subprocess.run("git -C '%s' archive '%s' | tar -x -C '%s'" % (SRC, key, tree),
                           shell=True, check=True, timeout=120)
        elif os.path.exists(os.path.join(SRC, "Makefile")):
            shutil.rmtree(tree)
            shutil.copytree(SRC, tree, ignore=shutil.ignore_patterns(".git", "*.o", "*.hex"))
        else:  # a bare git directory
            subprocess.run("git -C '%s' archive HEAD | tar -x -C '%s'" % (SRC, tree), shell=True,
                           check=True, timeout=120)
        r = subprocess.run(["make", "-C", tree, "horus-fw.hex"], capture_output=True, text=True,
                           timeout=300)
        if r.returncode != 0:
            raise AssertionError("horus-fw does not build:\n" + r.stdout[-2000:] + r.stderr[-2000:])
        shutil.copy(os.path.join(tree, "horus-fw.hex"), hexfile + ".tmp")
        os.rename(hexfile + ".tmp", hexfile)
    finally:
        shutil.rmtree(tree, ignore_errors=True)
    return hexfile


class Uno:
    """The simulated Uno running horus-fw: its pty, and what its pins did (read from avr-uno's
    output lines, in order): step pulses counted with the direction and enable pins' state."""

    def __init__(self, image):
        self.proc = subprocess.Popen([program("LB_AVR_UNO", "build/avr-uno"), image],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.path = None
        deadline = time.monotonic() + 10
        while self.path is None and time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise AssertionError("avr-uno exited: %s" % self.proc.poll())
            if line.startswith("pty "):
                self.path = line.split()[1]
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.pin = {}
        self.clear()
        threading.Thread(target=self._read, daemon=True).start()

    def clear(self):
        """Start counting afresh (pin states are kept)."""
        with self.lock:
            self.net = 0            # microsteps, positive with DIR high
            self.disabled_steps = 0  # pulses while the driver was disabled (D9 high)
            self.lit_steps = 0      # pulses while a laser was lit
            self.lit = {p: 0 for p in LASERS}  # times each laser was switched on
            self.enables = 0        # times D9 went low

    def _read(self):
        for line in self.proc.stdout:
            parts = line.split()
            if len(parts) != 2 or parts[1] not in ("0", "1"):
                continue
            pin, v = parts[0], parts[1] == "1"
            with self.changed:
                if pin == STEP and v and not self.pin.get(STEP, False):
                    self.net += 1 if self.pin.get(DIR, False) else -1
                    if self.pin.get(ENABLE, True):
                        self.disabled_steps += 1
                    if any(self.pin.get(p, False) for p in LASERS):
                        self.lit_steps += 1
                if pin in LASERS and v and not self.pin.get(pin, False):
                    self.lit[pin] += 1
                if pin == ENABLE and not v and self.pin.get(ENABLE, True):
                    self.enables += 1
                self.pin[pin] = v
                self.changed.notify_all()

    def wait(self, what, pred, timeout=15):
        """Wait until pred(self) holds (called under the lock)."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while not pred(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("timeout (%d s) waiting for the AVR's pins: %s (%s)"
                                         % (timeout, what, self.pin))
                self.changed.wait(min(left, 0.2))

    def all_off(self):
        """Every laser pin low and the stepper driver disabled (D9 high)."""
        return not any(self.pin.get(p, False) for p in LASERS) and self.pin.get(ENABLE, True)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


class Wire:
    """A raw serial line to a board (the firmware's or the emulator's pty)."""

    def __init__(self, path):
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.fd)
        self.buf = b""

    def read_until(self, done, timeout=10):
        """Bytes read until done(bytes) holds; fails after timeout."""
        deadline = time.monotonic() + timeout
        while not done(self.buf):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("timeout (%d s) reading the board: %r" % (timeout, self.buf))
            r, _, _ = select.select([self.fd], [], [], min(left, 0.2))
            if r:
                self.buf += os.read(self.fd, 4096)
        out, self.buf = self.buf, b""
        return out

    def reset(self, boot):
        """(With boot: the power-up's greeting first, the port's opening having reset it.)
        Ctrl-X and its greeting (returned), then in step: a refused line answered, everything
        before it dropped (an emulator's greeting from before the port was open)."""
        greeting = lambda b: b.endswith(b" ['$' for help]\r\n")
        if boot:
            self.read_until(greeting, timeout=15)
        os.write(self.fd, b"\x18")
        out = self.read_until(greeting, timeout=15)
        os.write(self.fd, b"G1F-1\n")
        self.read_until(lambda b: b.endswith(b"error: Value < 0\r\n"))
        return out

    def ask(self, line):
        """One line; its reply (up to its "ok" or "error: ..." line) and the seconds it took."""
        t0 = time.monotonic()
        os.write(self.fd, line.encode() + b"\n")
        out = self.read_until(lambda b: b.endswith(b"ok\r\n") or (
            b.endswith(b"\r\n") and b"error:" in b.rsplit(b"\r\n", 2)[-2]))
        return out, time.monotonic() - t0

    def close(self):
        os.close(self.fd)


def job(c, jid):
    return c.call("jobs.get", {"id": jid})


def wait_job(c, jid, states, timeout=60):
    return wait_until(lambda: job(c, jid) if job(c, jid)["state"] in states else None,
                      timeout=timeout, what="job %d %s" % (jid, "/".join(states)))


def device(c):
    return {d["id"]: d for d in c.call("devices.list")}.get(DEV)


class HorusFirmwareTest(BridgeTest):
    TEST_TIMEOUT = 400  # building the image the first time on a loaded machine

    def setUp(self):
        if not SRC:
            self.skipTest("allowed: LB_HORUS_SRC is not set: Debian ships no horus-fw source (a "
                          "checkout of github.com/bqlabs/horus-fw) and none is kept here; the "
                          "driver's own emulator is tested in test_ciclop")
        if not os.path.isdir(SRC):
            self.fail("LB_HORUS_SRC=%s is not a directory" % SRC)
        super().setUp()

    def scanner(self, rev=None, version="Horus 0.2"):
        """horus-fw on the simulated Uno, and a bridge whose [ciclop] section is on its pty."""
        uno = Uno(firmware(rev))
        self.addCleanup(uno.stop)
        raw = ("[sim.idle]\nrate = 1\nautostart = 0\n[ciclop.horus]\nport = %s\n"
               "camera = test:commanded\nwidth = 640\nheight = 480\n" % uno.path)
        d = self.start_bridge(make_conf({}, bridge={"simulate": "no"}, raw=raw))
        c = self.client(d)
        dev = wait_until(lambda: device(c), timeout=30, what="the scanner on horus-fw")
        self.assertEqual(dev["config"]["firmware"], version)  # report.c's greeting
        self.assertFalse(dev["simulated"])
        # boot: every laser off, the stepper driver disabled (st_reset: D9 high)
        uno.wait("lasers off, motor disabled after the boot", Uno.all_off)
        return uno, d, c

    def folder(self, d, jid):
        return os.path.join(self.tmp, d.name + "-data", "jobs", str(jid))

    def test_scan_against_the_real_firmware(self):
        uno, d, c = self.scanner()
        uno.clear()
        t0 = time.monotonic()
        j = c.call("scan.submit", {"device": DEV, "settings": SHORT})
        end = wait_job(c, j["id"], ("done", "failed", "cancelled"), timeout=120)
        elapsed = time.monotonic() - t0
        self.assertEqual(end["state"], "done", end)
        n = SHORT["steps"]
        # the pins once the job is over: M70T1..4 and M18 were answered, so they are settled
        uno.wait("everything off after the scan", Uno.all_off, timeout=5)
        with uno.lock:
            net, disabled, lit_steps = uno.net, uno.disabled_steps, uno.lit_steps
            lit, enables = dict(uno.lit), uno.enables
        # the rotation the job asked for: n - 1 moves of 360/n degrees, within one microstep
        asked = (n - 1) * 360.0 / n
        print("  scan of %d steps on horus-fw: %.1f s, %d microsteps (%.4f deg, asked %.4f)"
              % (n, elapsed, net, net / STEPS_PER_DEG, asked))
        self.assertLessEqual(abs(net / STEPS_PER_DEG - asked), 1 / STEPS_PER_DEG)
        self.assertEqual(disabled, 0, "step pulses while the stepper driver was disabled")
        self.assertEqual(enables, 1, "the motor enabled once, for the scan")
        # laser 1 lit once per step, never while the table turned; the others never
        self.assertEqual(lit, {"D2": n, "D3": 0, "D4": 0, "D5": 0})
        self.assertEqual(lit_steps, 0, "the table turned while a laser was lit")
        # every command answered ok by the firmware: M17, G1F, G50, M70T1..4, per step the move
        # (not for step 0), M71T1 and M70T1, M18 (and the Ctrl-X, answered by its greeting)
        link = device(c)["config"]["link"]
        self.assertEqual((link["errors"], link["alarms"], link["timeouts"]), (0, 0, 0), link)
        self.assertEqual(link["ok"], 3 * n + 7, link)
        self.assertEqual(link["sent"], link["ok"] + 1, link)
        # the points: the figure seen at the acknowledged angles
        ply = os.path.join(self.folder(d, j["id"]), "scan.ply")
        with open(ply, "rb") as f:
            header = f.read(400)
        count = int(header.split(b"element vertex ")[1].split()[0])
        print("  %d points" % count)
        self.assertGreater(count, 100)

    def test_cancel_mid_scan_turns_everything_off(self):
        uno, d, c = self.scanner()
        j = c.call("scan.submit", {"device": DEV, "settings": LIT})
        uno.wait("laser 1 lit", lambda u: u.pin.get("D2", False))
        c.call("jobs.cancel", {"id": j["id"]})
        end = wait_job(c, j["id"], ("cancelled", "failed", "done"), timeout=15)
        self.assertEqual(end["state"], "cancelled", end)
        uno.wait("lasers off and the motor disabled after the cancel", Uno.all_off, timeout=5)
        self.assertEqual(os.listdir(self.folder(d, j["id"])), [])
        link = device(c)["config"]["link"]
        self.assertEqual((link["errors"], link["alarms"]), (0, 0), link)

    def test_room_stop_reaches_the_real_firmware(self):
        uno, d, c = self.scanner()
        j = c.call("scan.submit", {"device": DEV, "settings": LIT})
        uno.wait("laser 1 lit", lambda u: u.pin.get("D2", False))
        c.call("room.stop")
        end = wait_job(c, j["id"], ("cancelled", "failed", "done"), timeout=15)
        self.assertEqual(end["state"], "cancelled", end)
        # the halt hook's M70T1..4 and M18, written from the main thread, did it on the pins
        uno.wait("lasers off and the motor disabled after room.stop", Uno.all_off, timeout=5)
        self.assertEqual(os.listdir(self.folder(d, j["id"])), [])

    def test_model_answers_as_the_firmware_byte_for_byte(self):
        """Our board model (build/asan/ciclop-emu, drivers/ciclop/board.c) and horus-fw given
        the same lines answer the same bytes, and both answer a move when it is over."""
        uno = Uno(firmware())
        self.addCleanup(uno.stop)
        emu = subprocess.Popen([program("LB_CICLOP_EMU", "build/asan/ciclop-emu")],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.addCleanup(emu.wait, 10)
        self.addCleanup(emu.stdin.close)
        real, model = Wire(uno.path), Wire(emu.stdout.readline().split()[1])
        self.addCleanup(real.close)
        self.addCleanup(model.close)
        for w in (real, model):
            self.assertTrue(w.reset(w is real).endswith(b"\r\nHorus 0.2 ['$' for help]\r\n"))
        lines = ["G1X5", "G0X1", "G1X1X2", "G1.5", "G1G1X1", "M71T9", "G1F-5", "1G1", "G1Xabc",
                 "Y5", "M999", "g1 f20 (twenty deg/s)", "M17", "G1X10", "M71T1", "M70T1",
                 "M71T4", "M70T4", "G50", "G1X-5", "M18", "G1X0", "X3"]
        for line in lines:
            got = [w.ask(line) for w in (real, model)]
            self.assertEqual(got[1][0], got[0][0], "the reply to %r" % line)
            if line == "G1X10":  # 10 deg at 20 deg/s with 180 deg/s^2 ramps: 0.61 s
                for reply, took in got:
                    self.assertGreater(took, 0.5, "the ok of a move came before its end")

    def test_release_0_1_is_refused_clearly(self):
        """horus-fw 0.1 (2015) has no G50, which a scan begins with: refused at the start, the
        board untouched."""
        if not commit("0.1"):
            self.skipTest("allowed: LB_HORUS_SRC has no git history with the tag 0.1 (a plain "
                          "checkout): release 0.1 cannot be built")
        uno, d, c = self.scanner("0.1", "Horus 0.1")
        uno.clear()
        j = c.call("scan.submit", {"device": DEV, "settings": SHORT})
        end = wait_job(c, j["id"], ("failed", "done", "cancelled"), timeout=15)
        self.assertEqual(end["state"], "failed", end)
        self.assertIn("no G50", end["error"])
        with uno.lock:
            self.assertEqual((uno.net, uno.enables, sum(uno.lit.values())), (0, 0, 0))


if __name__ == "__main__":
    unittest.main()
