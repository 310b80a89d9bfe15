"""The robot vocabulary, the same for every family (robot service): a group drives only the robot
whose lease it holds, parameters are checked before anything reaches a robot, a robot whose
owner's client disappears stops by itself, the room stop latches for every family, a robot that
vanishes frees its lease. Each family's own tests (test_robot_<family>.py) check what reaches
its emulator's motors."""
import json
import os
import select
import socket
import threading
import time

import zmq

from lbtest import (BridgeTest, NOBODY, labctl_path, make_conf, requests_as, run_program,
                    san_env, wait_until)

LEASED, INVALID, ROOM_STOPPED, FORBIDDEN, NOT_SUPPORTED = 1003, -32602, 1009, 1002, 1005



class FreezingProxy:
    """A TCP relay to the bridge that can stop relaying while keeping both connections open:
    a client whose network vanishes (a tablet out of Wi-Fi), as the bridge sees it."""

    def __init__(self, target):
        host, port = target[len("tcp://"):].rsplit(":", 1)
        self.target = (host, int(port))
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.endpoint = "tcp://127.0.0.1:%d" % self.listener.getsockname()[1]
        self.frozen = threading.Event()
        self.done = threading.Event()
        self.socks = [self.listener]
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        pairs = {}
        while not self.done.is_set():
            r, _, _ = select.select(list(pairs) + [self.listener], [], [], 0.05)
            for s in r:
                if s is self.listener:
                    a, _ = s.accept()
                    b = socket.create_connection(self.target)
                    pairs[a], pairs[b] = b, a
                    self.socks += [a, b]
                elif not self.frozen.is_set():
                    data = s.recv(65536)
                    if data:
                        pairs[s].sendall(data)
            if self.frozen.is_set():
                time.sleep(0.01)  # hold everything: nothing relayed, nothing closed

    def close(self):
        self.done.set()
        for s in self.socks:
            s.close()


