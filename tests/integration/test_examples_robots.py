"""examples/python/drive_square.py against the simulated lab's robots: one copy per family at
once, each takes its robot, drives a square through the robot service and releases it; a robot
someone else holds is not taken."""
import os
import subprocess

from lbtest import ROOT, BridgeTest, make_conf, run_program, wait_until

PY = "/usr/bin/python3"
SQUARE = os.path.join(ROOT, "examples", "python", "drive_square.py")
FAMILIES = ("firmata", "mbot", "micropython", "thymio")


class DriveSquareTest(BridgeTest):

    def test_every_family_at_once(self):
        d = self.start_bridge(make_conf({}, bridge={
            "emulate": ",".join(FAMILIES), "request_timeout_ms": 5000}))
        c = self.client(d)
        wait_until(lambda: {r["driver"] for r in c.call("robot.list")} >= set(FAMILIES),
                   timeout=30, what="a robot of each family")
        robots = {r["driver"]: r["device"] for r in c.call("robot.list")}
        env = dict(os.environ, LABBRIDGE_PUB=d.pub, LABBRIDGE_RPC=d.rpc)
        sub = self.subscriber(d, ["robot/%s/state/" % r for r in robots.values()])
        procs = {f: subprocess.Popen([PY, SQUARE, "--robot", robots[f], "--side", "0.3",
                                      "--turn", "0.1", "--name", "group " + f],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     env=env, cwd=self.tmp, text=True)
                 for f in FAMILIES}
        for f, p in procs.items():
            out, _ = p.communicate(timeout=60)
            self.assertEqual(p.returncode, 0, "%s: %s" % (f, out))
            self.assertIn("side 4", out)
            self.assertIn("square done, %s released" % robots[f], out)
        # each was driven by its group, then stopped and freed
        states = [m.data for m in sub.collect(0.5) if m.topic.endswith("/state/")]
        for f in FAMILIES:
            self.assertTrue(any(s["device"] == robots[f] and s["active"]
                                and s["owner_name"] == "group " + f for s in states),
                            "%s never seen moving for its group" % f)
        infos = {r["device"]: r for r in c.call("robot.list")}
        for f in FAMILIES:
            self.assertIsNone(infos[robots[f]]["owner"], infos[robots[f]])
            self.assertFalse(infos[robots[f]]["active"], infos[robots[f]])

    def test_a_taken_robot_is_not_taken(self):
        d = self.start_bridge(make_conf({}, bridge={"emulate": "mbot",
                                                    "request_timeout_ms": 5000}))
        c = self.client(d)
        wait_until(lambda: c.call("robot.list"), timeout=20, what="the mBot")
        rid = c.call("robot.list")[0]["device"]
        c.call("session.hello", {"name": "group 1"})
        c.call("lease.acquire", {"device": rid})
        env = dict(os.environ, LABBRIDGE_PUB=d.pub, LABBRIDGE_RPC=d.rpc)
        rc, out, err, _ = run_program([PY, SQUARE, "--side", "0.1"], 30, env=env, cwd=self.tmp)
        self.assertEqual(rc, 1)
        self.assertIn("no free robot with wheels: %s (taken by group 1)" % rid, err)
