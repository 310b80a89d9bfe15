"""Serial text-line sensors through the real driver: the simulated lab's micro:bit emulator on a
pseudo-terminal (header line, records), garbage, silence, unplug and replug; a configured board
whose channels come from the configuration."""
import os
import pty
import threading

from lbtest import BridgeTest, make_conf, seq_gaps, by_topic, wait_until

DEV = "lines-sim-microbit-1"
TEMP = "sensor/%s/temperature/" % DEV


def conf(raw="", **bridge):
    b = {"emulate": "lines"}
    b.update(bridge)
    return make_conf({}, bridge=b, raw="[sim.idle]\nrate = 1\nautostart = 0\n" + raw)


class LinesTest(BridgeTest):

    def device(self, c, dev=DEV):
        return {d["id"]: d for d in c.call("devices.list")}.get(dev)

    def test_channels_from_the_header(self):
        d = self.start_bridge(conf())
        c = self.client(d)
        dev = wait_until(lambda: self.device(c), what="the emulated micro:bit")
        self.assertEqual(dev["driver"], "lines")
        self.assertTrue(dev["simulated"])
        self.assertEqual([(s["name"], s["unit"]) for s in dev["streams"]],
                         [("temperature", "°C"), ("light", "lx"), ("accel_x", "mg")])
        sub = self.subscriber(d, ["sensor/%s/" % DEV])
        msgs = sub.collect(count=30)
        topics = by_topic(msgs)
        self.assertEqual(len(topics), 3)
        for topic, ms in topics.items():
            self.assertEqual(seq_gaps(ms), [], topic)
        for m in topics[TEMP]:
            self.assertTrue(18.9 <= m.samples[0] <= 23.1, m.samples)

    def test_garbage_silence_and_replug(self):
        d = self.start_bridge(conf())
        c = self.client(d)
        wait_until(lambda: self.device(c), what="the emulated micro:bit")
        c.call("device.set", {"device": DEV, "key": "silence_s", "value": 1})
        sub = self.subscriber(d, ["bridge/devices/", TEMP])
        c.call("lines.emulator", {"fault": "garbage"})
        msgs = sub.collect(until=lambda got: sum(m.topic == TEMP for m in got) >= 10, seconds=5)
        temps = [m for m in msgs if m.topic == TEMP]
        self.assertEqual(seq_gaps(temps), [])
        self.assertTrue(all(18.9 <= m.samples[0] <= 23.1 for m in temps), "garbage published")
        wait_until(lambda: "garbled line" in d.stderr(), timeout=12, what="a warning")
        before = temps[-1].header["seq"]
        c.call("lines.emulator", {"fault": "silent"})
        sub.wait_for(lambda m: m.topic == "bridge/devices/" and m.data["event"] == "removed",
                     timeout=6, what="removed after the silence")
        self.assertIn("stopped answering", d.stderr())
        c.call("lines.emulator", {"fault": "ok"})
        sub.wait_for(lambda m: m.topic == "bridge/devices/" and m.data["event"] == "added",
                     timeout=10, what="added again")
        m = sub.wait_for(lambda m: m.topic == TEMP and m.header["type"] == "f32", what="samples")
        self.assertGreater(m.header["seq"], before + 1, "seq continues (after the end message)")
        c.call("lines.emulator", {"fault": "unplug"})
        sub.wait_for(lambda m: m.topic == "bridge/devices/" and m.data["event"] == "removed",
                     timeout=5, what="removed when unplugged")
        c.call("lines.emulator", {"fault": "plug"})
        sub.wait_for(lambda m: m.topic == "bridge/devices/" and m.data["event"] == "added",
                     timeout=10, what="plugged back")

    def test_configured_board(self):
        # a home-made board on a pty, printing "name:value" pairs; channels from the config
        master, slave = pty.openpty()
        path = os.ttyname(slave)
        stop = threading.Event()

        def board():
            n = 0
            while not stop.wait(0.05):  # the board's own pace: 20 records per second
                n += 1
                try:
                    os.write(master, b"force:%d.5;angle:%d\r\n" % (n % 10, n % 90))
                except OSError:
                    return
        t = threading.Thread(target=board, daemon=True)
        t.start()
        try:
            d = self.start_bridge(conf(raw="[lines.bench]\nport = %s\nbaud = 9600\n"
                                           "channels = force:N, angle:°\n" % path,
                                       emulate="none"))
            c = self.client(d)
            dev = wait_until(lambda: self.device(c, "lines-bench"), what="the configured board")
            self.assertEqual([(s["name"], s["unit"]) for s in dev["streams"]],
                             [("force", "N"), ("angle", "°")])
            sub = self.subscriber(d, ["sensor/lines-bench/force/"])
            ms = sub.collect(count=5)
            self.assertEqual(len(ms), 5)
            self.assertTrue(all(m.samples[0] % 1 == 0.5 for m in ms))
        finally:
            stop.set()
            t.join(2)
            os.close(master)
            os.close(slave)

    def test_one_pair_per_line(self):
        # micro:bit serial.writeValue: "temp:21" then "light:120", one pair per line
        master, slave = pty.openpty()
        path = os.ttyname(slave)
        stop = threading.Event()

        def board():
            n = 0
            while not stop.wait(0.02):  # the board's own pace
                n += 1
                try:
                    os.write(master, b"temp:%d\r\nlight:%d\r\n" % (20 + n % 3, 100 + n))
                except OSError:
                    return
        t = threading.Thread(target=board, daemon=True)
        t.start()
        try:
            d = self.start_bridge(conf(raw="[lines.mb]\nport = %s\n" % path, emulate="none"))
            c = self.client(d)
            dev = wait_until(lambda: self.device(c, "lines-mb"), what="the micro:bit")
            self.assertEqual([s["name"] for s in dev["streams"]], ["temp", "light"])
            sub = self.subscriber(d, ["sensor/lines-mb/light/"])
            self.assertEqual(len(sub.collect(count=3)), 3)
        finally:
            stop.set()
            t.join(2)
            os.close(master)
            os.close(slave)


if __name__ == "__main__":
    import unittest
    unittest.main()
