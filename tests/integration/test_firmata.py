"""Firmata through the real driver: the simulated lab's StandardFirmata emulator (behaving as
release 2.3, 2.4 or 2.5) on a pseudo-terminal, handshake, analog streams, sampling interval and
its limits, per-sample times, digital inputs and writes per version, faults, unplug and replug."""
import subprocess

from lbtest import BridgeTest, make_conf, program, seq_gaps, by_topic, wait_until

DEV = "firmata-sim-uno-1"
A0 = "sensor/%s/a0/" % DEV
VERSIONS = ("2.3", "2.4", "2.5")


def conf(version=None, **bridge):
    b = {"emulate": "firmata"}
    b.update(bridge)
    raw = "[sim.idle]\nrate = 1\nautostart = 0\n"
    if version:
        raw += "[firmata]\nemulator_version = %s\n" % version
    return make_conf({}, bridge=b, raw=raw)


def probe(c):
    """The emulated board's pins as a voltmeter shows them."""
    return c.call("firmata.emulator", {"probe": True})


def last_value(c, stream):
    """The last sample of a stream of the board, from the snapshot (None if none)."""
    topic = "sensor/%s/%s/" % (DEV, stream)
    for s in c.call("snapshot", {"prefix": topic})["streams"]:
        if s["topic"] == topic:
            return s.get("value")
    return None


def call(c, action, **args):
    return c.call("device.call", {"device": DEV, "action": action, "args": args})


