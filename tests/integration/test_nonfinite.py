"""Calibrations that would overflow float32 are refused, and non-finite samples are encoded
explicitly (issue 9): "value": "Infinity" / "-Infinity" / "NaN" in snapshots, never dropped."""
import math
import os

from lbtest import BridgeTest, labctl_path, make_conf, run_program, san_env, sensor

A = "sensor/sim-a/voltage/"


class NonFiniteTest(BridgeTest):

    def lab(self):
        d = self.start_bridge(make_conf(
            {"a": sensor(rate=100, wave="constant", offset=10, min=-10, max=10)},
            bridge={"data_dir": os.path.join(self.tmp, "data")}))
        return d, self.client(d)

    def stream_state(self, c):
        snap = c.call("snapshot", {"prefix": A})
        return {s["topic"]: s for s in snap["streams"]}.get(A)

    def test_overflowing_calibration_refused(self):
        d, c = self.lab()
        sub = self.subscriber(d, [A])
        sub.wait_for(lambda m: m.topic == A, what=A)
        for params, why in (({"gain": 1e308}, "out of range"),
                            ({"offset": -1e308}, "out of range"),
                            ({"gain": 2e9}, "out of range"),
                            ({"points": [[0, 0], [1e-300, 1]]}, "out of range")):
            p = dict(device="sim-a", stream="voltage", **params)
            err = c.error("calib.set", p)
            self.assertError(err, "invalid_params", -32602)
            self.assertIn(why, err["message"], params)
        # nothing applied: the stream still shows raw values, no calib in its description
        dev = c.call("device.info", {"device": "sim-a"})
        self.assertNotIn("calib", dev["streams"][0])
        self.assertAlmostEqual(self.stream_state(c)["value"], 10.0, places=4)
        # a big but bounded calibration is fine, and the samples stay finite
        r = c.call("calib.set", {"device": "sim-a", "stream": "voltage", "gain": 1e9,
                                 "offset": 1e20})
        self.assertEqual((r["gain"], r["offset"]), (1e9, 1e20))
        m = sub.wait_for(lambda m: m.topic == A and "calib" in m.header, what="calibrated")
        self.assertTrue(all(math.isfinite(v) for v in m.samples))

    def test_nonfinite_samples_in_snapshot(self):
        d, c = self.lab()
        sub = self.subscriber(d, [A])
        for fault, name in (("inf", "Infinity"), ("-inf", "-Infinity"), ("nan", "NaN")):
            self.assertEqual(c.call("device.set", {"device": "sim-a", "key": "fault",
                                                   "value": fault}), fault)
            # the binary samples carry the IEEE value itself (earlier messages may be queued)
            def is_fault(v, fault=fault):
                return math.isnan(v) if fault == "nan" else v == float(fault)
            m = sub.wait_for(lambda m: m.topic == A and all(is_fault(v) for v in m.samples),
                             what=fault)
            # the snapshot names it, after that message
            st = self.stream_state(c)
            self.assertIn("value", st, "the snapshot dropped the value")
            self.assertEqual(st["value"], name)
            self.assertGreaterEqual(st["seq"], m.header["seq"])
            rc, out, err, _ = run_program([labctl_path(), "--rpc", d.rpc, "snapshot", A],
                                          timeout=20, env=san_env())
            self.assertEqual(rc, 0, err)
            self.assertIn(name + " V", out)
        c.call("device.set", {"device": "sim-a", "key": "fault", "value": "none"})
        sub.wait_for(lambda m: m.topic == A and m.samples[-1] == 10.0, what="finite again")
        self.assertAlmostEqual(self.stream_state(c)["value"], 10.0, places=4)
        self.assertError(c.error("device.set", {"device": "sim-a", "key": "fault",
                                                "value": "broken"}), "invalid_params", -32602)
