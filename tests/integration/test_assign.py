"""Devices assigned to groups (room.assign, room.assignments): only the group's students take a
device's lease, the group being a trusted one (a CURVE key's name, a web pairing's name), never a
session.hello label; kept across restarts; QR labels for devices (labctl devices labels)."""
import json
import os
import shutil
import subprocess
import tempfile

import zmq

from lbtest import (BridgeTest, register_key, make_conf, sensor, labctl_path, run_program, san_env,
                    sanitizer_errors, requests_as, wait_until, NOBODY)
from test_http import Web

LAB = {"t1": sensor(rate=20), "t2": sensor(rate=20), "t3": sensor(rate=20)}
NET = ["--net-rpc", "tcp://127.0.0.1:0", "--net-pub", "tcp://127.0.0.1:0"]
UNKNOWN_DEVICE, FORBIDDEN, LEASED, ASSIGNED = 1001, 1002, 1003, 1012
INVALID_PARAMS = -32602
G3, G4 = "5B group 3", "5B group 4"


class AssignTest(BridgeTest):

    def setUp(self):
        super().setUp()
        self.data = os.path.join(self.tmp, "assign-data")
        self.env = {"STATE_DIRECTORY": self.data}
        self.keys = {}

    def add_key(self, role, name):
        """A registered key (a certificate file in <data_dir>/keys): (public, secret)."""
        self.keys[name] = register_key(self.data, role, name)

    def start(self, name="bridge", conf=None, **kw):
        d = self.start_bridge(conf or make_conf(LAB), name=name, args=NET, env=self.env, **kw)
        self.teacher = self.client(d)  # root, the bridge's own user: a teacher
        self.net_rpc = self.teacher.call("bridge.info")["endpoints"]["net_rpc"]
        self.server_key = self.teacher.call("keys.list")["server_key"]
        return d

    def net(self, name):
        """A DEALER over CURVE with the key registered as name."""
        pub, sec = self.keys[name]
        s = self.ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.curve_serverkey = self.server_key.encode()
        s.curve_publickey = pub.encode()
        s.curve_secretkey = sec.encode()
        s.connect(self.net_rpc)
        self._sockets.append(s)
        return s

    def ask(self, sock, method, params=None):
        sock.send_multipart([b"", json.dumps({"id": 1, "method": method,
                                              "params": params or {}}).encode()])
        self.assertTrue(sock.poll(10000), "no reply to %s" % method)
        return json.loads(sock.recv_multipart()[-1])

    def assigned(self, dev):
        return [x for x in self.teacher.call("devices.list") if x["id"] == dev][0]["assigned"]

    def lease(self, dev):
        return self.teacher.call("device.info", {"device": dev})["lease"]

    # ------------------------------------------------------------------ the rule

    def test_only_the_group_takes_an_assigned_device(self):
        self.add_key("teacher", "T")
        self.add_key("student", G3)
        self.add_key("student", G4)
        d = self.start()
        room = self.subscriber(d, ("bridge/room/",))
        devs = self.subscriber(d, ("bridge/devices/",))
        g3, g4 = self.net(G3), self.net(G4)
        self.assertIsNone(self.assigned("sim-t1"), "unassigned devices say null")
        self.assertEqual(self.teacher.call("room.assign", {"device": "sim-t1", "group": G3}),
                         {"device": "sim-t1", "group": G3})
        ev = room.wait_for(lambda m: m.header["data"].get("event") == "assigned",
                           what="the assigned event").header
        self.assertEqual((ev["type"], ev["data"]),
                         ("json", {"event": "assigned", "device": "sim-t1", "group": G3}))
        self.assertEqual(self.assigned("sim-t1"), G3)
        devs.wait_for(lambda m: m.header["data"]["event"] == "changed"
                      and m.header["data"]["device"]["id"] == "sim-t1"
                      and m.header["data"]["device"]["assigned"] == G3,
                      what="sim-t1's changed event with its group")
        self.assertEqual(self.teacher.call("device.info", {"device": "sim-t1"})["assigned"], G3)
        # another group is refused, saying to whom it is assigned; the group takes it
        err = self.ask(g4, "lease.acquire", {"device": "sim-t1"})["error"]
        self.assertEqual((err["code"], err["name"]), (ASSIGNED, "assigned"))
        self.assertEqual(err["message"], "sim-t1 is assigned to 5B group 3; ask your teacher")
        # a key's group is its registered name: renaming itself with session.hello changes
        # the label only
        self.assertEqual(self.ask(g3, "session.hello", {"name": G4})["result"]["name"], G4)
        self.teacher.call("room.assign", {"device": "sim-t3", "group": G4})
        self.assertEqual(self.ask(g3, "lease.acquire", {"device": "sim-t3"})["error"]["code"],
                         ASSIGNED)
        self.teacher.call("room.assign", {"device": "sim-t3", "group": None})
        self.assertEqual(self.ask(g3, "lease.acquire", {"device": "sim-t1"})["result"]["holder"],
                         "key:" + self.keys[G3][0])
        # session.hello's name is a label, never a group: a local pupil naming itself G3
        self.teacher.call("room.assign", {"device": "sim-t2", "group": G3})
        r = requests_as(NOBODY, d.rpc, [["session.hello", {"name": G3}],
                                        ["lease.acquire", {"device": "sim-t2"}],
                                        ["room.assign", {"device": "sim-t2", "group": "x"}],
                                        ["room.assignments", {}]])
        self.assertEqual(r[0]["result"]["name"], G3)
        self.assertEqual(r[1]["error"]["code"], ASSIGNED)
        # room.assign is a teacher's; room.assignments anyone's
        self.assertEqual(r[2]["error"]["code"], FORBIDDEN)
        self.assertEqual(self.ask(g3, "room.assign", {"device": "sim-t1", "group": G3})
                         ["error"]["code"], FORBIDDEN)
        self.assertIn("assignments", r[3]["result"])
        # unassigned devices behave as before; teachers are never refused
        self.assertIn("result", self.ask(g4, "lease.acquire", {"device": "sim-t3"}))
        self.assertIn("result", self.teacher.request("lease.acquire", {"device": "sim-t2"}))
        self.teacher.call("lease.release", {"device": "sim-t2"})
        # assigning a device a student of another group holds ends that lease, and says so
        r = self.teacher.call("room.assign", {"device": "sim-t1", "group": G4})
        self.assertEqual(r, {"device": "sim-t1", "group": G4, "released": G3})
        self.assertIsNone(self.lease("sim-t1"))
        self.assertEqual(self.ask(g3, "lease.acquire", {"device": "sim-t1"})["error"]["code"],
                         ASSIGNED)
        self.assertIn("result", self.ask(g4, "lease.acquire", {"device": "sim-t1"}))
        # re-assigning to the holder's own group keeps its lease
        r = self.teacher.call("room.assign", {"device": "sim-t1", "group": G4})
        self.assertNotIn("released", r)
        self.assertEqual(self.lease("sim-t1")["holder"], "key:" + self.keys[G4][0])
        # cleared: anyone may take it
        self.assertEqual(self.teacher.call("room.assign", {"device": "sim-t2", "group": None}),
                         {"device": "sim-t2", "group": None})
        self.assertIsNone(self.assigned("sim-t2"))
        self.assertIn("result", requests_as(NOBODY, d.rpc,
                                            [["lease.acquire", {"device": "sim-t2"}]])[0])
        # what the teacher picks from: student keys' names and assigned groups, sorted
        a = self.teacher.call("room.assignments")
        self.assertEqual([(x["device"], x["group"]) for x in a["assignments"]],
                         [("sim-t1", G4)])
        self.assertIsInstance(a["assignments"][0]["since"], int)
        self.assertEqual(a["groups"], [G3, G4])
        # bad input
        for params, code in [({"device": "nope", "group": G3}, UNKNOWN_DEVICE),
                             ({"device": "sim-t1", "group": ""}, INVALID_PARAMS),
                             ({"device": "sim-t1", "group": "a\nb"}, INVALID_PARAMS),
                             ({"device": "sim-t1", "group": "\u0085x"}, INVALID_PARAMS),
                             ({"device": "sim-t1", "group": "g" * 64}, INVALID_PARAMS),
                             ({"device": "sim-t1", "group": 3}, INVALID_PARAMS),
                             ({"device": "sim-t1"}, INVALID_PARAMS)]:
            self.assertEqual(self.teacher.error("room.assign", params)["code"], code, params)
        self.assertEqual(self.teacher.call("room.assign", {"device": "sim-t3",
                                                           "group": "é" * 31})["group"], "é" * 31)
        # the teacher's commands are in the audit log, with their device
        def logged():
            rows = self.teacher.call("audit.list", {"device": "sim-t1"})["entries"]
            return [x for x in rows if x["method"] == "room.assign"]
        rows = wait_until(lambda: len(logged()) >= 10 and logged(), what="room.assign audited")
        self.assertEqual({(x["user"], x["role"], x["outcome"]) for x in rows},
                         {("unix:root", "teacher", "ok"), ("unix:root", "teacher",
                                                           "invalid_params"),
                          ("key:" + self.keys[G3][0], "student", "forbidden")})
        forbidden = self.teacher.call("audit.list", {"device": "sim-t2"})["entries"]
        self.assertIn(("unix:nobody", "room.assign", "forbidden"),
                      [(x["user"], x["method"], x["outcome"]) for x in forbidden])

    def test_a_robot_assigned_away_from_its_holder_stops(self):
        self.add_key("teacher", "T")
        self.add_key("student", G3)
        robot = "mbot-sim-mbot-1"
        self.start(conf=make_conf({}, bridge={"emulate": "mbot"}))
        wait_until(lambda: any(x["id"] == robot for x in self.teacher.call("devices.list")),
                   timeout=15, what="the emulated mBot")
        g3 = self.net(G3)
        self.assertIn("result", self.ask(g3, "lease.acquire", {"device": robot}))
        self.assertIn("result", self.ask(g3, "robot.move", {"device": robot, "left": 0.5,
                                                           "right": 0.5}))
        self.assertEqual(self.teacher.call("mbot.emulator", {"probe": True})["m2"], 128)
        r = self.teacher.call("room.assign", {"device": robot, "group": G4})
        self.assertEqual(r["released"], G3)
        wait_until(lambda: self.teacher.call("mbot.emulator", {"probe": True})["m2"] == 0,
                   what="the dead-man's stop")
        self.assertIsNone(self.lease(robot))
        self.assertEqual(self.ask(g3, "lease.acquire", {"device": robot})["error"]["code"],
                         ASSIGNED)

    def test_a_device_assigned_to_a_user_id(self):
        self.add_key("teacher", "T")
        d = self.start()
        self.teacher.call("room.assign", {"device": "sim-t1", "group": "unix:nobody"})
        r = requests_as(NOBODY, d.rpc, [["lease.acquire", {"device": "sim-t1"}]])
        self.assertEqual(r[0]["result"]["holder"], "unix:nobody")

    def test_an_unplugged_configured_device_may_be_assigned(self):
        self.add_key("teacher", "T")
        self.start(conf=make_conf(LAB, raw="[firmata.nope]\nport = /dev/ttyNOPE0\n"))
        every = lambda: {x["id"]: x for x in self.teacher.call("devices.list", {"all": True})}
        wait_until(lambda: "firmata-nope" in every(), what="the absent device listed")
        self.assertEqual(self.teacher.call("room.assign", {"device": "firmata-nope",
                                                           "group": G3})["group"], G3)
        nope = every()["firmata-nope"]
        self.assertEqual((nope["state"], nope["assigned"]), ("absent", G3))

    def test_web_sessions_of_the_group(self):
        self.add_key("teacher", "T")
        d = self.start(http="127.0.0.1:0")
        web = Web(d.web_url())
        p3 = self.teacher.call("pair.new", {"name": G3})
        p4 = self.teacher.call("pair.new", {"name": G4})
        self.teacher.call("pair.new", {"name": "Mme Durand", "role": "teacher"})
        s3, s4 = web.pair(p3["code"])["token"], web.pair(p4["code"])["token"]
        self.teacher.call("room.assign", {"device": "sim-t1", "group": G3})
        self.assertEqual(web.call(s4, "lease.acquire", {"device": "sim-t1"})["error"]["code"],
                         ASSIGNED)
        self.assertIn("result", web.call(s3, "lease.acquire", {"device": "sim-t1"}))
        # the live student pairings' names are groups to pick from
        self.assertEqual(self.teacher.call("room.assignments")["groups"], [G3, G4])
        # the page's devices list shows it
        devs = web.call(s4, "devices.list")["result"]
        self.assertEqual([x["assigned"] for x in devs if x["id"] == "sim-t1"], [G3])

    # ------------------------------------------------------------------ kept in the data directory

    def test_assignments_survive_a_restart_and_a_bad_file_is_put_aside(self):
        self.add_key("teacher", "T")
        d = self.start(name="before")
        self.teacher.call("room.assign", {"device": "sim-t2", "group": G3})
        self.assertEqual(d.stop(), 0)
        d = self.start(name="after")
        self.assertEqual([(x["device"], x["group"]) for x in
                          self.teacher.call("room.assignments")["assignments"]],
                         [("sim-t2", G3)])
        self.assertEqual(self.assigned("sim-t2"), G3)
        r = requests_as(NOBODY, d.rpc, [["lease.acquire", {"device": "sim-t2"}]])
        self.assertEqual(r[0]["error"]["code"], ASSIGNED)
        self.assertEqual(d.stop(), 0)
        path = os.path.join(self.data, "assignments.json")
        with open(path, "w") as f:
            f.write('{"v": 1, "assignments": [{"device": "sim-t2", "group": "\\u0001"}]}')
        d = self.start(name="bad")
        self.assertEqual(self.teacher.call("room.assignments")["assignments"], [])
        self.assertIn("assignments.json: entry 0", d.stderr())
        self.assertIn("kept as %s.bad" % path, d.stderr())
        self.assertTrue(os.path.exists(path + ".bad"))
        self.assertFalse(os.path.exists(path))

    # ------------------------------------------------------------------ labctl

    def labctl(self, d, *args, expect=0):
        cmd = [labctl_path(), "--pub", d.pub, "--rpc", d.rpc] + list(args)
        rc, out, err, _ = run_program(cmd, 60, env=san_env())
        self.assertEqual(sanitizer_errors(err), [], err)
        self.assertEqual(rc, expect, "labctl %s: %s\n%s" % (" ".join(args), out, err))
        return out, err

    def test_labctl_room_assign_and_assignments(self):
        self.add_key("teacher", "T")
        self.add_key("student", G3)
        d = self.start()
        out, _ = self.labctl(d, "room", "assign", "sim-t1", G3)
        self.assertIn("sim-t1 is assigned to 5B group 3", out)
        self.ask(self.net(G3), "lease.acquire", {"device": "sim-t1"})
        out, _ = self.labctl(d, "room", "assignments")
        self.assertRegex(out, r"DEVICE\s+GROUP\s+SINCE\s+HOLDER NOW")
        self.assertRegex(out, r"sim-t1\s+5B group 3\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+5B group 3")
        out, _ = self.labctl(d, "room", "assignments", "--json")
        self.assertEqual(json.loads(out)["groups"], [G3])
        self.labctl(d, "room", "assign", "sim-t1", expect=2)
        self.labctl(d, "room", "assign", "sim-t1", G3, "--none", expect=2)
        _, err = self.labctl(d, "room", "assign", "nope", G3, expect=1)
        self.assertIn("unknown_device", err)
        out, _ = self.labctl(d, "room", "assign", "sim-t1", "--none")
        self.assertIn("sim-t1 is assigned to nobody", out)
        out, _ = self.labctl(d, "room", "assignments")
        self.assertIn("no device is assigned", out)

    def qr_texts(self, pdf):
        """The number of images in pdf, and the text of the first QR code (None without
        zbarimg)."""
        listing = subprocess.run(["pdfimages", "-list", pdf], capture_output=True, text=True,
                                 check=True).stdout
        n = len(listing.splitlines()) - 2
        if not shutil.which("zbarimg"):
            return n, None
        tmp = tempfile.mkdtemp(dir=self.tmp)
        subprocess.run(["pdfimages", "-png", pdf, os.path.join(tmp, "qr")], check=True)
        first = sorted(os.listdir(tmp))[0]
        text = subprocess.run(["zbarimg", "-q", "--raw", os.path.join(tmp, first)],
                              capture_output=True, check=True).stdout.decode().strip()
        return n, text

    def test_labctl_labels(self):
        if not shutil.which("pdfimages"):
            self.skipTest("pdfimages (poppler-utils) is not installed")
        d = self.start_bridge(make_conf(LAB), http="127.0.0.1:0", env=self.env)
        pdf = os.path.join(self.tmp, "labels.pdf")
        out, err = self.labctl(d, "devices", "labels", "-o", pdf, "--url",
                               "http://10.0.0.5:8080")
        self.assertIn("3 label(s)", out)
        self.assertNotIn("warning", err)
        n, text = self.qr_texts(pdf)
        self.assertEqual(n, 3)
        if text is not None:
            self.assertEqual(text, "http://10.0.0.5:8080/#device=sim-t1")
        if shutil.which("pdftotext"):
            words = subprocess.run(["pdftotext", pdf, "-"], capture_output=True, text=True,
                                   check=True).stdout
            for dev in ("sim-t1", "sim-t2", "sim-t3"):
                self.assertIn(dev, words)
        # chosen devices; the default URL is the bridge's page, here on loopback: a warning
        out, err = self.labctl(d, "devices", "labels", "-o", pdf, "--device", "sim-t3")
        self.assertIn("tablets cannot open it", err)
        self.assertIn("--url", err)
        n, text = self.qr_texts(pdf)
        self.assertEqual(n, 1)
        if text is not None:
            self.assertRegex(text, r"^http://127\.0\.0\.1:\d+/#device=sim-t3$")
        # refused: a bad URL, an unknown device, no output file
        for bad in ("ftp://x/", "http://", "http://a b/", "http://x/#frag", "10.0.0.5:8080"):
            _, err = self.labctl(d, "devices", "labels", "-o", pdf, "--url", bad, expect=2)
            self.assertIn("--url", err)
        _, err = self.labctl(d, "devices", "labels", "-o", pdf, "--device", "nope", expect=1)
        self.assertIn("no device 'nope'", err)
        self.labctl(d, "devices", "labels", expect=2)

    def test_labctl_labels_without_a_web_page(self):
        d = self.start_bridge(make_conf(LAB), env=self.env)  # --http none
        _, err = self.labctl(d, "devices", "labels", "-o", os.path.join(self.tmp, "x.pdf"),
                             expect=1)
        self.assertIn("serves no web page", err)