class FirmataTest(BridgeTest):

    def device(self, c):
        devs = {d["id"]: d for d in c.call("devices.list")}
        return devs.get(DEV)

    def test_discovery_and_streams(self):
        d = self.start_bridge(conf())
        c = self.client(d)
        dev = wait_until(lambda: self.device(c), what="the emulated Firmata board")
        self.assertEqual(dev["driver"], "firmata")
        self.assertTrue(dev["simulated"])
        self.assertEqual([s["name"] for s in dev["streams"]],
                         ["a%d" % i for i in range(6)] + ["D%d" % i for i in range(2, 14)])
        for s in dev["streams"][6:]:
            self.assertEqual((s["quantity"], s["type"]), ("digital", "u8"))
        self.assertEqual(dev["config"]["protocol"], "2.5")
        self.assertEqual(dev["config"]["inputs"], [])
        for s in dev["streams"][:6]:
            self.assertEqual((s["quantity"], s["unit"], s["type"]), ("voltage", "V", "f32"))
            self.assertAlmostEqual(s["rate"], 1000 / 19, places=3)  # the firmware's default
            self.assertAlmostEqual(s["resolution"], 5.0 / 1023, places=6)
        self.assertEqual(dev["config"]["firmware"], "StandardFirmata.ino")
        self.assertEqual(dev["config"]["channels"], list(range(6)))
        sub = self.subscriber(d, ["sensor/%s/a" % DEV])
        msgs = sub.collect(count=120)
        topics = by_topic(msgs)
        self.assertEqual(len(topics), 6, "all six analog inputs stream")
        for topic, ms in topics.items():
            self.assertEqual(seq_gaps(ms), [], topic)
            for m in ms:
                self.assertEqual(m.header["count"], 1)
                self.assertTrue(0.0 <= m.samples[0] <= 5.0, m.samples[0])

    def test_interval_and_channels(self):
        d = self.start_bridge(conf())
        c = self.client(d)
        wait_until(lambda: self.device(c), what="the emulated Firmata board")
        # the fastest interval: 6 inputs every 2 ms would exceed 57600 baud at 1 ms
        self.assertEqual(c.call("device.set", {"device": DEV, "key": "interval_ms", "value": 5}), 5)
        self.assertError(c.error("device.set", {"device": DEV, "key": "interval_ms", "value": 0}),
                         "invalid_params", -32602)
        self.assertError(c.error("device.set", {"device": DEV, "key": "channels", "value": [9]}),
                         "invalid_params", -32602)
        self.assertEqual(c.call("device.set", {"device": DEV, "key": "channels", "value": [0, 2]}),
                         [0, 2])
        sub = self.subscriber(d, ["sensor/%s/a" % DEV])
        sub.drain()
        msgs = sub.collect(count=100)
        topics = by_topic(msgs)
        self.assertEqual(set(topics), {A0, "sensor/%s/a2/" % DEV})
        self.assertEqual(topics[A0][-1].header["rate"], 200)
        self.assertEqual(seq_gaps(topics[A0]), [])
        wait_until(lambda: probe(c)["interval_ms"] == 5, what="the board sampling every 5 ms")

    def test_garbage_on_the_line(self):
        d = self.start_bridge(conf())
        c = self.client(d)
        wait_until(lambda: self.device(c), what="the emulated Firmata board")
        sub = self.subscriber(d, [A0])
        c.call("firmata.emulator", {"fault": "garbage"})
        msgs = sub.collect(count=40)
        self.assertEqual(seq_gaps(msgs), [])
        self.assertTrue(all(0.0 <= m.samples[0] <= 5.0 for m in msgs))
        wait_until(lambda: "malformed byte" in d.stderr(), what="a warning about the noise")
        c.call("firmata.emulator", {"fault": "ok"})
        self.assertTrue(self.device(c))

    def test_stops_answering_then_recovers(self):
        d = self.start_bridge(conf())
        c = self.client(d)
        wait_until(lambda: self.device(c), what="the emulated Firmata board")
        events = self.subscriber(d, ["bridge/devices/", A0])
        last = events.wait_for(lambda m: m.topic == A0, what="a sample").header["seq"]
        c.call("firmata.emulator", {"fault": "silent"})
        events.wait_for(lambda m: m.topic == "bridge/devices/" and m.data["event"] == "removed"
                        and m.data["device"]["id"] == DEV, timeout=8, what="removed")
        self.assertIn("stopped answering", d.stderr())
        c.call("firmata.emulator", {"fault": "ok"})
        events.wait_for(lambda m: m.topic == "bridge/devices/" and m.data["event"] == "added"
                        and m.data["device"]["id"] == DEV, timeout=10, what="added again")
        m = events.wait_for(lambda m: m.topic == A0, what="samples again")
        self.assertGreater(m.header["seq"], last, "seq continues after the device comes back")

    def test_unplug_and_replug(self):
        d = self.start_bridge(conf())
        c = self.client(d)
        wait_until(lambda: self.device(c), what="the emulated Firmata board")
        events = self.subscriber(d, ["bridge/devices/", A0])
        before = events.wait_for(lambda m: m.topic == A0, what="a sample").header["seq"]
        c.call("firmata.emulator", {"fault": "unplug"})
        end = events.wait_for(lambda m: m.topic == A0 and m.header["type"] == "json", timeout=5,
                              what="the explicit end of the stream")
        self.assertEqual(end.data["event"], "end")
        events.wait_for(lambda m: m.topic == "bridge/devices/" and m.data["event"] == "removed",
                        timeout=5, what="removed")
        self.assertIsNone(self.device(c))
        self.assertError(c.error("device.get", {"device": DEV}), "unknown_device", 1001)
        c.call("firmata.emulator", {"fault": "plug"})
        events.wait_for(lambda m: m.topic == "bridge/devices/" and m.data["event"] == "added",
                        timeout=10, what="added again")
        m = events.wait_for(lambda m: m.topic == A0, what="samples again")
        self.assertEqual(m.header["seq"], end.header["seq"] + 1, "seq continues after the end")
        self.assertGreater(m.header["seq"], before)

    def test_digital_inputs(self):
        """Digital inputs are set by name and stream per pin: D2 (a light gate's output) toggles
        every 0.5 s; before, every pin stayed an output and no port stream ever published."""
        d = self.start_bridge(conf())
        c = self.client(d)
        wait_until(lambda: self.device(c), what="the emulated Firmata board")
        d2 = "sensor/%s/D2/" % DEV
        sub = self.subscriber(d, [d2])
        self.assertEqual(c.call("device.set", {"device": DEV, "key": "inputs", "value": ["D2"]}),
                         ["D2"])
        wait_until(lambda: probe(c)["pins"]["D2"]["mode"] == "input", what="D2 an input")
        ms = sub.collect(count=3, seconds=10)
        self.assertEqual(len(ms), 3, "D2 publishes its level when it changes")
        self.assertEqual(seq_gaps(ms), [])
        levels = [m.samples[0] for m in ms]
        self.assertTrue(set(levels) <= {0, 1}, levels)
        self.assertTrue(levels[0] != levels[1] and levels[1] != levels[2], levels)
        # pins that are no inputs of the board are refused by name
        for bad in (["D1"], ["A0"], ["D14"], "D2 x", [99], 5):
            self.assertError(c.error("device.set", {"device": DEV, "key": "inputs",
                                                    "value": bad}), "invalid_params", -32602)
        self.assertEqual(self.device(c)["config"]["inputs"], ["D2"])

    def test_pullup_per_version(self):
        """D3 is a push button to ground: it reads high only through a pull-up. 2.5 has the
        PULLUP mode; 2.3 and 2.4 get theirs from a 1 written to the input's port bit."""
        for version in VERSIONS:
            with self.subTest(version=version):
                d = self.start_bridge(conf(version), name="bridge-%s" % version)
                c = self.client(d)
                dev = wait_until(lambda: self.device(c), what="the emulated Firmata board")
                self.assertEqual(dev["config"]["protocol"], version)
                d3 = "sensor/%s/D3/" % DEV
                sub = self.subscriber(d, [d3])
                self.assertEqual(c.call("device.set", {"device": DEV, "key": "pullup",
                                                       "value": "D3"}), ["D3"])
                mode = "pullup" if version == "2.5" else "input"
                wait_until(lambda: probe(c)["pins"]["D3"]["mode"] == mode, what="D3 " + mode)
                ms = sub.collect(count=2, seconds=10)
                self.assertEqual(sorted(m.samples[0] for m in ms), [0, 1],
                                 "the released button reads high through the pull-up")
                self.assertEqual(self.device(c)["config"]["pullup"], ["D3"])
                # an input reading 0 from the start (D9, alone on its port): 2.3 never sends it;
                # the driver publishes 0 when the port stays silent after reporting began
                c.call("device.set", {"device": DEV, "key": "inputs", "value": ["D9"]})
                wait_until(lambda: last_value(c, "D9") == 0, what="D9 at 0 in the snapshot")
                d.stop()

    def test_pin_actions(self):
        d = self.start_bridge(conf())
        c = self.client(d)
        wait_until(lambda: self.device(c), what="the emulated Firmata board")
        self.assertIsNone(c.call("device.call", {"device": DEV, "action": "pin_mode",
                                                 "args": {"pin": 13, "mode": 1}}))
        self.assertIsNone(c.call("device.call", {"device": DEV, "action": "digital_write",
                                                 "args": {"pin": 13, "value": 1}}))
        wait_until(lambda: probe(c)["pins"]["D13"]["level"] == 1, what="D13 high on the board")
        # pin 0 is the serial RX pin: no modes in the capability report
        self.assertError(c.error("device.call", {"device": DEV, "action": "pin_mode",
                                                 "args": {"pin": 0, "mode": 1}}),
                         "invalid_params", -32602)
        # the serial pins and analog pins (still analog inputs) are not outputs: refused
        for pin in (0, 1, "D14"):
            self.assertError(c.error("device.call", {"device": DEV, "action": "digital_write",
                                                     "args": {"pin": pin, "value": 1}}),
                             "invalid_params", -32602)
        self.assertError(c.error("device.call", {"device": DEV, "action": "fly"}),
                         "not_supported", 1005)


    def test_events_fire_and_forget_in_order(self):
        """device.emit: events the driver declares are answered at once and reach the board in
        the order sent, behind the commands queued before them; an undeclared event is refused,
        a refused write is logged and the bridge goes on."""
        d = self.start_bridge(conf())
        c = self.client(d)
        dev = wait_until(lambda: self.device(c), what="the emulated Firmata board")
        self.assertEqual(dev["capabilities"], ["stream", "halt", "actions", "events"])
        self.assertIsNone(call(c, "pin_mode", pin=13, mode=1))
        for n, last in ((40, 1), (41, 0)):  # alternating levels, ending on `last`
            for i in range(n):
                self.assertEqual(c.call("device.emit", {
                    "device": DEV, "event": "digital_write",
                    "args": {"pin": 13, "value": (n - 1 - i + last) % 2}}), {"queued": True})
            # device.get is queued behind the events: once answered, the driver has taken
            # them all, in order (the last one's value is the pin's)
            self.assertEqual(c.call("device.get", {"device": DEV, "key": "outputs"})["D13"],
                             last)
            wait_until(lambda: probe(c)["pins"]["D13"]["level"] == last,
                       what="D13 at %d on the board" % last)
        self.assertError(c.error("device.emit", {"device": DEV, "event": "pin_mode",
                                                 "args": {"pin": 13, "mode": 1}}),
                         "not_supported", 1005)
        self.assertError(c.error("device.emit", {"device": DEV, "event": "digital_write",
                                                 "args": [13, 1]}), "invalid_params", -32602)
        # a write the board refuses (pin 0 is the serial line): queued, logged, nothing else
        c.call("device.emit", {"device": DEV, "event": "digital_write",
                               "args": {"pin": 0, "value": 1}})
        wait_until(lambda: "event 'digital_write' not taken" in d.stderr(),
                   what="the refused event logged")
        self.assertIsNone(call(c, "digital_write", pin=13, value=1))
        wait_until(lambda: probe(c)["pins"]["D13"]["level"] == 1, what="the board still driven")

    def test_digital_write_per_version(self):
        """digital_write changes the pin on every release: 2.3 and 2.4 ignore SET_DIGITAL_PIN_VALUE
        (F5), so the driver writes the port (DIGITAL_MESSAGE) with the other outputs' levels."""
        for version in VERSIONS:
            with self.subTest(version=version):
                d = self.start_bridge(conf(version), name="bridge-%s" % version)
                c = self.client(d)
                wait_until(lambda: self.device(c), what="the emulated Firmata board")
                self.assertIsNone(call(c, "digital_write", pin=13, value=1))
                wait_until(lambda: probe(c)["pins"]["D13"]["level"] == 1, timeout=3,
                           what="D13 high on a %s board" % version)
                self.assertIsNone(call(c, "digital_write", pin="D12", value=1))
                wait_until(lambda: probe(c)["pins"]["D12"]["level"] == 1, what="D12 high")
                self.assertEqual(probe(c)["pins"]["D13"]["level"], 1,
                                 "writing D12 keeps D13 (same port) high")
                self.assertIsNone(call(c, "digital_write", pin=13, value=0))
                wait_until(lambda: probe(c)["pins"]["D13"]["level"] == 0, what="D13 low")
                self.assertEqual(probe(c)["pins"]["D12"]["level"], 1)
                self.assertEqual(self.device(c)["config"]["outputs"]["D13"], 0)
                # a write the firmware would not perform is refused, not reported done
                self.assertIsNone(call(c, "pin_mode", pin="D7", mode="input"))
                self.assertError(c.error("device.call", {"device": DEV, "action": "digital_write",
                                                         "args": {"pin": "D7", "value": 1}}),
                                 "invalid_params", -32602)
                self.assertEqual(probe(c)["pins"]["D7"]["level"], 0)
                d.stop()

    def test_interval_limits_per_version(self):
        """The fastest interval is the firmware's MINIMUM_SAMPLING_INTERVAL (10 ms up to 2.4, 1
        ms from 2.5) and what the line carries: below it, device.set is refused with the reason,
        and what is announced (header, devices, limits) is what the board delivers."""
        for version in VERSIONS:
            with self.subTest(version=version):
                d = self.start_bridge(conf(version), name="bridge-%s" % version)
                c = self.client(d)
                wait_until(lambda: self.device(c), what="the emulated Firmata board")
                fastest = 10 if version != "2.5" else 4  # 2.5: six inputs fill the line at 4 ms
                limits = self.device(c)["limits"]
                self.assertEqual(limits["interval_ms"]["min"], fastest)
                e = c.error("device.set", {"device": DEV, "key": "interval_ms",
                                           "value": fastest - 1})
                self.assertError(e, "invalid_params", -32602)
                self.assertIn("at least %d" % fastest, e["message"])
                self.assertEqual(c.call("device.set", {"device": DEV, "key": "interval_ms",
                                                       "value": 10}), 10)
                sub = self.subscriber(d, [A0])
                m = sub.wait_for(lambda m: m.header["rate"] == 100, what="100 samples/s header")
                self.assertEqual(self.device(c)["streams"][0]["rate"], 100)
                wait_until(lambda: probe(c)["interval_ms"] == 10, what="the board at 10 ms")
                if version == "2.5":
                    # one input: 1 ms is the firmware's and the line's limit
                    c.call("device.set", {"device": DEV, "key": "channels", "value": [0]})
                    self.assertEqual(self.device(c)["limits"]
                                     ["interval_ms"]["min"], 1)
                    self.assertEqual(c.call("device.set", {"device": DEV, "key": "interval_ms",
                                                           "value": 2}), 2)
                    e = c.error("device.set", {"device": DEV, "key": "channels",
                                               "value": list(range(6))})
                    self.assertError(e, "invalid_params", -32602)
                    self.assertIn("57600", e["message"])
                d.stop()

    def test_per_sample_times(self):
        """Samples read in one burst (here the board's output held 250 ms, as a USB adapter or a
        stalled host does) each get their own t_host, one interval apart, not the read's time."""
        d = self.start_bridge(conf())
        c = self.client(d)
        wait_until(lambda: self.device(c), what="the emulated Firmata board")
        c.call("device.set", {"device": DEV, "key": "channels", "value": [0]})
        c.call("device.set", {"device": DEV, "key": "interval_ms", "value": 10})
        c.call("firmata.emulator", {"burst_ms": 250})
        sub = self.subscriber(d, [A0])
        sub.drain()
        ms = sub.collect(count=120, seconds=20)
        self.assertEqual(len(ms), 120)
        self.assertEqual(seq_gaps(ms), [])
        t = [m.header["t_host"] for m in ms]
        dt = [b - a for a, b in zip(t, t[1:])]
        self.assertEqual([x for x in dt if x <= 0], [], "t_host strictly increases")
        steady = sorted(dt)[len(dt) // 10: -len(dt) // 10]
        self.assertTrue(all(abs(x - 10e6) < 1e6 for x in steady),
                        "samples are one 10 ms interval apart: %s" % dt)
        # the read's times: several samples per read (else the burst did not happen)
        recv = [m.t_recv for m in ms]
        self.assertGreater(len(recv) - len(set(round(r, 3) for r in recv)), 50)

    def test_announced_rate_is_measured(self):
        """A board slower than asked (a firmware that samples every 20 ms at best) is measured:
        after a few seconds the streams announce the rate that arrives, not the one asked."""
        d = self.start_bridge(conf())
        c = self.client(d)
        wait_until(lambda: self.device(c), what="the emulated Firmata board")
        c.call("device.set", {"device": DEV, "key": "channels", "value": [0]})
        c.call("device.set", {"device": DEV, "key": "interval_ms", "value": 10})
        c.call("firmata.emulator", {"min_interval_ms": 20})
        sub = self.subscriber(d, [A0])
        m = sub.wait_for(lambda m: m.header["rate"] < 60, timeout=20,
                         what="the measured rate announced")
        self.assertGreater(m.header["rate"], 40)
        wait_until(lambda: self.device(c)["streams"][0]["rate"] < 60,
                   what="devices.list announcing the measured rate")
        self.assertIn("not the 100.0 asked", d.stderr())

    def test_config_keys(self):
        """[firmata.NAME] inputs, pullup and interval_ms on a board found by its port (the
        standalone emulator, as StandardFirmata 2.4): the interval below the firmware's 10 ms is
        raised with a warning naming the section, a bad pin list is refused with a warning and the
        board still opens."""
        emu = subprocess.Popen([program("LB_FIRMATA_EMU", "build/asan/firmata-emu"), "2.4"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.addCleanup(emu.wait, 10)
        self.addCleanup(emu.stdin.close)
        path = emu.stdout.readline().split()[1]
        raw = ("[sim.idle]\nrate = 1\nautostart = 0\n[firmata.bench]\nport = %s\n"
               "inputs = D2, D1\npullup = D3\ninterval_ms = 5\n" % path)
        d = self.start_bridge(make_conf({}, raw=raw))
        c = self.client(d)
        dev = wait_until(lambda: {x["id"]: x for x in c.call("devices.list")}.get("firmata-bench"),
                         what="the board of [firmata.bench]")
        cfg = dev["config"]
        self.assertEqual((cfg["protocol"], cfg["interval_ms"]), ("2.4", 10))
        self.assertEqual((cfg["inputs"], cfg["pullup"]), ([], ["D3"]))
        self.assertIn("config [firmata.bench]: interval_ms = 5 is below", d.stderr())
        self.assertIn("config [firmata.bench]: inputs: D1 is not a digital input", d.stderr())
        self.assertEqual(dev["limits"]["interval_ms"]["min"], 10)

        def pins():
            emu.stdin.write("probe\n")
            emu.stdin.flush()
            f = emu.stdout.readline().split()
            return int(f[1]), {f[i]: (int(f[i + 1]), int(f[i + 2])) for i in range(2, len(f), 3)}

        # 2.4 has no PULLUP mode: D3 is an INPUT (mode 0); the board samples every 10 ms
        wait_until(lambda: pins()[0] == 10 and pins()[1]["D3"][0] == 0,
                   what="the board at 10 ms with D3 an INPUT")
        sub = self.subscriber(d, ["sensor/firmata-bench/D3/"])
        ms = sub.collect(count=2, seconds=10)
        self.assertEqual(sorted(m.samples[0] for m in ms), [0, 1],
                         "the button to ground reads high through the pull-up (port bit)")


if __name__ == "__main__":
    import unittest
    unittest.main()