class RobotServiceCases:
    """The service's tests against one family's emulated robot (FAMILY: its driver, the
    [bridge] emulate name); each family runs them (the BridgeTest subclasses below)."""

    FAMILY = None
    def lab(self, bridge=None, **kw):
        families = (self.FAMILY,)
        d = self.start_bridge(make_conf({}, bridge=dict({
            "data_dir": os.path.join(self.tmp, "data"), "emulate": ",".join(families),
            "request_timeout_ms": 5000}, **(bridge or {}))), **kw)
        d.rpc = d.ready_endpoint("requests") or d.rpc  # tcp://127.0.0.1:0 -> its port
        c = self.client(d)
        wait_until(lambda: len(c.call("robot.list")) >= len(families), timeout=20,
                   what="the emulated robots")
        return d, c

    def robot(self, c, family):
        rs = [r for r in c.call("robot.list") if r["driver"] == family]
        self.assertTrue(rs, "no %s robot in %s" % (family, c.call("robot.list")))
        return rs[0]["device"]

    def test_only_the_lease_holder_drives(self):
        d, c = self.lab()
        rid = self.robot(c, self.FAMILY)
        info = c.call("robot.info", {"device": rid})
        self.assertIn("robot.move", info["requests"])
        self.assertIsNone(info["owner"])
        # no lease: refused with the request to make
        e = c.error("robot.move", {"device": rid, "left": 0.5, "right": 0.5})
        self.assertError(e, "leased", LEASED)
        self.assertIn("lease.acquire", e["message"])
        # the clients of a classroom race for one robot: exactly one gets it
        others = [self.client(d) for _ in range(8)]
        ids = [o.send("lease.acquire", {"device": rid}) for o in others]
        replies = [o.reply_for(i) for o, i in zip(others, ids)]
        winners = [o for o, r in zip(others, replies) if "result" in r]
        self.assertEqual(len(winners), 1, replies)
        self.assertTrue(all(r["error"]["code"] == LEASED for r in replies if "error" in r))
        owner = winners[0]
        owner.call("robot.move", {"device": rid, "left": 0.3, "right": 0.3})
        loser = next(o for o in others if o is not owner)
        self.assertError(loser.error("robot.move", {"device": rid, "left": 1, "right": 1}), "leased", LEASED)
        self.assertError(loser.error("robot.stop", {"device": rid}), "leased", LEASED)
        # watching is for everyone
        self.assertEqual(loser.call("robot.info", {"device": rid})["active"], True)
        owner.call("robot.stop", {"device": rid})
        # a teacher takes it over (root is a teacher here)
        c.call("lease.acquire", {"device": rid, "force": True})
        self.assertError(owner.error("robot.move", {"device": rid, "left": 1, "right": 1}), "leased", LEASED)
        c.call("robot.move", {"device": rid, "left": -0.2, "right": 0.2})
        c.call("lease.release", {"device": rid})

    def test_bad_parameters_never_reach_the_robot(self):
        d, c = self.lab()
        rid = self.robot(c, self.FAMILY)
        c.call("lease.acquire", {"device": rid})
        for params in ({"left": "NaN", "right": 0}, {"left": 2, "right": 0},
                       {"left": 0.1}, {"left": 0.1, "right": 0.1, "linear": 0.1},
                       {"left": None, "right": 0.1}, {"left": [1], "right": 0},
                       {"linear": 50, "angular": 0}, {"speed": 1}):
            params["device"] = rid
            self.assertError(c.error("robot.move", params), "invalid_params", INVALID)
        # NaN and 1e999 as JSON numbers: the request itself is refused
        for text in ('{"id":7,"method":"robot.move","params":{"device":"%s","left":NaN,'
                     '"right":0}}' % rid,
                     '{"id":7,"method":"robot.move","params":{"device":"%s","left":1e999,'
                     '"right":0}}' % rid):
            c.send_frames([text.encode()])
            r = c.recv_json()
            self.assertIn("error", r)
        self.assertError(c.error("robot.set", {"device": rid, "warp": 9}), "invalid_params", INVALID)
        self.assertError(c.error("robot.move", {"device": "nope", "left": 0, "right": 0}), "unknown_device", 1001)
        # a sensor is not a robot
        self.assertTrue(c.call("robot.info", {"device": rid}))
        c.call("robot.move", {"device": rid, "left": 0.25, "right": -0.25})
        c.call("robot.stop", {"device": rid})

    def test_owner_vanishing_stops_the_robot(self):
        d, c = self.lab()
        rid = self.robot(c, self.FAMILY)
        topic = "robot/%s/state/" % rid
        sub = self.subscriber(d, [topic])
        ctx = zmq.Context.instance()
        s = ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.connect(d.rpc)
        for i, (m, p) in enumerate((("session.hello", {"name": "group 3"}),
                                    ("lease.acquire", {"device": rid}),
                                    ("robot.move", {"device": rid, "left": 0.5, "right": 0.5}))):
            s.send(json.dumps({"id": i, "method": m, "params": p}).encode())
            self.assertTrue(s.poll(10000), m)
            self.assertIn("result", json.loads(s.recv()), m)
        sub.wait_for(lambda m: m.topic == topic and m.data["active"]
                     and m.data["owner_name"] == "group 3", what="the robot moving for group 3")
        t0 = time.monotonic()
        s.close()  # the group's program dies: its connection closes
        m = sub.wait_for(lambda m: m.topic == topic and not m.data["active"]
                         and m.data["owner"] is None, timeout=10, what="the robot stopped")
        print("dead-man: stopped %.1f ms after the owner's connection closed"
              % ((time.monotonic() - t0) * 1000))
        # the robot is free for the next group
        c.call("lease.acquire", {"device": rid})

    def test_owner_network_vanishing_stops_the_robot(self, timeout_ms=None):
        d, c = self.lab(rpc="tcp://127.0.0.1:0", bridge=timeout_ms and {
            "client_timeout_ms": timeout_ms})
        rid = self.robot(c, self.FAMILY)
        topic = "robot/%s/state/" % rid
        sub = self.subscriber(d, [topic])
        proxy = FreezingProxy(d.ready_endpoint("requests"))
        self.addCleanup(proxy.close)
        s = zmq.Context.instance().socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        self.addCleanup(s.close)
        s.connect(proxy.endpoint)
        for i, (m, p) in enumerate((("lease.acquire", {"device": rid}),
                                    ("robot.move", {"device": rid, "left": 0.5, "right": 0.5}))):
            s.send(json.dumps({"id": i, "method": m, "params": p}).encode())
            self.assertTrue(s.poll(10000), m)
            self.assertIn("result", json.loads(s.recv()), m)
        sub.wait_for(lambda m: m.topic == topic and m.data["active"], what="the robot moving")
        t0 = time.monotonic()
        proxy.frozen.set()  # the network vanishes: no FIN, no RST, nothing
        sub.wait_for(lambda m: m.topic == topic and not m.data["active"]
                     and m.data["owner"] is None, timeout=10, what="the robot stopped")
        took = time.monotonic() - t0
        print("dead-man: stopped %.0f ms after the owner's network vanished" % (took * 1000))
        return took

    def test_room_stop_latches_for_robots(self):
        d, c = self.lab()
        rid = self.robot(c, self.FAMILY)
        topic = "robot/%s/state/" % rid
        sub = self.subscriber(d, [topic, "bridge/room/"])
        c.call("lease.acquire", {"device": rid})
        c.call("robot.move", {"device": rid, "left": 0.5, "right": 0.5})
        # a pupil stops the room
        r = requests_as(NOBODY, d.rpc, [["session.hello", {"name": "group 5"}],
                                        ["room.stop", {"reason": "robot off the table"}],
                                        ["room.release", {}]])
        self.assertIn(rid, r[1]["result"]["halted"])
        self.assertEqual(r[2]["error"]["code"], FORBIDDEN)
        sub.wait_for(lambda m: m.topic == "bridge/room/" and m.data["event"] == "stopped",
                     what="the stop on bridge/room/")
        sub.wait_for(lambda m: m.topic == topic and m.data["state"] == "stopped",
                     what="the robot stopped")
        # latched: even a teacher holding the lease cannot set it moving
        e = c.error("robot.move", {"device": rid, "left": 0.1, "right": 0.1})
        self.assertError(e, "room_stopped", ROOM_STOPPED)
        self.assertIn("group 5", e["message"])
        self.assertIn("robot off the table", e["message"])
        self.assertRegex(e["message"], r"at \d\d:\d\d:\d\d")
        c.call("robot.stop", {"device": rid})  # stopping is always allowed
        c.call("room.release")
        c.call("robot.move", {"device": rid, "left": 0.1, "right": 0.1})
        c.call("robot.stop", {"device": rid})

    def test_a_robot_that_vanishes_frees_its_lease(self):
        d, c = self.lab()
        fam = self.FAMILY
        rid = self.robot(c, fam)
        topic = "robot/%s/state/" % rid
        sub = self.subscriber(d, [topic])
        c.call("lease.acquire", {"device": rid})
        c.call("robot.move", {"device": rid, "left": 0.5, "right": 0.5})
        c.call("%s.emulator" % fam, {"fault": "unplug"})
        sub.wait_for(lambda m: m.topic == topic and m.data["state"] == "gone",
                     timeout=15, what="the robot reported gone")
        wait_until(lambda: rid not in [r["device"] for r in c.call("robot.list")], timeout=15,
                   what="the robot removed")
        c.call("%s.emulator" % fam, {"fault": "plug"})
        wait_until(lambda: rid in [r["device"] for r in c.call("robot.list")], timeout=20,
                   what="the robot back")
        info = c.call("robot.info", {"device": rid})
        self.assertIsNone(info["owner"])  # its old lease did not survive
        other = self.client(d)
        other.call("lease.acquire", {"device": rid})

    def test_labctl_robots_and_drive(self):
        d, c = self.lab()
        rid = self.robot(c, self.FAMILY)
        topic = "robot/%s/state/" % rid
        sub = self.subscriber(d, [topic])

        def labctl(*args, timeout=30):
            return run_program([labctl_path(), "--pub", d.pub, "--rpc", d.rpc] + list(args),
                               timeout, env=san_env())

        rc, out, err, _ = labctl("robots")
        self.assertEqual(rc, 0, err)
        self.assertIn(rid, out)
        self.assertIn("move stop", out)
        rc, out, err, _ = labctl("robot", "drive", rid, "0.5", "-0.5", "--for", "0.3",
                                 "--name", "group 2")
        self.assertEqual(rc, 0, err)
        self.assertIn("%s: stopped" % rid, out)
        # it drove for group 2, then the robot was stopped and freed
        sub.wait_for(lambda m: m.topic == topic and m.data["active"]
                     and m.data["owner_name"] == "group 2", what="the robot driven by labctl")
        sub.wait_for(lambda m: m.topic == topic and not m.data["active"]
                     and m.data["owner"] is None, what="the robot stopped and released")
        rc, out, err, _ = labctl("robot", "drive", rid, "fast", "0")
        self.assertEqual(rc, 2)
        rc, out, err, _ = labctl("robot", "drive", rid, "3", "0")
        self.assertEqual(rc, 1)
        self.assertIn("invalid_params", err)
        # someone else's robot
        c.call("lease.acquire", {"device": rid})
        rc, out, err, _ = labctl("robot", "stop", rid)
        self.assertEqual(rc, 1)
        self.assertIn("leased", err)


