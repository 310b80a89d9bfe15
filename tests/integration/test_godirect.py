"""Go Direct through the real driver and the real libusb: an emulated Vernier GDX-FOR on USB.

The daemon runs under umockdev-run, which gives libusb a USB device from a sysfs/udev description
and replays its usbdevfs ioctls from a script (tests/integration/godirect/, made by
make_script.py: each output transfer must be the driver's exact next command, each input transfer
gets the device's next report). Checked through the bridge: discovery, sensors with their units,
ranges and period limits, the exclusion of sensors, start, the measurements and their values, the
gap of a dropped-packet report and of a packet with a bad checksum (in t_dev, never in seq),
period change while running, stop, and unplugging (LIBUSB_ERROR_NO_DEVICE) and re-plugging.

Needs umockdev (Debian: apt-get install umockdev); skipped without it. The ASan build runs under
umockdev's LD_PRELOAD with ASAN_OPTIONS=verify_asan_link_order=0.
"""
import os
import shutil
import struct
import subprocess
import sys

from lbtest import BridgeTest, make_conf, seq_gaps, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
GD = os.path.join(HERE, "godirect")
sys.path.insert(0, GD)
import make_script as ms  # noqa: E402  (the emulated device's facts: serial, rows, times)

DEV = "godirect-" + ms.SERIAL
PREFIX = "sensor/%s/" % DEV
FORCE = PREFIX + "force/"
ACCEL = PREFIX + "x-axis_acceleration/"
T0 = ms.START_TIME_US * 1000  # block 1's device time origin, ns

# what block 1 publishes: one message per packet that arrives intact, its rows
BLOCK1_MSGS = [rows for kind, rows in ms.BLOCK1 if kind == "rows"]
BLOCK1_ROWS = [r for rows in BLOCK1_MSGS for r in rows]


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def conf():
    # autostart = 0: the test subscribes before measurements start (the replay is instant)
    return make_conf({}, bridge={"simulate": "no"}, raw="[godirect]\nautostart = 0\n")


