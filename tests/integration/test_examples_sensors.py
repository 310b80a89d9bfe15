"""The science examples against a bridge: live_plot.py (rendered to a file), record_experiment.py
(synchronised recording, CSV fetched), calibrate.py (two-point calibration, tare, clear)."""
import os
import select
import subprocess
import time

from lbtest import ROOT, BridgeTest, make_conf, sensor, run_program, wait_until

PY = "/usr/bin/python3"
EX = os.path.join(ROOT, "examples", "python")


class SensorExamplesTest(BridgeTest):

    def lab(self):
        d = self.start_bridge(make_conf(
            {"t": sensor(rate=20, quantity="temperature", unit="°C", wave="sine", offset=20,
                         amplitude=2, frequency=0.5),
             "l": sensor(rate=50, quantity="light", unit="lx", wave="ramp", offset=300,
                         amplitude=50),
             "ph": sensor(rate=20, quantity="ph", unit="pH", wave="constant", offset=4)},
            bridge={"data_dir": os.path.join(self.tmp, "data")}))
        self.env = dict(os.environ, LABBRIDGE_PUB=d.pub, LABBRIDGE_RPC=d.rpc)
        return d

    def run_example(self, *args, timeout=30):
        rc, out, err, _ = run_program([PY, os.path.join(EX, args[0])] + list(args[1:]),
                                      timeout, env=self.env, cwd=self.tmp)
        self.assertEqual(rc, 0, "%s failed:\n%s%s" % (args[0], out, err))
        return out

    def test_live_plot_to_file(self):
        self.lab()
        png = os.path.join(self.tmp, "plot.png")
        out = self.run_example("live_plot.py", "sensor/sim-t/", "sensor/sim-l/", "--seconds", "2",
                               "--out", png)
        self.assertIn("2 streams", out)
        with open(png, "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
        self.assertGreater(os.path.getsize(png), 10000)

    def test_record_experiment_french(self):
        self.lab()
        out_dir = os.path.join(self.tmp, "results")
        out = self.run_example("record_experiment.py", "sim-t", "sim-l", "--seconds", "1.5",
                               "--french", "--out", out_dir)
        files = sorted(os.listdir(out_dir))
        self.assertEqual(files, ["sim-l_light.csv", "sim-t_temperature.csv"])
        with open(os.path.join(out_dir, "sim-t_temperature.csv"), encoding="utf-8") as f:
            rows = f.read().splitlines()
        self.assertEqual(rows[0], "t (s);time (UTC);temperature (°C)")
        self.assertGreater(len(rows), 20)
        first_t = {}
        for name in files:
            with open(os.path.join(out_dir, name), encoding="utf-8") as f:
                first_t[name] = f.read().splitlines()[1].split(";")[1]
        # the synchronised start: both files begin at the same instant
        self.assertEqual(len(set(first_t.values())), 1, first_t)
        self.assertIn("rows", out)

    def test_calibrate_two_points_tare_clear(self):
        d = self.lab()
        c = self.client(d)
        sub = self.subscriber(d, ["sensor/sim-ph/"])
        # shown 4 in the first reference, 7 in the second: the script averages each
        p = subprocess.Popen([PY, os.path.join(EX, "calibrate.py"), "sim-ph", "ph", "--refs",
                              "4.01", "7.00", "--average", "0.3"], env=self.env, cwd=self.tmp,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        try:
            self.expect(p, "reference 1")
            p.stdin.write(b"\n")
            p.stdin.flush()
            self.expect(p, "shown 4")
            c.call("device.set", {"device": "sim-ph", "key": "offset", "value": 7})
            self.expect(p, "reference 2")
            # the new offset is on the stream before the second reading starts
            sub.wait_for(lambda m: m.samples and abs(m.samples[-1] - 7) < 1e-6,
                         what="the second reference on the stream")
            p.stdin.write(b"\n")
            p.stdin.flush()
            out = self.expect(p, "calibrated")
            self.assertEqual(p.wait(10), 0, out)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stdin.close()
            p.stdout.close()
        cal = c.call("device.info", {"device": "sim-ph"})["streams"][0]["calib"]
        self.assertAlmostEqual(cal["gain"], (7.0 - 4.01) / 3.0, places=3)
        self.assertAlmostEqual(cal["offset"], 4.01 - cal["gain"] * 4.0, places=3)
        out = self.run_example("calibrate.py", "sim-ph", "ph", "--tare")
        self.assertIn("tared", out)
        out = self.run_example("calibrate.py", "sim-ph", "ph", "--clear")
        self.assertIn("removed", out)
        wait_until(lambda: "calib" not in c.call("device.info", {"device": "sim-ph"})["streams"][0],
                   what="the calibration removed")

    def expect(self, p, text, timeout=10):
        """Read the program's output until text appears (prompts have no newline)."""
        buf = getattr(p, "_buf", b"")
        deadline = time.monotonic() + timeout
        while text.encode() not in buf:
            left = deadline - time.monotonic()
            self.assertGreater(left, 0, "no %r in the output: %r" % (text, buf.decode()))
            r, _, _ = select.select([p.stdout], [], [], left)
            if r:
                chunk = os.read(p.stdout.fileno(), 4096)
                self.assertTrue(chunk, "the program ended: %r" % buf.decode())
                buf += chunk
        i = buf.index(text.encode()) + len(text)
        p._buf = buf[i:]
        return buf.decode()


if __name__ == "__main__":
    import unittest
    unittest.main()
