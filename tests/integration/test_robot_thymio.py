"""Thymio II through the real driver and the robot service: the simulated lab's Thymio (Debian's
Aseba VM on a pseudo-terminal) and, when Debian's asebaplayground runs here, the Playground's
simulated Thymio over TCP (a third-party Aseba node). Description read, programs compiled in the
bridge against the robot's own description, uploaded and run, the robot's variables changing as
the program says, user events both ways, compile and VM errors, noise on the line, unplug
mid-upload, the room stop."""
import os
import shutil
import socket
import struct
import subprocess
import threading

from lbtest import BridgeTest, make_conf, program, wait_until
from test_robots import MovingExtrasCases, RobotServiceCases

DEV = "thymio-sim-thymio-1"
PROGRAM_ERROR, ROOM_STOPPED, INVALID = 1010, 1009, -32602

PING_PONG = """\
var total = 0
onevent ping
  total = total + event.args[0]
  emit pong [total, event.args[0]]
"""
EVENTS = [{"name": "ping", "size": 1}, {"name": "pong", "size": 2}]

DRIVE = """\
# drive forward, top LED purple, count the proximity events
var n = 0
motor.left.target = 150
motor.right.target = 150
call leds.top(32, 0, 16)
onevent prox
  n = n + 1
  motor.left.target = 150 + n - n
"""


def conf(**bridge):
    b = {"emulate": "thymio", "request_timeout_ms": 5000}
    b.update(bridge)
    return make_conf({}, bridge=b, raw="[thymio]\nevents = pong\n")


class ThymioRobotServiceTest(RobotServiceCases, MovingExtrasCases, BridgeTest):
    """The robot service's cases for every family (test_robots.py), on the emulated Thymio."""
    FAMILY = "thymio"
    MOTION_EXTRA = ("aseba.set", {"name": "motor.left.target", "values": [0]})


