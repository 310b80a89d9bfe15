"""The Firmata driver against the genuine StandardFirmata running on an ATmega328P simulated by
simavr (tests/emulators/avr/avr_uno.c): version detection, the interval limit of each release, an
analog input's value, a digital input driven by the harness, a pull-up, and a digital write seen
on the AVR's pin.

Always (CI included): the prebuilt StandardFirmata image for the Uno published in the npm package
avrgirl-arduino 5.0.1 (build/firmware/StandardFirmata-uno.hex, fetched by `make integration`, see
the Makefile; LB_FIRMATA_HEX names another file). It reports firmware StandardFirmata.ino 2.4 and
protocol 2.4: release 2.4.3 or 2.4.4 of firmata/arduino, as built by the Arduino IDE.

With LB_FIRMATA_SRC, a git checkout of github.com/firmata/arduino (with its release tags): the
2.3.6, 2.4.4 and 2.5.9 releases, built here with Debian's gcc-avr and arduino-core-avr. Debian
ships no Firmata source and this repository keeps no third-party code: without it these three are
skipped (an allowed skip, with that reason)."""
import os
import queue
import select
import subprocess
import threading
import time
import tty
import unittest

from lbtest import ROOT, BridgeTest, make_conf, program, wait_until

RELEASES = (("2.3", "v2.3.6"), ("2.4", "v2.4.4"), ("2.5", "2.5.9"))
DEV = "firmata-uno"
SRC = os.environ.get("LB_FIRMATA_SRC", "")
BUILD = os.path.join(ROOT, "build", "avr")
HEX = program("LB_FIRMATA_HEX", "build/firmware/StandardFirmata-uno.hex")


def firmware(tag):
    """The StandardFirmata image of release tag (built once, kept in build/avr/)."""
    elf = os.path.join(BUILD, "StandardFirmata-%s.elf" % tag)
    if os.path.exists(elf):
        return elf
    os.makedirs(BUILD, exist_ok=True)
    tree = os.path.join(BUILD, "src-%s" % tag)
    subprocess.run("rm -rf '%s' && mkdir -p '%s' && git -C '%s' archive '%s' | tar -x -C '%s'"
                   % (tree, tree, SRC, tag, tree), shell=True, check=True, timeout=120)
    subprocess.run([os.path.join(ROOT, "tests/emulators/avr/build-firmata.sh"), tree,
                    elf + ".tmp"], check=True, timeout=300, stdout=subprocess.DEVNULL)
    os.rename(elf + ".tmp", elf)
    return elf