class FirmataRobotServiceTest(RobotServiceCases, BridgeTest):
    FAMILY = "firmata"


class MbotRobotServiceTest(RobotServiceCases, BridgeTest):
    FAMILY = "mbot"

    def test_client_timeout_is_configurable(self):
        """[bridge] client_timeout_ms = 1500 (a Wi-Fi that pauses): the frozen owner keeps its
        robot until then (the last PING went at most 100 ms after the freeze)."""
        took = self.test_owner_network_vanishing_stops_the_robot(timeout_ms=1500)
        self.assertGreater(took, 1.35)



class MovingExtrasCases:
    """For a family whose extras can set the robot moving (MOTION_EXTRA: an action and its
    args, through device.call): only the lease holder's."""

    def test_moving_extras_need_the_lease(self):
        d, c = self.lab()
        rid = self.robot(c, self.FAMILY)
        action, args = self.MOTION_EXTRA
        call = {"device": rid, "action": action, "args": args}
        # a free robot: nobody holds it, so nobody's dead-man would stop it
        e = c.error("device.call", call)
        self.assertError(e, "leased", LEASED)
        self.assertIn("lease.acquire", e["message"])
        other = self.client(d)
        other.call("lease.acquire", {"device": rid})
        self.assertError(c.error("device.call", call), "leased", LEASED)
        other.call("lease.release", {"device": rid})
        c.call("lease.acquire", {"device": rid})
        c.call("device.call", call, timeout=20)