class ThymioTest(BridgeTest):

    def lab(self):
        d = self.start_bridge(conf())
        c = self.client(d)
        wait_until(lambda: DEV in [r["device"] for r in c.call("robot.list")], timeout=15,
                   what="the emulated Thymio")
        return d, c

    def get(self, c, name):
        return c.call("device.call", {"device": DEV, "action": "aseba.get",
                                      "args": {"name": name}})["values"]

    def probe(self, c):
        return c.call("thymio.emulator", {"probe": True})

    def test_description_and_streams(self):
        d, c = self.lab()
        info = c.call("robot.info", {"device": DEV})
        robot = info["robot"]
        self.assertEqual(robot["languages"], ["aseba", "aseba-bytecode"])
        self.assertEqual(robot["outputs"], ["leds"])
        self.assertTrue(robot["wheels"])
        self.assertAlmostEqual(robot["max_speed"], 0.2)
        self.assertAlmostEqual(robot["wheel_base"], 0.095)
        self.assertIn("aseba.get", robot["extras"])
        desc = c.call("device.call", {"device": DEV, "action": "aseba.description", "args": {}})
        self.assertEqual(desc["name"], "thymio-II")
        self.assertEqual(desc["protocol"], 5)
        self.assertEqual(desc["node"], 48621)
        names = [v["name"] for v in desc["variables"]]
        for n in ("motor.left.target", "motor.right.target", "prox.horizontal",
                  "prox.ground.delta", "acc", "button.center", "leds.top"):
            self.assertIn(n, names)
        offsets = [v["offset"] for v in desc["variables"]]
        self.assertEqual(offsets, sorted(offsets), "variables in memory order")
        self.assertIn("leds.top", [n["name"] for n in desc["natives"]])
        self.assertIn("prox", [e["name"] for e in desc["local_events"]])
        sub = self.subscriber(d, ["robot/%s/prox.2/" % DEV, "robot/%s/acc.z/" % DEV])
        m = sub.wait_for(lambda m: m.topic.endswith("acc.z/") and m.samples,
                         what="an acc.z sample")
        self.assertAlmostEqual(m.samples[0], 22 * 9.81 / 23, places=3)  # flat: the emulator's 22
        sub.wait_for(lambda m: m.topic.endswith("prox.2/") and m.samples,
                     what="a prox.2 sample")
        dev = {x["id"]: x for x in c.call("devices.list")}[DEV]
        streams = [s["name"] for s in dev["streams"]]
        self.assertIn("event/pong", streams)
        self.assertIn("console", streams)

    def test_program_runs_and_changes_variables(self):
        d, c = self.lab()
        sub = self.subscriber(d, ["robot/%s/state/" % DEV])
        c.call("lease.acquire", {"device": DEV})
        r = c.call("robot.program.load", {"device": DEV, "language": "aseba", "source": DRIVE})
        self.assertGreater(r["words"], 10)
        self.assertEqual(self.get(c, "motor.left.target"), [0], "loaded, not run")
        c.call("robot.program.run", {"device": DEV})
        sub.wait_for(lambda m: m.data["state"] == "running", what="running")
        wait_until(lambda: self.get(c, "motor.left.target") == [150], what="the motors set")
        self.assertEqual(self.get(c, "motor.right.target"), [150])
        self.assertEqual(self.get(c, "leds.top"), [32, 0, 16])
        self.assertEqual(self.probe(c)["leds_top"], [32, 0, 16])
        # the robot's speed follows its target (the emulator's motors)
        wait_until(lambda: self.get(c, "motor.left.speed")[0] > 100, what="wheels turning")
        c.call("robot.program.stop", {"device": DEV})
        self.assertEqual(self.get(c, "motor.left.target"), [0])
        self.assertFalse(self.probe(c)["running"])
        # bytecode given as words: the compiler's output, loaded again
        c.call("robot.move", {"device": DEV, "left": -1, "right": 0.5})
        self.assertEqual(self.get(c, "motor.left.target"), [-500])
        self.assertEqual(self.get(c, "motor.right.target"), [250])
        c.call("robot.set", {"device": DEV, "leds": {"top": [1, 2, 3]}})
        self.assertEqual(self.get(c, "leds.top"), [1, 2, 3])  # after the write, in order
        self.assertEqual(self.probe(c)["leds_top"], [1, 2, 3])
        self.assertError(c.error("robot.set", {"device": DEV, "leds": {"top": [1, 2, 99]}}),
                         "invalid_params", INVALID)
        c.call("robot.stop", {"device": DEV})
        self.assertEqual(self.get(c, "motor.right.target"), [0])
        self.assertEqual(self.probe(c)["motor_target"], [0, 0])

    def test_events_both_ways(self):
        d, c = self.lab()
        sub = self.subscriber(d, ["robot/%s/event" % DEV])
        c.call("lease.acquire", {"device": DEV})
        r = c.call("robot.program.load", {"device": DEV, "language": "aseba",
                                          "source": PING_PONG, "events": EVENTS})
        self.assertEqual(r["events"], EVENTS)
        c.call("robot.program.run", {"device": DEV})
        c.call("device.emit", {"device": DEV, "event": "aseba.emit",
                               "args": {"name": "ping", "args": [5]}})
        m = sub.wait_for(lambda m: m.topic == "robot/%s/event/" % DEV, what="pong")
        self.assertEqual(m.data, {"name": "pong", "args": [5, 5]})
        m = sub.wait_for(lambda m: m.topic == "robot/%s/event/pong/" % DEV, what="event/pong")
        self.assertEqual(m.data, {"args": [5, 5]})
        c.call("device.call", {"device": DEV, "action": "aseba.emit",
                               "args": {"name": "ping", "args": [-2]}})
        m = sub.wait_for(lambda m: m.topic == "robot/%s/event/" % DEV and m.data["args"][1] == -2,
                         what="the second pong")
        self.assertEqual(m.data["args"], [3, -2])
        e = c.error("device.call", {"device": DEV, "action": "aseba.emit",
                                    "args": {"name": "nope"}})
        self.assertError(e, "invalid_params", INVALID)
        # an undeclared event does not compile, and the running program keeps its names
        e = c.error("robot.program.load", {"device": DEV, "language": "aseba",
                                           "source": "onevent zap\n", "events": []})
        self.assertError(e, "program_error", PROGRAM_ERROR)
        c.call("device.call", {"device": DEV, "action": "aseba.emit",
                               "args": {"name": "ping", "args": [1]}})
        m = sub.wait_for(lambda m: m.topic == "robot/%s/event/" % DEV and m.data["args"][1] == 1,
                         what="the third pong")
        self.assertEqual(m.data, {"name": "pong", "args": [4, 1]})

    def test_compile_and_vm_errors(self):
        d, c = self.lab()
        sub = self.subscriber(d, ["robot/%s/console/" % DEV, "robot/%s/state/" % DEV])
        c.call("lease.acquire", {"device": DEV})
        e = c.error("robot.program.load", {"device": DEV, "language": "aseba",
                                           "source": "var a\na = = 1\n"})
        self.assertError(e, "program_error", PROGRAM_ERROR)
        self.assertRegex(e["message"], r"^line 2, column 5: ")
        m = sub.wait_for(lambda m: m.topic.endswith("console/"), what="the compile error")
        self.assertEqual(m.data["stream"], "compile")
        self.assertEqual(m.data["text"], e["message"])
        e = c.error("robot.program.load", {"device": DEV, "language": "aseba-bytecode",
                                           "bytecode": [1, 70000]})
        self.assertError(e, "invalid_params", INVALID)
        # out of bounds at run time: the VM stops, the state says why
        c.call("robot.program.load", {"device": DEV, "language": "aseba",
                                      "source": "var a[3]\nvar i = 7\na[i] = 1\n"})
        c.call("robot.program.run", {"device": DEV})
        m = sub.wait_for(lambda m: m.topic.endswith("state/") and m.data["state"] == "error",
                         what="the VM error")
        self.assertIn("out of bounds", m.data["detail"])
        m = sub.wait_for(lambda m: m.topic.endswith("console/") and m.data["stream"] == "stderr",
                         what="the error on the console")
        self.assertIn("index 7, size 3", m.data["text"])

    def test_noise_on_the_line(self):
        d, c = self.lab()
        c.call("thymio.emulator", {"fault": "garbage"})
        for _ in range(5):  # every answer found among the noise
            self.assertEqual(len(self.get(c, "prox.horizontal")), 7)
        c.call("thymio.emulator", {"fault": "ok"})
        self.assertEqual(self.get(c, "acc"), [0, 0, 22])
        self.assertIn("noise on the line dropped", d.log())

    def test_unplug_mid_upload(self):
        d, c = self.lab()
        sub = self.subscriber(d, ["robot/%s/state/" % DEV])
        c.call("lease.acquire", {"device": DEV})
        big = "var x = 0\n" + "".join("x = x + %d\n" % i for i in range(300))
        rid = c.send("robot.program.load", {"device": DEV, "language": "aseba", "source": big})
        c.call("thymio.emulator", {"fault": "unplug"})
        r = c.reply_for(rid, timeout=10)  # an answer, whatever it is: nothing hangs
        self.assertTrue("result" in r or "error" in r, r)
        sub.wait_for(lambda m: m.data["state"] == "gone", timeout=15, what="the robot gone")
        wait_until(lambda: DEV not in [r["device"] for r in c.call("robot.list")], timeout=15,
                   what="the robot removed")
        c.call("thymio.emulator", {"fault": "plug"})
        wait_until(lambda: DEV in [r["device"] for r in c.call("robot.list")], timeout=20,
                   what="the robot back")
        c.call("lease.acquire", {"device": DEV})
        c.call("robot.move", {"device": DEV, "left": 0.2, "right": 0.2})
        self.assertEqual(self.get(c, "motor.left.target"), [100])

    def test_room_stop_halts_the_program(self):
        d, c = self.lab()
        sub = self.subscriber(d, ["robot/%s/state/" % DEV])
        c.call("lease.acquire", {"device": DEV})
        c.call("robot.program.load", {"device": DEV, "language": "aseba", "source":
                                      "onevent motor\nmotor.left.target = 300\n"
                                      "motor.right.target = 300\n"})
        c.call("robot.program.run", {"device": DEV})
        wait_until(lambda: self.probe(c)["motor_target"] == [300, 300], what="driving")
        c.call("room.stop", {"reason": "robot off the table"})
        sub.wait_for(lambda m: m.data["state"] == "stopped", what="stopped")
        wait_until(lambda: self.probe(c)["motor_target"] == [0, 0], what="the motors off")
        p = self.probe(c)
        self.assertFalse(p["running"], "the program stopped too (it would set 300 again)")
        e = c.error("robot.move", {"device": DEV, "left": 0.1, "right": 0.1})
        self.assertError(e, "room_stopped", ROOM_STOPPED)
        e = c.error("robot.program.run", {"device": DEV})
        self.assertError(e, "room_stopped", ROOM_STOPPED)
        self.assertEqual(self.get(c, "motor.left.target"), [0])
        c.call("room.release")
        c.call("robot.move", {"device": DEV, "left": 0.1, "right": 0.1})
        self.assertEqual(self.get(c, "motor.left.target"), [50])


    def test_dead_man_stops_the_motors(self):
        d, c = self.lab()
        owner = self.client(d)
        owner.call("lease.acquire", {"device": DEV})
        owner.call("robot.program.load", {"device": DEV, "language": "aseba", "source":
                                          "onevent motor\nmotor.left.target = 222\n"})
        owner.call("robot.program.run", {"device": DEV})
        wait_until(lambda: self.probe(c)["motor_target"][0] == 222, what="driving")
        owner.close()  # the group's program ends: its lease ends, the robot stops
        wait_until(lambda: self.probe(c)["motor_target"] == [0, 0] and
                   not self.probe(c)["running"], what="the motors off, the program stopped")

    def test_silent_robot_is_gone(self):
        d, c = self.lab()
        sub = self.subscriber(d, ["robot/%s/state/" % DEV])
        c.call("thymio.emulator", {"fault": "silent"})
        e = c.error("device.call", {"device": DEV, "action": "aseba.get",
                                    "args": {"name": "acc"}})
        self.assertError(e, "timeout", 1006)
        # its sensors are read at 10 Hz: 5 s without an answer and it is gone
        sub.wait_for(lambda m: m.data["state"] == "gone", timeout=15, what="the robot gone")