class GoDirectTest(BridgeTest):

    TEST_TIMEOUT = 90

    def setUp(self):
        if not shutil.which("umockdev-run"):
            self.skipTest("umockdev-run is not installed (apt-get install umockdev)")
        super().setUp()

    def start_emulated(self, script="gdx.ioctl", record="gdx.umockdev"):
        """The daemon under umockdev-run with the emulated GDX-FOR, and a client; waits for the
        device. The files are made afresh by make_script.py, so the replay is what it says."""
        subprocess.run([sys.executable, os.path.join(GD, "make_script.py"), "--out", self.tmp],
                       check=True)
        wrapper = ["umockdev-run", "-d", os.path.join(self.tmp, record),
                   "-i", "%s=%s" % (ms.DEVNODE, os.path.join(self.tmp, script)), "--"]
        env = {"ASAN_OPTIONS": "detect_leaks=1:verify_asan_link_order=0"}
        d = self.start_bridge(conf(), wrapper=wrapper, env=env)
        c = self.client(d)
        wait_until(lambda: self.device(c), timeout=10, what="the emulated Go Direct sensor")
        return d, c

    def device(self, c):
        devs = {d["id"]: d for d in c.call("devices.list")}
        return devs.get(DEV)

    def collect_rows(self, sub, topic_rows):
        """Messages until each topic has its number of samples: {topic: [msg...]}."""
        got = {t: [] for t in topic_rows}

        def done():
            return all(sum(m.header.get("count", 0) for m in got[t]) >= n
                       for t, n in topic_rows.items())
        while not done():
            m = sub.recv(10)
            self.assertIsNotNone(m, "measurements stopped coming: %r" %
                                 {t: [x.header for x in v] for t, v in got.items()})
            if m.topic in got:
                got[m.topic].append(m)
        return got

    def check_block(self, msgs, fn, packets, t0, period_ns, rate):
        """One stream's messages of a block: one per packet of rows, values fn(row), t_dev at its
        first row (so a lost row shows as a jump), seq without a gap."""
        self.assertEqual(seq_gaps(msgs), [])
        self.assertEqual([m.header["count"] for m in msgs], [len(r) for r in packets])
        for m, rows in zip(msgs, packets):
            self.assertEqual(m.header["type"], "f32")
            self.assertEqual(m.header["rate"], rate)
            self.assertEqual(list(m.samples), [f32(fn(r)) for r in rows])
            self.assertEqual(m.header["t_dev"], t0 + rows[0] * period_ns, m.header)

    def test_committed_script_is_current(self):
        # the files in tests/integration/godirect/ are what make_script.py makes
        r = subprocess.run([sys.executable, os.path.join(GD, "make_script.py"), "--check"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_discovery_and_sensors(self):
        d, c = self.start_emulated()
        dev = self.device(c)
        self.assertEqual(dev["driver"], "godirect")
        self.assertFalse(dev["simulated"])
        self.assertEqual(dev["state"], "ready")  # autostart = 0
        self.assertIn(ms.PRODUCT, dev["name"])
        streams = {s["name"]: s for s in dev["streams"]}
        self.assertEqual(list(streams), ["force", "x-axis_acceleration", "force_10_n_range"])
        for name, n in (("force", 1), ("x-axis_acceleration", 2), ("force_10_n_range", 3)):
            desc, units, lo, hi, unc, typ, _ = ms.SENSORS[n]
            s = streams[name]
            self.assertEqual((s["unit"], s["type"], s["min"], s["max"]), (units, "f32", lo, hi))
            self.assertAlmostEqual(s["resolution"], unc)
            self.assertEqual(s["rate"], 1e6 / typ)
            self.assertEqual(s["topic"], PREFIX + name + "/")
        self.assertEqual(streams["x-axis_acceleration"]["unit"], "m/s\u00b2")
        cfg = dev["config"]
        self.assertEqual(cfg["period_us"], 100000)
        self.assertEqual(cfg["sensors"], [1, 2])  # the device's default mask
        self.assertEqual(cfg["available"], [1, 2, 3])
        self.assertEqual((cfg["order_code"], cfg["serial"], cfg["firmware"]),
                         (ms.ORDER_CODE, ms.SERIAL, "1.9.300"))
        self.assertEqual(cfg["battery_percent"], 87)
        self.assertEqual(dev["limits"]["period_us"], {"min": 1000, "max": 3600000000, "step": 1000})
        # refused without a word to the device (the replay would stop matching otherwise)
        self.assertError(c.error("device.set", {"device": DEV, "key": "sensors", "value": [1, 3]}),
                         "invalid_params", -32602)
        self.assertError(c.error("device.set", {"device": DEV, "key": "sensors", "value": [7]}),
                         "invalid_params", -32602)
        self.assertError(c.error("device.set", {"device": DEV, "key": "period_us", "value": 500}),
                         "invalid_params", -32602)
        self.assertError(c.error("device.set", {"device": DEV, "key": "rate", "value": 5}),
                         "not_supported", 1005)
        self.assertEqual(self.device(c)["config"]["sensors"], [1, 2])

    def test_measurements_gap_period_and_stop(self):
        d, c = self.start_emulated()
        sub = self.subscriber(d, [PREFIX])
        r = c.call("device.start", {"device": DEV})
        self.assertEqual(r["state"], "running")
        got = self.collect_rows(sub, {FORCE: len(BLOCK1_ROWS), ACCEL: len(BLOCK1_ROWS)})
        self.check_block(got[FORCE], ms.force, BLOCK1_MSGS, T0, 100000000, 10)
        self.check_block(got[ACCEL], ms.accel, BLOCK1_MSGS, T0, 100000000, 10)
        # the gaps: rows 11-13 (dropped-packet report) and 16-17 (bad checksum) never published
        t = [m.header["t_dev"] for m in got[FORCE]]
        self.assertEqual(t[3] - t[2], (14 - 3) * 100000000)
        self.assertEqual(t[4] - t[3], (18 - 14) * 100000000)
        err = wait_until(lambda: ("dropped 3 measurement" in d.stderr() and
                                  "bad checksum" in d.stderr()) and d.stderr(),
                         what="warnings about the dropped and the damaged packets")
        self.assertIn("gap in t_dev", err)

        # a new period while running: stop, set period, start (block 2 at 50 ms)
        self.assertEqual(c.call("device.set", {"device": DEV, "key": "period_us",
                                               "value": 50000}), 50000)
        block2 = [rows for kind, rows in ms.BLOCK2 if kind == "rows"]
        n2 = sum(len(rows) for rows in block2)
        got2 = self.collect_rows(sub, {FORCE: n2, ACCEL: n2})
        t0 = (ms.START_TIME_US + 10000000) * 1000
        self.check_block(got2[FORCE], ms.force, block2, t0, 50000000, 20)
        self.check_block(got2[ACCEL], ms.accel, block2, t0, 50000000, 20)
        self.assertEqual(got2[FORCE][0].seq, got[FORCE][-1].seq + 1, "seq goes on")

        dev = c.call("device.stop", {"device": DEV})
        self.assertEqual(dev["state"], "ready")
        self.assertEqual(dev["config"]["period_us"], 50000)
        self.assertEqual((dev["config"]["dropped"], dev["config"]["checksum_errors"]), (3, 1))
        self.assertEqual({s["name"]: s["rate"] for s in dev["streams"]}["force"], 20)
        self.assertEqual(sub.collect(seconds=0.3, topic=PREFIX), [], "nothing after stop")

    def test_commands_by_set_report(self):
        # a sensor whose HID interface has no OUT endpoint: commands go by SET_REPORT
        d, c = self.start_emulated("gdx-ctrl.ioctl", "gdx-ctrl.umockdev")
        self.assertEqual(self.device(c)["config"]["sensors"], [1, 2])
        sub = self.subscriber(d, [FORCE])
        c.call("device.start", {"device": DEV})
        got = self.collect_rows(sub, {FORCE: len(BLOCK1_ROWS)})
        self.check_block(got[FORCE], ms.force, BLOCK1_MSGS, T0, 100000000, 10)
        self.assertEqual(c.call("device.stop", {"device": DEV}).get("state"), "ready")

    def test_unplug_and_replug(self):
        d, c = self.start_emulated("gdx-unplug.ioctl")
        sub = self.subscriber(d, [PREFIX, "bridge/devices/"])
        c.call("device.start", {"device": DEV})
        msgs = []
        end = sub.wait_for(lambda m: m.topic == FORCE and m.header["type"] == "json", timeout=10,
                           what="the end of the force stream", keep=msgs)
        self.assertEqual(end.data["event"], "end")
        data = [m for m in msgs if m.topic == FORCE]
        self.assertEqual([x for m in data for x in m.samples], [f32(ms.force(i))
                                                               for i in BLOCK1_ROWS])
        self.assertEqual(end.seq, data[-1].seq + 1)
        if not any(m.topic == "bridge/devices/" and m.data["event"] == "removed" for m in msgs):
            sub.wait_for(lambda m: m.topic == "bridge/devices/" and m.data["event"] == "removed",
                         what="removed")
        self.assertIn("unplugged", d.stderr())
        # still in the (emulated) sysfs: the next scan opens it again, the replay starts over
        sub.wait_for(lambda m: m.topic == "bridge/devices/" and m.data["event"] == "added",
                     timeout=10, what="added again")
        c.call("device.start", {"device": DEV})
        again = sub.wait_for(lambda m: m.topic == FORCE, what="measurements again")
        self.assertEqual(again.seq, end.seq + 1, "seq continues after the end")
        self.assertEqual(list(again.samples), [f32(ms.force(0))])


if __name__ == "__main__":
    import unittest
    unittest.main()
