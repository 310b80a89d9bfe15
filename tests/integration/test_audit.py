"""The audit log of commands (issue 14): who did what to which device, when, kept by the bridge
in its data directory and readable by teachers only (audit.list, labctl audit).

Roles as the bridge identifies local programs: root is a teacher, the Unix user nobody a student.
"""
import base64
import json
import subprocess
import time
import zlib

from lbtest import (BridgeTest, NOBODY, labctl_path, make_conf, requests_as, san_env,
                    wait_until)

ROBOT = "mbot-sim-mbot-1"


def conf():
    return make_conf({}, bridge={"emulate": "mbot,marlin", "audit_days": 30},
                     raw="[sim.idle]\nrate = 1\nautostart = 0\n")


def entries(c, **params):
    return c.call("audit.list", params)["entries"]


class AuditTest(BridgeTest):
    TEST_TIMEOUT = 120

    def start(self):
        d = self.start_bridge(conf())
        c = self.client(d)
        wait_until(lambda: any(x["id"] == ROBOT for x in c.call("devices.list")), timeout=20,
                   what="the emulated mBot")
        return d, c

    def test_who_did_what_when(self):
        d, c = self.start()
        t0 = time.time_ns()
        data = b"G28\nG1 X10 Y10\n"
        replies = requests_as(NOBODY, d.rpc, [
            ["lease.acquire", {"device": ROBOT}],
            ["robot.move", {"device": ROBOT, "left": 0.5, "right": 0.25}],
            ["print.upload", {"request_id": "a-1", "name": "cube.gcode", "offset": 0,
                              "final": True, "crc32": zlib.crc32(data)},
             base64.b64encode(data).decode()],
            ["audit.list", {}],
            ["devices.list", {}],
        ])
        t1 = time.time_ns()
        replies = replies[1:]
        self.assertNotIn("error", replies[0], replies[0])
        job = replies[1]["result"]["id"]
        self.assertEqual(replies[2]["error"]["name"], "forbidden")  # students may not read it
        refused = requests_as(NOBODY, d.rpc, [["print.approve", {"id": job}]])[0]
        self.assertEqual(refused["error"]["name"], "forbidden")

        log = entries(c, user="unix:nobody")
        by_method = {}
        for e in log:
            by_method.setdefault(e["method"], []).append(e)
        # read-only methods are not recorded; a refusal of any method is
        self.assertNotIn("devices.list", by_method)
        self.assertEqual(sorted(by_method), ["audit.list", "lease.acquire", "print.approve",
                                             "print.upload", "robot.move"])
        move = by_method["robot.move"][0]
        self.assertEqual((move["user"], move["role"], move["device"]),
                         ("unix:nobody", "student", ROBOT))
        self.assertEqual(move["outcome"], "ok")  # the device's answer, not just "forwarded"
        self.assertIn('"left":0.5', move["params"])
        self.assertTrue(t0 <= move["t"] <= t1, (t0, move["t"], t1))
        up = by_method["print.upload"][0]
        self.assertEqual((up["outcome"], up["device"]), ("ok", "job:%d" % job))
        self.assertIn("cube.gcode", up["params"])
        self.assertNotIn("G28", json.dumps(log))  # never the file's data
        ap = by_method["print.approve"][0]
        self.assertEqual((ap["outcome"], ap["device"], ap["role"]),
                         ("forbidden", "job:%d" % job, "student"))
        self.assertEqual(by_method["audit.list"][0]["outcome"], "forbidden")
        # newest first, ids decreasing
        ids = [e["id"] for e in log]
        self.assertEqual(ids, sorted(ids, reverse=True))
        self.assertEqual(log[0]["method"], "print.approve")

        # a forwarded request the device refuses: its error, as the caller got it
        e = c.error("device.call", {"device": "sim-idle", "method": "no-such-action"})
        row = entries(c, method="device.call")[0]
        self.assertEqual((row["user"], row["role"], row["device"], row["outcome"]),
                         ("unix:root", "teacher", "sim-idle", e["name"]))

        # filters and limits
        self.assertEqual([e["method"] for e in entries(c, device=ROBOT)],
                         ["robot.move", "lease.acquire"])
        self.assertEqual(len(entries(c, user="unix:nobody", limit=2)), 2)
        self.assertEqual(entries(c, since=t1 + 10**12), [])
        self.assertEqual([e["id"] for e in entries(c, user="unix:nobody", before_id=ids[0])],
                         ids[1:])
        self.assertEqual(c.error("audit.list", {"limit": 1001})["name"], "invalid_params")
        self.assertEqual(c.error("audit.list", {"colour": 1})["name"], "invalid_params")

        # labctl audit prints the table (root: a teacher)
        p = subprocess.run([labctl_path(), "--rpc", d.rpc, "audit", "--user", "unix:nobody",
                            "--since", "1h"], capture_output=True, timeout=30, env=san_env())
        out = p.stdout.decode()
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        self.assertIn("robot.move", out)
        self.assertIn(ROBOT, out)
        self.assertIn("forbidden", out)
        p = subprocess.run([labctl_path(), "--rpc", d.rpc, "audit", "--device", ROBOT],
                           capture_output=True, timeout=30, env=san_env())
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        self.assertNotIn("print.approve", p.stdout.decode())

    def test_no_secret_and_kept_across_restart(self):
        d, c = self.start()
        made = c.call("keys.new", {"role": "student", "name": "5B group 3"})
        secret = made["secret_key"]
        self.assertTrue(secret)
        log = entries(c, method="keys.new")
        self.assertEqual(len(log), 1)
        self.assertEqual((log[0]["user"], log[0]["role"], log[0]["outcome"]),
                         ("unix:root", "teacher", "ok"))
        self.assertIn("5B group 3", log[0]["params"])
        self.assertNotIn(secret, json.dumps(entries(c, limit=1000)))
        with open(d.log_path if hasattr(d, "log_path") else d.err_path, "rb") as f:
            self.assertNotIn(secret.encode(), f.read())
        c.call("lease.acquire", {"device": ROBOT})
        c.call("robot.move", {"device": ROBOT, "left": 0.1, "right": 0.1})
        before = entries(c, limit=1000)
        c.close()
        self.assertEqual(d.stop(), 0)
        # the same data directory: the log is still there, and grows on
        d2 = self.start_bridge(conf())
        c2 = self.client(d2)
        self.assertEqual(entries(c2, limit=1000), before)
        c2.call("lease.acquire", {"device": "sim-idle"})
        after = entries(c2, limit=1000)
        self.assertEqual(after[1:], before)
        self.assertEqual(after[0]["method"], "lease.acquire")
        self.assertTrue(after[0]["id"] > before[0]["id"])
        with open(d2.err_path, "rb") as f:
            self.assertNotIn(secret.encode(), f.read())

    def test_bad_audit_days_refused(self):
        for bad in ("0", "ninety", "40000"):
            with self.subTest(audit_days=bad):
                d = self.start_bridge(make_conf({}, bridge={"audit_days": bad}),
                                      name="bad-" + bad, ready=False, check_exit=False)
                self.assertEqual(d.wait_exit(20), 1)
                self.assertIn("audit_days must be a number of days from 1 to 36500, not '%s'"
                              % bad, d.stderr())
