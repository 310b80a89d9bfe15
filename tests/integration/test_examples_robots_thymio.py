"""The Thymio example against the simulated lab: examples/python/thymio_events.py uploads
examples/aseba/obstacle_events.aseba, answers the robot's obstacle events with speed events;
and every examples/aseba program compiles against the simulated Thymio's description."""
import glob
import os

from lbtest import ROOT, BridgeTest, make_conf, run_program, wait_until

PY = "/usr/bin/python3"
EX = os.path.join(ROOT, "examples")
DEV = "thymio-sim-thymio-1"


class ThymioExamplesTest(BridgeTest):

    def lab(self):
        d = self.start_bridge(make_conf({}, bridge={"emulate": "thymio",
                                                    "request_timeout_ms": 5000}))
        c = self.client(d)
        wait_until(lambda: DEV in [r["device"] for r in c.call("robot.list")], timeout=15,
                   what="the emulated Thymio")
        self.env = dict(os.environ, LABBRIDGE_PUB=d.pub, LABBRIDGE_RPC=d.rpc)
        return d, c

    def test_thymio_events(self):
        d, c = self.lab()
        rc, out, err, _ = run_program([PY, os.path.join(EX, "python", "thymio_events.py"),
                                       "--count", "2", "--timeout", "20"], 40, env=self.env,
                                      cwd=self.tmp)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("program loaded", out)
        self.assertEqual(out.count("backing up"), 2, out)
        self.assertIn("2 obstacles answered", out)
        # stopped and released: the next group may take it
        wait_until(lambda: c.call("thymio.emulator", {"probe": True})["motor_target"] == [0, 0],
                   what="the robot stopped")
        info = c.call("robot.info", {"device": DEV})
        self.assertIsNone(info["owner"])

    def test_aseba_examples_compile(self):
        d, c = self.lab()
        c.call("lease.acquire", {"device": DEV})
        files = sorted(glob.glob(os.path.join(EX, "aseba", "*.aseba")))
        self.assertGreaterEqual(len(files), 3)
        events = [{"name": "obstacle", "size": 1}, {"name": "speed", "size": 1}]
        for path in files:
            with open(path, encoding="utf-8") as f:
                r = c.call("robot.program.load", {"device": DEV, "language": "aseba",
                                                  "source": f.read(), "events": events})
            self.assertGreater(r["words"], 5, path)

    def test_square_program_drives_by_timers(self):
        d, c = self.lab()
        c.call("lease.acquire", {"device": DEV})
        with open(os.path.join(EX, "aseba", "square.aseba"), encoding="utf-8") as f:
            c.call("robot.program.load", {"device": DEV, "language": "aseba",
                                          "source": f.read()})
        c.call("robot.program.run", {"device": DEV})
        probe = lambda: c.call("thymio.emulator", {"probe": True})["motor_target"]
        wait_until(lambda: probe() == [200, 200], what="forward")
        wait_until(lambda: probe() == [200, -200], timeout=5, what="the first turn (timer0)")
        wait_until(lambda: probe() == [200, 200], timeout=5, what="the second side")
        c.call("robot.stop", {"device": DEV})