class MicroPythonRobotServiceTest(RobotServiceCases, MovingExtrasCases, BridgeTest):
    FAMILY = "micropython"
    MOTION_EXTRA = ("micropython.exec", {"code": "print(1)"})

    def test_program_as_a_binary_frame(self):
        """A program (one too large for a JSON request: 64 KiB) comes as the request's binary frame;
        a frame that is not UTF-8 text, too large, or given with a source is refused before it
        reaches the board; labctl robot run sends its file so."""
        d, c = self.lab()
        rid = self.robot(c, self.FAMILY)
        console = "robot/%s/console/" % rid
        sub = self.subscriber(d, [console, "robot/%s/state/" % rid])
        c.call("lease.acquire", {"device": rid})
        load = {"device": rid, "language": "micropython"}
        # the same path for any size (a large one takes the emulated link's time: 11.5 kB/s)
        src = ("# padding\n" * 200 + "print('frame', 6 * 7)\n").encode()
        # in the JSON it is too large (the reply cannot carry the unread id)
        c.send("robot.program.load", dict(load, source="x" * 70000))
        r = c.recv_json()
        self.assertEqual(r["error"]["name"], "too_large", r)
        self.assertIn("binary frame", r["error"]["message"])
        c.call("robot.program.load", load, timeout=60, frames=[src])
        c.call("robot.program.run", {"device": rid})
        text = []  # the output comes in pieces, as the board prints it

        def has_output(m):
            if m.topic == console:
                text.append(m.data.get("text", ""))
            return "frame 42" in "".join(text)
        sub.wait_for(has_output, timeout=30, what="the program's output")
        for frame, params, name in ((b"print('\xff')", load, "invalid_params"),
                                    (b"print(1)", dict(load, source="print(2)"),
                                     "invalid_params"),
                                    (b"#" * (256 * 1024 + 1), load, "too_large")):
            e = c.error("robot.program.load", params, frames=[frame])
            self.assertEqual(e["name"], name, e)
        # labctl robot run: the file as a frame, its output printed, exit 0 when it ends
        path = os.path.join(self.tmp, "hello.py")
        with open(path, "w") as f:
            f.write("# a classroom program\n" * 100 + "print('hello from labctl')\n")
        c.call("lease.release", {"device": rid})
        rc, out, err, _ = run_program([labctl_path(), "--pub", d.pub, "--rpc", d.rpc,
                                       "--timeout-ms", "60000", "robot", "run", rid, path],
                                      120, env=san_env())
        self.assertEqual(rc, 0, out + err)
        self.assertIn("hello from labctl", out)