class Uno:
    """The simulated Uno: its pty, its pins' output lines, commands to its inputs."""

    def __init__(self, elf):
        self.proc = subprocess.Popen([program("LB_AVR_UNO", "build/avr-uno"), "-n", elf],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.lines = queue.Queue()
        self.path = None
        deadline = time.monotonic() + 10
        while self.path is None and time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise AssertionError("avr-uno exited: %s" % self.proc.poll())
            if line.startswith("pty "):
                self.path = line.split()[1]
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.strip())

    def send(self, command):
        try:
            self.proc.stdin.write(command + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise AssertionError("avr-uno exited (status %s; its message is above)"
                                 % self.proc.wait(5)) from None

    def wait_pin(self, text, timeout=10):
        """Wait for the harness to report a pin line such as "D13 1"."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.lines.get(timeout=0.1) == text:
                    return
            except queue.Empty:
                pass
        raise AssertionError("timeout (%.0f s) waiting for the AVR pin: %s" % (timeout, text))

    def wait_booted(self, timeout=30):
        """Ask the firmware its version until it answers (it blinks its version first)."""
        fd = os.open(self.path, os.O_RDWR | os.O_NOCTTY)
        try:
            tty.setraw(fd)
            deadline, got = time.monotonic() + timeout, b""
            while time.monotonic() < deadline:
                os.write(fd, b"\xf9")
                r, _, _ = select.select([fd], [], [], 0.3)
                if r:
                    got += os.read(fd, 4096)
                    if b"\xf9\x02" in got:
                        return
            raise AssertionError("StandardFirmata did not answer within %d s" % timeout)
        finally:
            os.close(fd)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


class RealFirmataTest(BridgeTest):
    TEST_TIMEOUT = 400  # building three firmware images on a loaded machine, the first time

    def device(self, c):
        return {d["id"]: d for d in c.call("devices.list")}.get(DEV)

    def last_value(self, c, stream):
        topic = "sensor/%s/%s/" % (DEV, stream)
        for s in c.call("snapshot", {"prefix": topic})["streams"]:
            if s["topic"] == topic:
                return s.get("value")
        return None

    def run_release(self, version, tag):
        if not (SRC and os.path.isdir(SRC)):
            self.skipTest("allowed: LB_FIRMATA_SRC is not set: Debian ships no Firmata source (a "
                          "git checkout of firmata/arduino) and none is kept here; the prebuilt "
                          "npm image covers release 2.4 (test_prebuilt_uno_image)")
        self.run_image(version, firmware(tag))

    def run_image(self, version, image):
        uno = Uno(image)
        self.addCleanup(uno.stop)
        uno.send("A0 2500")  # 2.5 V on A0
        uno.send("D2 0")
        uno.wait_booted()
        raw = ("[sim.idle]\nrate = 1\nautostart = 0\n[firmata.uno]\nport = %s\ninputs = D2\n"
               "pullup = D4\ninterval_ms = 5\n" % uno.path)
        d = self.start_bridge(make_conf({}, raw=raw), name="bridge-%s" % version)
        c = self.client(d)
        dev = wait_until(lambda: self.device(c), timeout=15, what="the StandardFirmata board")
        cfg = dev["config"]
        self.assertEqual((cfg["firmware"], cfg["protocol"]), ("StandardFirmata.ino", version))
        # REPORT_FIRMWARE's version and REPORT_VERSION's protocol, both of the release
        self.assertIn("StandardFirmata.ino %s (protocol %s)" % (version, version), d.stderr())
        self.assertEqual((cfg["inputs"], cfg["pullup"]), (["D2"], ["D4"]))
        # the interval: 5 ms is below the 10 ms of 2.3/2.4 (clamped, with the reason logged)
        fastest = 10 if version != "2.5" else 4
        self.assertEqual(dev["limits"]["interval_ms"]["min"], fastest)
        self.assertEqual(cfg["interval_ms"], 10 if version != "2.5" else 5)
        if version != "2.5":
            self.assertIn("interval_ms = 5 is below", d.stderr())
        a0 = "sensor/%s/a0/" % DEV
        sub = self.subscriber(d, [a0, "sensor/%s/D2/" % DEV, "sensor/%s/D4/" % DEV])
        m = sub.wait_for(lambda m: m.topic == a0, timeout=10, what="a0 samples")
        self.assertEqual(m.header["rate"], 100 if version != "2.5" else 200)
        m = sub.wait_for(lambda m: m.topic == a0, what="a0 samples")
        self.assertAlmostEqual(m.samples[0], 2.5, delta=0.01)
        t = [m.header["t_host"] for m in sub.collect(count=30, topic=a0, seconds=10)]
        self.assertEqual(len(t), 30)
        self.assertTrue(all(b > a for a, b in zip(t, t[1:])), "each sample its own t_host")
        # D4 is released: its pull-up reads high (published once, maybe before we subscribed:
        # the snapshot keeps it); D2 follows what the harness drives
        wait_until(lambda: self.last_value(c, "D4") == 1, what="D4 high through its pull-up")
        uno.send("D2 1")
        sub.wait_for(lambda m: m.topic.endswith("/D2/") and m.samples[0] == 1, what="D2 high")
        uno.send("D2 0")
        sub.wait_for(lambda m: m.topic.endswith("/D2/") and m.samples[0] == 0, what="D2 low")
        # a digital write reaches the AVR's pin (DIGITAL_MESSAGE: 2.3/2.4 ignore F5)
        c.call("device.call", {"device": DEV, "action": "digital_write",
                               "args": {"pin": "D13", "value": 1}})
        uno.wait_pin("D13 1")
        c.call("device.call", {"device": DEV, "action": "digital_write",
                               "args": {"pin": "D13", "value": 0}})
        uno.wait_pin("D13 0")
        # the same as a client's event (device.emit: answered at once, no reply from the board)
        self.assertEqual(c.call("device.emit", {"device": DEV, "event": "digital_write",
                                                "args": {"pin": "D13", "value": 1}}),
                         {"queued": True})
        uno.wait_pin("D13 1")
        # D9, alone on its port and low: 2.3 sends nothing for it, 2.4+ its value at once
        c.call("device.set", {"device": DEV, "key": "inputs", "value": ["D2", "D9"]})
        wait_until(lambda: self.last_value(c, "D9") == 0, what="D9 at 0 in the snapshot")
        d.stop()

    def test_prebuilt_uno_image(self):
        """The StandardFirmata image of the npm package avrgirl-arduino (2.4), in CI too."""
        if not os.path.exists(HEX):
            self.fail("%s is missing: make build/firmware/StandardFirmata-uno.hex (needs npm)"
                      % HEX)
        self.run_image("2.4", HEX)

    def test_release_2_3(self):
        self.run_release(*RELEASES[0])

    def test_release_2_4(self):
        self.run_release(*RELEASES[1])

    def test_release_2_5(self):
        self.run_release(*RELEASES[2])


if __name__ == "__main__":
    unittest.main()
