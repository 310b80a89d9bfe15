"""Firmata through the real driver: the simulated lab's StandardFirmata emulator on a
pseudo-terminal, handshake, analog streams, sampling interval, faults, unplug and replug."""
from lbtest import BridgeTest, make_conf, seq_gaps, by_topic, wait_until

DEV = "firmata-sim-uno-1"
A0 = "sensor/%s/a0/" % DEV


def conf(**bridge):
    b = {"emulate": "firmata"}
    b.update(bridge)
    return make_conf({}, bridge=b, raw="[sim.idle]\nrate = 1\nautostart = 0\n")


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
                         ["a%d" % i for i in range(6)] + ["port0", "port1", "port2"])
        for s in dev["streams"][6:]:
            self.assertEqual((s["quantity"], s["type"]), ("digital", "u8"))
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
        msgs = sub.collect(seconds=1.0)
        topics = by_topic(msgs)
        self.assertEqual(set(topics), {A0, "sensor/%s/a2/" % DEV})
        n = len(topics[A0])
        self.assertGreater(n, 150, "about 200 samples/s at 5 ms")
        self.assertLess(n, 260)
        self.assertEqual(topics[A0][-1].header["rate"], 200)
        self.assertEqual(seq_gaps(topics[A0]), [])

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
        d = self.start_bridge(conf())
        c = self.client(d)
        wait_until(lambda: self.device(c), what="the emulated Firmata board")
        port0 = "sensor/%s/port0/" % DEV
        sub = self.subscriber(d, [port0])
        # the emulated push button on pin 2 changes every 0.5 s: the port is sent on change
        ms = sub.collect(count=3, seconds=5)
        self.assertEqual(len(ms), 3)
        self.assertEqual(seq_gaps(ms), [])
        levels = [int(m.samples[0]) & 4 for m in ms]
        self.assertTrue(levels[0] != levels[1] and levels[1] != levels[2], levels)
        # an output written by the host shows in its port's levels (pin 13: port 1, bit 5)
        port1 = "sensor/%s/port1/" % DEV
        sub2 = self.subscriber(d, [port1])
        c.call("device.call", {"device": DEV, "action": "pin_mode", "args": {"pin": 13, "mode": 1}})
        c.call("device.call", {"device": DEV, "action": "digital_write",
                               "args": {"pin": 13, "value": 1}})
        sub2.wait_for(lambda m: int(m.samples[0]) & (1 << 5), what="pin 13 high on port 1")

    def test_pin_actions(self):
        d = self.start_bridge(conf())
        c = self.client(d)
        wait_until(lambda: self.device(c), what="the emulated Firmata board")
        self.assertIsNone(c.call("device.call", {"device": DEV, "action": "pin_mode",
                                                 "args": {"pin": 13, "mode": 1}}))
        self.assertIsNone(c.call("device.call", {"device": DEV, "action": "digital_write",
                                                 "args": {"pin": 13, "value": 1}}))
        # pin 0 is the serial RX pin: no modes in the capability report
        self.assertError(c.error("device.call", {"device": DEV, "action": "pin_mode",
                                                 "args": {"pin": 0, "mode": 1}}),
                         "invalid_params", -32602)
        self.assertError(c.error("device.call", {"device": DEV, "action": "fly"}),
                         "not_supported", 1005)


if __name__ == "__main__":
    import unittest
    unittest.main()