class FakeNode:
    """A TCP peer for the driver's handshake: silent, or an Aseba protocol 4 node (it answers
    GET_DESCRIPTION only, with a version 4 DESCRIPTION, as vm.c does for old hosts)."""

    def __init__(self, kind):
        self.kind = kind
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(8)
        self.srv.settimeout(0.2)
        self.port = self.srv.getsockname()[1]
        self.done = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        conns = []
        while not self.done:
            try:
                c, _ = self.srv.accept()
                c.settimeout(0.05)
                conns.append([c, b""])
            except socket.timeout:
                pass
            for entry in conns:
                try:
                    data = entry[0].recv(4096)
                except (socket.timeout, OSError):
                    continue
                entry[1] += data
                while len(entry[1]) >= 6:
                    n, src, t = struct.unpack("<HHH", entry[1][:6])
                    if len(entry[1]) < 6 + n:
                        break
                    entry[1] = entry[1][6 + n:]
                    if self.kind == "old" and t == 0xA000:
                        name = b"thymio-II"
                        pl = bytes([len(name)]) + name + struct.pack("<7H", 4, 1534, 32, 620,
                                                                      0, 0, 0)
                        try:
                            entry[0].sendall(struct.pack("<HHH", len(pl), 9, 0x9000) + pl)
                        except OSError:
                            pass
        for c, _ in conns:
            c.close()
        self.srv.close()

    def close(self):
        self.done = True
        self.thread.join(timeout=5)


