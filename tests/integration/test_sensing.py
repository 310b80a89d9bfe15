"""Sensor services of the bridge: persistent calibration, tare, synchronised acquisition,
CSV recordings that outlive their client and a crash, fetched by request."""
import json
import os
import signal

from lbtest import BridgeTest, Daemon, make_conf, sensor, by_topic, wait_until

A, B = "sensor/sim-a/voltage/", "sensor/sim-b/voltage/"


class SensingTest(BridgeTest):

    def conf(self):
        return make_conf({"a": sensor(rate=100, wave="constant", offset=10),
                          "b": sensor(rate=100, wave="ramp", frequency=1)},
                         bridge={"data_dir": os.path.join(self.tmp, "data")})

    def first_value(self, sub, topic, pred=lambda h: True):
        m = sub.wait_for(lambda m: m.topic == topic and pred(m.header), what=topic)
        return m

    def test_calibration_persists_across_restart(self):
        d = self.start_bridge(self.conf())
        c = self.client(d)
        r = c.call("calib.set", {"device": "sim-a", "stream": "voltage",
                                 "points": [[10, 20], [20, 40]]})
        self.assertEqual((r["gain"], r["offset"]), (2.0, 0.0))
        sub = self.subscriber(d, [A])
        m = self.first_value(sub, A, lambda h: "calib" in h)
        self.assertEqual(m.header["calib"], {"gain": 2, "offset": 0})
        self.assertAlmostEqual(m.samples[0], 20.0, places=4)
        dev = c.call("device.info", {"device": "sim-a"})
        self.assertEqual(dev["streams"][0]["calib"], {"gain": 2.0, "offset": 0.0})
        # a second two-point calibration composes with the first (points are shown values)
        r = c.call("calib.set", {"device": "sim-a", "stream": "voltage",
                                 "points": [[20, 21], [40, 41]]})
        self.assertEqual((r["gain"], r["offset"]), (2.0, 1.0))
        d.stop()
        # the same data directory: the calibration is back, keyed by the device id
        d2 = self.start_bridge(self.conf(), name="again")
        sub2 = self.subscriber(d2, [A])
        m = self.first_value(sub2, A)
        self.assertEqual(m.header["calib"], {"gain": 2, "offset": 1})
        self.assertAlmostEqual(m.samples[0], 21.0, places=4)
        c2 = self.client(d2)
        c2.call("calib.clear", {"device": "sim-a", "stream": "voltage"})
        m = self.first_value(sub2, A, lambda h: "calib" not in h)
        self.assertAlmostEqual(m.samples[0], 10.0, places=4)

    def test_tare_and_errors(self):
        d = self.start_bridge(self.conf())
        c = self.client(d)
        sub = self.subscriber(d, [A])
        self.first_value(sub, A)
        r = c.call("calib.tare", {"device": "sim-a", "stream": "voltage"})
        self.assertAlmostEqual(r["offset"], -10.0, places=4)
        m = self.first_value(sub, A, lambda h: "calib" in h)
        self.assertAlmostEqual(m.samples[0], 0.0, places=4)
        self.assertError(c.error("calib.set", {"device": "sim-a", "stream": "nope", "gain": 2}),
                         "invalid_params", -32602)
        self.assertError(c.error("calib.set", {"device": "sim-a", "stream": "voltage",
                                               "points": [[1, 2], [1, 3]]}),
                         "invalid_params", -32602)
        self.assertError(c.error("calib.set", {"device": "sim-a", "stream": "voltage",
                                               "points": "x"}), "invalid_params", -32602)
        self.assertError(c.error("calib.set", {"device": "sim-a", "stream": "voltage",
                                               "gain": 0}), "invalid_params", -32602)
        self.assertError(c.error("calib.tare", {"device": "nope", "stream": "voltage"}),
                         "unknown_device", 1001)

    def test_synchronised_start(self):
        d = self.start_bridge(self.conf())
        c = self.client(d)
        sub = self.subscriber(d, [A, B])
        r = c.call("acquisition.start", {"devices": ["sim-a", "sim-b"], "delay_ms": 100})
        at = r["at_ns"]
        msgs = sub.collect(until=lambda got: sum(m.header["t_host"] >= at + 100000000
                                                for m in got) >= 2, seconds=5)
        first = {}
        for m in msgs:
            if m.header["t_host"] >= at:
                first.setdefault(m.topic, m.header)
        self.assertEqual(first[A]["t_host"], at, "sim-a starts exactly at the common instant")
        self.assertEqual(first[B]["t_host"], at, "sim-b too: one time base")
        self.assertError(c.error("acquisition.start", {"devices": ["sim-a", "zz"]}),
                         "unknown_device", 1001)
        self.assertError(c.error("acquisition.start", {"devices": []}), "invalid_params", -32602)

    def test_recording_outlives_client_and_crash(self):
        d = self.start_bridge(self.conf())
        c = self.client(d)
        rec = c.call("recording.start", {"streams": ["sensor/sim-a/", "sensor/sim-b/"],
                                         "name": "TP chute libre", "sep": ";",
                                         "decimal_comma": True})
        c.close()  # the client goes away; the recording goes on
        files = os.path.join(rec["dir"], "sim-a_voltage.csv")
        wait_until(lambda: os.path.exists(files) and os.path.getsize(files) > 2000,
                   what="rows in the recording")
        d.proc.send_signal(signal.SIGKILL)  # a crash
        d.proc.wait(5)
        d.check_exit = False
        with open(files, encoding="utf-8") as f:
            text = f.read()
        lines = text.split("\n")
        self.assertEqual(lines[0], "t (s);time (UTC);voltage (V)")
        self.assertEqual(lines[-1], "", "the file ends with a complete row")
        for line in lines[1:-1]:
            t, ts, v = line.split(";")
            self.assertRegex(t, r"^\d+,\d{6}$")
            self.assertRegex(ts, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d,\d{6}Z$")
            self.assertEqual(v, "10")
        # after a restart the recording is listed as interrupted, its files fetchable
        d2 = self.start_bridge(self.conf(), name="after")
        c2 = self.client(d2)
        lst = c2.call("recording.list")
        self.assertEqual(lst[0]["id"], rec["id"])
        self.assertEqual(lst[0]["state"], "interrupted")
        self.assertEqual(sorted(f["name"] for f in lst[0]["files"]),
                         ["sim-a_voltage.csv", "sim-b_voltage.csv"])
        got, offset = b"", 0
        while True:
            # the reply is the JSON frame plus one binary frame with the bytes
            c2.send("recording.fetch", {"id": rec["id"], "file": "sim-a_voltage.csv",
                                        "offset": offset, "max": 1000})
            frames = c2.recv_frames()
            self.assertEqual(len(frames), 2)
            r = json.loads(frames[0])["result"]
            self.assertEqual(r["size"], len(frames[1]))
            self.assertLessEqual(r["size"], 1000)
            got += frames[1]
            offset += r["size"]
            if r["eof"]:
                break
        self.assertEqual(got.decode(), text)
        self.assertError(c2.error("recording.fetch", {"id": rec["id"], "file": "../labbridge.db"}),
                         "invalid_params", -32602)
        self.assertError(c2.error("recording.stop", {"id": rec["id"]}), "invalid_params", -32602)

    def test_recording_stop_and_options(self):
        d = self.start_bridge(self.conf())
        c = self.client(d)
        self.assertError(c.error("recording.start", {"streams": ["sensor/"], "sep": ",",
                                                     "decimal_comma": True}),
                         "invalid_params", -32602)
        self.assertError(c.error("recording.start", {"streams": []}), "invalid_params", -32602)
        rec = c.call("recording.start", {"streams": ["sensor/sim-b/"]})
        path = os.path.join(rec["dir"], "sim-b_voltage.csv")
        wait_until(lambda: os.path.exists(path) and os.path.getsize(path) > 500, what="rows")
        r = c.call("recording.stop", {"id": rec["id"]})
        self.assertEqual(r["state"], "stopped")
        size = os.path.getsize(path)
        with open(path, encoding="utf-8") as f:
            rows = f.read().splitlines()
        self.assertEqual(rows[0], "t (s),time (UTC),voltage (V)")
        values = [float(r.split(",")[2]) for r in rows[1:]]
        self.assertTrue(all(-1.0 <= v <= 1.0 for v in values))
        # nothing is written after the stop
        sub = self.subscriber(d, ["sensor/sim-b/"])
        sub.collect(count=20)
        self.assertEqual(os.path.getsize(path), size)


if __name__ == "__main__":
    import unittest
    unittest.main()
