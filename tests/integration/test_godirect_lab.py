"""The simulated lab's Go Direct sensor: the real driver's packets and reports, exchanged with an
in-process GDX-FOR emulator instead of libusb (the USB path itself: test_godirect.py, umockdev)."""
from lbtest import BridgeTest, make_conf, seq_gaps, by_topic, wait_until

DEV = "godirect-sim-gdx-for-1"


class GoDirectLabTest(BridgeTest):

    def test_streams_and_period(self):
        d = self.start_bridge(make_conf({}, bridge={"emulate": "godirect"},
                                        raw="[sim.idle]\nrate = 1\nautostart = 0\n"))
        c = self.client(d)
        dev = wait_until(lambda: {x["id"]: x for x in c.call("devices.list")}.get(DEV),
                         what="the emulated GDX-FOR")
        self.assertTrue(dev["simulated"])
        self.assertEqual(dev["driver"], "godirect")
        names = [(s["name"], s["unit"]) for s in dev["streams"]]
        self.assertIn(("force", "N"), names)
        self.assertIn(("x-axis_acceleration", "m/s²"), names)
        sub = self.subscriber(d, ["sensor/%s/" % DEV])
        msgs = sub.collect(count=10)
        topics = by_topic(msgs)
        self.assertEqual(set(topics), {"sensor/%s/force/" % DEV,
                                       "sensor/%s/x-axis_acceleration/" % DEV})
        for ms in topics.values():
            self.assertEqual(seq_gaps(ms), [])
        for m in topics["sensor/%s/force/" % DEV]:
            self.assertTrue(0.9 <= m.samples[0] <= 5.1, m.samples)
        self.assertEqual(c.call("device.set", {"device": DEV, "key": "period_us",
                                               "value": 20000}), 20000)
        m = sub.wait_for(lambda m: m.header.get("rate") == 50, what="samples at 50 Hz")
        self.assertEqual(m.header["unit"] if m.topic.endswith("/force/") else "N", "N")


if __name__ == "__main__":
    import unittest
    unittest.main()