class ThymioLinkTest(BridgeTest):
    """TCP targets: the emulator on TCP (link lost when it exits), and nodes the driver must
    refuse with what to do."""

    def failed_reason(self, c, dev):
        for x in c.call("devices.list", {"all": True}):
            if x["id"] == dev and x.get("state") == "failed":
                return x["reason"]
        return None

    def test_tcp_target_and_link_lost(self):
        emu = subprocess.Popen([program("LB_THYMIO_EMU", "build/asan/thymio-emu"), "--tcp", "0"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.addCleanup(lambda: emu.poll() is None and emu.kill())
        kind, target = emu.stdout.readline().split()
        self.assertEqual(kind, "target")
        d = self.start_bridge(make_conf({}, bridge={"request_timeout_ms": 5000},
                                        raw="[thymio.tcp]\ntarget = %s\n" % target))
        c = self.client(d)
        dev = "thymio-tcp"
        wait_until(lambda: dev in [r["device"] for r in c.call("robot.list")], timeout=15,
                   what="the TCP Thymio")
        c.call("lease.acquire", {"device": dev})
        c.call("robot.move", {"device": dev, "left": 0.5, "right": -0.5})
        def motors():
            emu.stdin.write("probe\n")
            emu.stdin.flush()
            return emu.stdout.readline().split()[5:7]
        wait_until(lambda: motors() == ["250", "-250"], what="the emulator's motor targets")
        sub = self.subscriber(d, ["robot/%s/state/" % dev])
        emu.stdin.close()  # the emulator exits: the connection closes
        emu.wait(timeout=10)
        sub.wait_for(lambda m: m.data["state"] == "gone", timeout=15, what="the robot gone")
        wait_until(lambda: dev not in [r["device"] for r in c.call("robot.list")], timeout=15,
                   what="the robot removed")

    def test_a_bridge_that_stops_stops_its_robots(self):
        emu = subprocess.Popen([program("LB_THYMIO_EMU", "build/asan/thymio-emu"), "--tcp", "0"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.addCleanup(lambda: emu.poll() is None and emu.kill())
        target = emu.stdout.readline().split()[1]
        d = self.start_bridge(make_conf({}, bridge={"request_timeout_ms": 5000},
                                        raw="[thymio.tcp]\ntarget = %s\n" % target))
        c = self.client(d)
        dev = "thymio-tcp"
        wait_until(lambda: dev in [r["device"] for r in c.call("robot.list")], timeout=15,
                   what="the TCP Thymio")
        c.call("lease.acquire", {"device": dev})
        c.call("robot.program.load", {"device": dev, "language": "aseba",
                                      "source": "onevent motor\nmotor.left.target = 321\n"})
        c.call("robot.program.run", {"device": dev})

        def probe():
            emu.stdin.write("probe\n")
            emu.stdin.flush()
            return emu.stdout.readline().split()
        wait_until(lambda: probe()[5] == "321", what="driving")
        self.assertEqual(d.stop(), 0)
        # the bridge wrote the stop before closing: the emulator has taken it by the time its
        # client is gone
        wait_until(lambda: (lambda p: (p[5], p[6], p[8]))(probe()) == ("0", "0", "0"),
                   what="motors off, program stopped")

    def test_silent_and_old_nodes_are_wrong_firmware(self):
        silent, old = FakeNode("silent"), FakeNode("old")
        self.addCleanup(silent.close)
        self.addCleanup(old.close)
        d = self.start_bridge(make_conf({}, raw=(
            "[thymio.silent]\ntarget = tcp:127.0.0.1;port=%d\n"
            "[thymio.old]\ntarget = tcp:host=127.0.0.1;port=%d\n" % (silent.port, old.port))))
        c = self.client(d)
        r = wait_until(lambda: self.failed_reason(c, "thymio-silent"), timeout=15,
                       what="the silent node refused")
        self.assertIn("no Aseba node answered", r)
        self.assertIn("Thymio Suite", r)
        r = wait_until(lambda: self.failed_reason(c, "thymio-old"), timeout=15,
                       what="the protocol 4 node refused")
        self.assertIn("protocol 4", r)
        self.assertIn("update the Thymio's firmware with Thymio Suite", r)
        self.assertIn("older than 5", r)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


SCENE = """<!DOCTYPE aseba-playground>
<aseba-playground>
  <color name="wall" r="0.9" g="0.9" b="0.9"/>
  <world w="110.4" h="110.4" color="wall"/>
  <robot type="thymio2" x="55" y="55" port="%d" angle="0" name="Thymio-1" nodeId="1"/>
</aseba-playground>
"""


class PlaygroundTest(BridgeTest):
    """Debian's asebaplayground (Enki) simulates a Thymio II behind a genuine Aseba VM and serves
    it on TCP: the driver's protocol against a node it did not write."""

    def setUp(self):
        super().setUp()
        if not shutil.which("asebaplayground"):
            self.skipTest("asebaplayground is not installed (Debian package aseba)")
        # Debian's Playground (1.6.99) crashes (SIGSEGV) or stops answering, more often than
        # not, when a second client connects after a first one left: the bridge must be its
        # first and only client, so readiness is its listening socket, seen in /proc/net/tcp
        # without connecting.
        self.port = free_port()
        scene = os.path.join(self.tmp, "scene.playground")
        with open(scene, "w") as f:
            f.write(SCENE % self.port)
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=self.tmp,
                   XDG_RUNTIME_DIR=self.tmp)
        self.pg = subprocess.Popen(["asebaplayground", scene], env=env, cwd=self.tmp,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(self.stop_playground)
        wait_until(self.listening, timeout=15, what="asebaplayground listening")

    def listening(self):
        if self.pg.poll() is not None:
            raise AssertionError("asebaplayground exited with %s" % self.pg.returncode)
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            try:
                with open(table) as f:
                    for line in f.readlines()[1:]:
                        local, state = line.split()[1], line.split()[3]
                        if state == "0A" and int(local.rsplit(":", 1)[1], 16) == self.port:
                            return True
            except OSError:
                continue
        return False

    def stop_playground(self):
        self.pg.kill()
        self.pg.wait(timeout=10)

    def test_playground_thymio(self):
        dev = "thymio-pg"
        d = self.start_bridge(make_conf({}, bridge={"request_timeout_ms": 5000}, raw=(
            "[thymio.pg]\ntarget = tcp:127.0.0.1;port=%d\n" % self.port)))
        c = self.client(d)
        wait_until(lambda: dev in [r["device"] for r in c.call("robot.list")], timeout=20,
                   what="the Playground's Thymio")
        desc = c.call("device.call", {"device": dev, "action": "aseba.description", "args": {}})
        self.assertEqual(desc["name"], "thymio-II")
        self.assertIn("leds.top", [n["name"] for n in desc["natives"]])
        info = c.call("robot.info", {"device": dev})
        self.assertEqual(info["robot"]["outputs"], [])  # its LEDs are natives only
        # its sensors stream, read from its own layout of variables
        sensors = self.subscriber(d, ["robot/%s/acc.z/" % dev, "robot/%s/prox.0/" % dev])
        sensors.wait_for(lambda m: m.topic.endswith("acc.z/") and m.samples, timeout=10,
                         what="the Playground Thymio's accelerometer")
        sensors.wait_for(lambda m: m.topic.endswith("prox.0/") and m.samples, timeout=10,
                         what="the Playground Thymio's proximity sensors")

        def get(name):
            return c.call("device.call", {"device": dev, "action": "aseba.get",
                                          "args": {"name": name}})["values"]
        c.call("lease.acquire", {"device": dev})
        sub = self.subscriber(d, ["robot/%s/event/" % dev])
        c.call("robot.program.load", {"device": dev, "language": "aseba", "events": EVENTS,
                                      "source": PING_PONG.replace(
                                          "onevent", "motor.left.target = 120\n"
                                          "motor.right.target = -120\n"
                                          "call leds.top(32, 0, 0)\nonevent")})
        c.call("robot.program.run", {"device": dev})
        wait_until(lambda: get("motor.left.target") == [120], what="the program's motors")
        self.assertEqual(get("motor.right.target"), [-120])
        c.call("device.emit", {"device": dev, "event": "aseba.emit",
                               "args": {"name": "ping", "args": [7]}})
        m = sub.wait_for(lambda m: True, what="pong from the Playground")
        self.assertEqual(m.data, {"name": "pong", "args": [7, 7]})
        c.call("robot.stop", {"device": dev})
        self.assertEqual(get("motor.left.target"), [0])
        self.assertEqual(get("motor.right.target"), [0])
