"""Firmata robots through the real driver: an Arduino running StandardFirmata whose pins a
[firmata.NAME] section maps to wheels (continuous-rotation servos, or a motor driver board's PWM
and direction pins) and outputs. The simulated lab's robot (a second emulated Uno, servo wheels
on D9/D10, led on D13, buzzer on D8) and the standalone emulator with a config: kind "robot",
its description, the emulator's pin states after each move/stop/set, bad mappings refused with
the config line, the room stop (wheels still, outputs off, moves refused), an unplug."""
import json
import os
import subprocess

from lbtest import BridgeTest, make_conf, program, wait_until
from test_firmata_avr import HEX, Uno

DEV = "firmata-sim-robot-1"
SERVO, OUTPUT, PWM = "servo", "output", "pwm"
INVALID, ROOM_STOPPED, NOT_SUPPORTED, DEVICE = -32602, 1009, 1005, 1004


def conf(raw=""):
    return make_conf({}, bridge={"emulate": "firmata"},
                     raw="[sim.idle]\nrate = 1\nautostart = 0\n" + raw)


def pins(c):
    """The simulated robot's board as a voltmeter (and the firmware's pin states) shows it."""
    return c.call("firmata.emulator", {"probe": True, "board": "robot"})["pins"]


def devices(c, all=False):
    return {d["id"]: d for d in c.call("devices.list", {"all": True} if all else None)}


class Emu:
    """The standalone emulated Uno (build/asan/firmata-emu): its pty and its pins' states."""

    def __init__(self, test, version="2.5"):
        self.proc = subprocess.Popen([program("LB_FIRMATA_EMU", "build/asan/firmata-emu"),
                                      version], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)
        test.addCleanup(self.proc.wait, 10)
        test.addCleanup(self.proc.stdin.close)
        self.path = self.proc.stdout.readline().split()[1]

    def states(self):
        """{"D5": (mode, state), ...}: modes as numbers, states as Firmata keeps them."""
        self.proc.stdin.write("states\n")
        self.proc.stdin.flush()
        f = self.proc.stdout.readline().split()
        return {f[i]: (int(f[i + 1]), int(f[i + 2])) for i in range(0, len(f), 3)}


class FirmataRobotTest(BridgeTest):

    def robot(self, c):
        return wait_until(lambda: devices(c).get(DEV), timeout=15,
                          what="the simulated Firmata robot")

    def test_simulated_robot_described(self):
        """The simulated lab's robot: kind robot, its description, its sensors as robot/ streams,
        its servos attached and still, its pins not writable as plain pins."""
        d = self.start_bridge(conf())
        c = self.client(d)
        dev = self.robot(c)
        self.assertEqual((dev["kind"], dev["driver"]), ("robot", "firmata"))
        self.assertEqual(devices(c)["firmata-sim-uno-1"]["kind"], "sensor")
        info = c.call("device.info", {"device": DEV})
        self.assertEqual(info["robot"], {"languages": [], "outputs": ["led", "buzzer"],
                                         "wheels": True, "max_speed": 0.2, "wheel_base": 0.12,
                                         "extras": ["pin_state", "pin_mode", "digital_write"]})
        # the mapping's pins are no streams; the others are, under robot/
        names = [s["name"] for s in dev["streams"]]
        self.assertEqual(names, ["a%d" % i for i in range(6)] +
                         ["D%d" % i for i in (2, 3, 4, 5, 6, 7, 11, 12)])
        sub = self.subscriber(d, ["robot/%s/a0/" % DEV])
        m = sub.wait_for(lambda m: True, what="a0 samples of the robot")
        self.assertTrue(0 <= m.samples[0] <= 5)
        # SERVO_CONFIG then 90 degrees: still
        wait_until(lambda: (pins(c)["D9"]["mode"], pins(c)["D9"]["state"]) == (SERVO, 90) and
                   (pins(c)["D10"]["mode"], pins(c)["D10"]["state"]) == (SERVO, 90),
                   what="both servos attached at 90 degrees")
        self.assertEqual((pins(c)["D13"]["mode"], pins(c)["D13"]["level"]), (OUTPUT, 0))
        # the board's own answer, through the driver
        self.assertEqual(c.call("device.call", {"device": DEV, "action": "pin_state",
                                                "args": {"pin": "D9"}}),
                         {"pin": "D9", "mode": "servo", "mode_number": 4, "state": 90})
        e = c.error("device.call", {"device": DEV, "action": "digital_write",
                                    "args": {"pin": 13, "value": 1}})
        self.assertIn("D13 is the robot's output led", e["message"])
        e = c.error("device.call", {"device": DEV, "action": "pin_mode",
                                    "args": {"pin": 9, "mode": "output"}})
        self.assertIn("D9 is the robot's left wheel", e["message"])
        # the robot's actions are the robot service's only
        e = c.error("device.call", {"device": DEV, "action": "robot.move",
                                    "args": {"left": 1, "right": 1}})
        self.assertNotEqual(e["code"], 0)
        self.assertEqual(pins(c)["D9"]["state"], 90)

    def lab(self):
        d = self.start_bridge(conf())
        c = self.client(d)
        self.robot(c)
        wait_until(lambda: DEV in {r["device"] for r in c.call("robot.list")},
                   what="the robot service knowing the robot")
        c.call("lease.acquire", {"device": DEV})
        return d, c

    def wheels(self, c):
        p = pins(c)
        return p["D9"]["state"], p["D10"]["state"]

    def test_move_stop_set(self):
        """robot.move reaches the servos as angles (the right one mounted reversed), robot.stop
        puts them back at 90, robot.set switches the outputs; the state follows."""
        d, c = self.lab()
        sub = self.subscriber(d, ["robot/%s/state/" % DEV])
        info = c.call("robot.info", {"device": DEV})
        self.assertEqual(info["robot"]["outputs"], ["led", "buzzer"])
        self.assertIn("robot.move", info["requests"])
        self.assertIn("robot.set", info["requests"])
        c.call("robot.move", {"device": DEV, "left": 0.5, "right": 0.5})
        wait_until(lambda: self.wheels(c) == (135, 45), what="D9 at 135, D10 at 45")
        sub.wait_for(lambda m: m.data["state"] == "running", what="state running")
        c.call("robot.move", {"device": DEV, "left": -1, "right": 0.25})
        wait_until(lambda: self.wheels(c) == (0, 68), what="D9 at 0, D10 at 68")
        # in m/s and rad/s: max_speed 0.2, wheel_base 0.12
        c.call("robot.move", {"device": DEV, "linear": 0.1, "angular": 1.0})
        wait_until(lambda: self.wheels(c) == (108, 18), what="D9 at 108, D10 at 18")
        c.call("robot.stop", {"device": DEV})
        wait_until(lambda: self.wheels(c) == (90, 90), what="both servos still")
        sub.wait_for(lambda m: m.data["state"] == "idle", what="state idle")
        robot = c.call("device.info", {"device": DEV})["config"]["robot"]
        self.assertEqual((robot["wheels"], robot["pins"], robot["speed"], robot["written"]),
                         ("servo", [9, 10], [0, 0], [90, 90]))
        self.assertEqual(pins(c)["D9"]["mode"], SERVO)
        # outputs
        c.call("robot.set", {"device": DEV, "led": True})
        wait_until(lambda: pins(c)["D13"]["level"] == 1, what="the led on")
        self.assertEqual(pins(c)["D8"]["level"], 0)
        c.call("robot.set", {"device": DEV, "buzzer": 1, "led": False})
        wait_until(lambda: (pins(c)["D8"]["level"], pins(c)["D13"]["level"]) == (1, 0),
                   what="the buzzer on, the led off")
        self.assertError(c.error("robot.set", {"device": DEV, "horn": True}), "invalid_params",
                         INVALID)
        e = c.error("robot.program.load", {"device": DEV, "language": "micropython",
                                           "source": "print(1)"})
        self.assertIn(e["code"], (NOT_SUPPORTED, INVALID))
        self.assertError(c.error("robot.move", {"device": DEV, "left": "fast", "right": 0}),
                         "invalid_params", INVALID)
        self.assertEqual(self.wheels(c), (90, 90))

    def test_room_stop_latches(self):
        """room.stop: wheels still and outputs off on the board at once, the robot "stopped",
        moves and sets refused until the release; the sensors keep streaming."""
        d, c = self.lab()
        c.call("robot.move", {"device": DEV, "left": 1, "right": 1})
        c.call("robot.set", {"device": DEV, "led": True, "buzzer": True})
        wait_until(lambda: self.wheels(c) == (180, 0) and pins(c)["D13"]["level"] == 1 and
                   pins(c)["D8"]["level"] == 1, what="moving, led and buzzer on")
        sub = self.subscriber(d, ["robot/%s/" % DEV])
        self.assertIn(DEV, c.call("room.stop", {"reason": "test"})["halted"])
        wait_until(lambda: self.wheels(c) == (90, 90) and pins(c)["D13"]["level"] == 0 and
                   pins(c)["D8"]["level"] == 0, what="wheels still, outputs off")
        sub.wait_for(lambda m: m.topic.endswith("/state/") and m.data["state"] == "stopped",
                     what="state stopped")
        for method, params in (("robot.move", {"left": 0.2, "right": 0.2}),
                               ("robot.set", {"led": True})):
            params["device"] = DEV
            self.assertError(c.error(method, params), "room_stopped", ROOM_STOPPED)
        self.assertEqual(self.wheels(c), (90, 90))
        # its sensors still stream
        sub.wait_for(lambda m: m.topic == "robot/%s/a0/" % DEV, what="a0 after the stop")
        # plugged in again meanwhile: it opens still (reset, servos at 90), moves refused
        c.call("firmata.emulator", {"board": "robot", "fault": "unplug"})
        wait_until(lambda: DEV not in devices(c), what="the robot unplugged")
        c.call("firmata.emulator", {"board": "robot", "fault": "plug"})
        wait_until(lambda: DEV in {r["device"] for r in c.call("robot.list")}, timeout=20,
                   what="the robot back")
        # and halted as it appeared, as a robot plugged in during the stop is
        wait_until(lambda: c.call("robot.info", {"device": DEV})["state"] == "stopped",
                   what="the replugged robot halted")
        c.call("lease.acquire", {"device": DEV})
        self.assertError(c.error("robot.move", {"device": DEV, "left": 0.2, "right": 0.2}),
                         "room_stopped", ROOM_STOPPED)
        self.assertEqual(self.wheels(c), (90, 90))
        c.call("room.release")
        c.call("robot.move", {"device": DEV, "left": 0.5, "right": 0.5})
        wait_until(lambda: self.wheels(c) == (135, 45), what="moving again after the release")

    def test_halt_reaches_a_board_whose_thread_waits(self):
        """The room stop while the board's thread waits for an answer the board holds back (a
        pin state query, up to 1 s): the halt hook's bytes stop the wheels and switch the led
        off before that wait ends; the query then fails, the thread finishes the stop."""
        d, c = self.lab()
        c.call("robot.move", {"device": DEV, "left": 1, "right": 1})
        c.call("robot.set", {"device": DEV, "led": True})
        wait_until(lambda: self.wheels(c) == (180, 0) and pins(c)["D13"]["level"] == 1,
                   what="moving, led on")
        c.call("firmata.emulator", {"board": "robot", "burst_ms": 2000})
        rid = c.send("device.call", {"device": DEV, "action": "pin_state",
                                     "args": {"pin": 9}})
        self.assertIn(DEV, c.call("room.stop", {"reason": "busy board"})["halted"])
        wait_until(lambda: self.wheels(c) == (90, 90) and pins(c)["D13"]["level"] == 0,
                   what="wheels still and led off")
        # (replies that came meanwhile are stashed by the client)
        self.assertNotIn(json.dumps(rid), c.stash, "the stop came before the thread's wait")
        self.assertEqual(c.sock.poll(0), 0, "the stop came before the thread's wait ended")
        r = c.reply_for(rid, timeout=10)
        self.assertEqual(r.get("error", {}).get("code"), 1006, r)
        c.call("firmata.emulator", {"board": "robot", "burst_ms": 0})
        wait_until(lambda: c.call("robot.info", {"device": DEV})["state"] == "stopped",
                   what="the robot stopped")

    def test_owner_vanishing_stops_the_wheels(self):
        """The dead-man: the lease holder's connection closes, the servos go back to 90."""
        d, c = self.lab()
        c.call("lease.release", {"device": DEV})
        owner = self.client(d)
        owner.call("lease.acquire", {"device": DEV})
        owner.call("robot.move", {"device": DEV, "left": 0.5, "right": -0.5})
        wait_until(lambda: self.wheels(c) == (135, 135), what="turning on the spot")
        owner.close()
        wait_until(lambda: self.wheels(c) == (90, 90), what="still once the owner is gone")

    def test_unplug_mid_command(self):
        """The board stops answering while a pin state query waits, then is unplugged: the
        query ends with an error in bounded time, the robot is gone, nothing hangs; plugged
        back, it is a robot again, still."""
        d, c = self.lab()
        c.call("robot.move", {"device": DEV, "left": 0.5, "right": 0.5})
        c.call("firmata.emulator", {"fault": "silent", "board": "robot"})
        rid = c.send("device.call", {"device": DEV, "action": "pin_state", "args": {"pin": 9}})
        c.call("firmata.emulator", {"fault": "unplug", "board": "robot"})
        r = c.reply_for(rid, timeout=10)
        self.assertIn("error", r)
        wait_until(lambda: DEV not in devices(c), timeout=10, what="the robot gone")
        self.assertNotIn(DEV, {x["device"] for x in c.call("robot.list")})
        e = c.error("robot.move", {"device": DEV, "left": 0.5, "right": 0.5})
        self.assertNotEqual(e["code"], 0)
        c.call("firmata.emulator", {"fault": "plug", "board": "robot"})
        wait_until(lambda: (devices(c).get(DEV) or {}).get("kind") == "robot", timeout=20,
                   what="the robot back")
        wait_until(lambda: self.wheels(c) == (90, 90), what="back, still")

    def test_pwm_wheels(self):
        """A motor driver board ([firmata.bot] robot = pwm-wheels on the standalone emulator):
        PWM duties and direction levels."""
        emu = Emu(self)
        raw = ("[firmata.bot]\nport = %s\nrobot = pwm-wheels\nleft = pwm:5,dir:4\n"
               "right = pwm:D6, dir:D7 reversed\noutputs = lamp:12\n" % emu.path)
        d = self.start_bridge(make_conf({}, raw="[sim.idle]\nrate = 1\nautostart = 0\n" + raw))
        c = self.client(d)
        wait_until(lambda: "firmata-bot" in {r["device"] for r in c.call("robot.list")},
                   timeout=15, what="the PWM robot")
        info = c.call("robot.info", {"device": "firmata-bot"})
        self.assertEqual(info["robot"]["outputs"], ["lamp"])
        self.assertNotIn("max_speed", info["robot"])
        c.call("lease.acquire", {"device": "firmata-bot"})
        wait_until(lambda: emu.states()["D5"] == (3, 0) and emu.states()["D6"] == (3, 0),
                   what="D5 and D6 in PWM mode at 0")
        c.call("robot.move", {"device": "firmata-bot", "left": 0.5, "right": -0.25})
        # left forward: dir 1, duty 128; right backward but reversed: dir 1, duty 64
        wait_until(lambda: (emu.states()["D5"], emu.states()["D4"], emu.states()["D6"],
                            emu.states()["D7"]) == ((3, 128), (1, 1), (3, 64), (1, 1)),
                   what="the duties and directions")
        c.call("robot.move", {"device": "firmata-bot", "left": -1, "right": 0})
        wait_until(lambda: (emu.states()["D5"], emu.states()["D4"], emu.states()["D6"],
                            emu.states()["D7"]) == ((3, 255), (1, 0), (3, 0), (1, 0)),
                   what="left full backward, right still")
        # linear/angular needs the geometry this robot's config does not give
        self.assertNotEqual(c.error("robot.move", {"device": "firmata-bot", "linear": 0.1,
                                                   "angular": 0})["code"], 0)
        c.call("robot.set", {"device": "firmata-bot", "lamp": True})
        wait_until(lambda: emu.states()["D12"] == (1, 1), what="the lamp on")
        c.call("room.stop")
        wait_until(lambda: (emu.states()["D5"], emu.states()["D12"]) == ((3, 0), (1, 0)),
                   what="duty 0 and the lamp off after the room stop")
        c.call("room.release")
        # the bridge stopping leaves no robot driving on
        c.call("robot.move", {"device": "firmata-bot", "left": 1, "right": 1})
        wait_until(lambda: emu.states()["D5"] == (3, 255), what="full speed")
        d.stop()
        self.assertEqual((emu.states()["D5"], emu.states()["D6"]), ((3, 0), (3, 0)))

    def test_bad_mappings(self):
        """A mapping that cannot be (a key not understood) is absent with its line; one the board
        cannot do (no PWM on D4) fails to open with the line and the board's capabilities."""
        emu = Emu(self)
        raw = ("[firmata.bot]\nport = %s\nrobot = pwm-wheels\nleft = pwm:4,dir:2\n"
               "right = pwm:6,dir:7\n"
               "[firmata.typo]\nport = %s\nrobot = servo-wheels\nleft = wheel:9\n"
               "right = servo:10\n" % (emu.path, emu.path))
        text = conf(raw)
        lines = text.splitlines()
        # the lines of the two faulty entries, wherever make_conf puts the raw text
        typo_line = lines.index("left = wheel:9") + 1
        bot_line = lines.index("left = pwm:4,dir:2") + 1
        d = self.start_bridge(text)
        c = self.client(d)
        typo = wait_until(lambda: devices(c, all=True).get("firmata-typo"),
                          what="[firmata.typo] listed")
        self.assertEqual((typo["state"], typo["kind"]), ("absent", "robot"))
        self.assertRegex(typo["reason"], r"\.conf:%d: 'wheel:9' is not understood in 'wheel:9': " % typo_line +
                         r"write servo:PIN \[reversed\] or pwm:PIN,dir:PIN \[reversed\]")
        bot = wait_until(lambda: (devices(c, all=True).get("firmata-bot") or {}).get("state") ==
                         "failed" and devices(c, all=True)["firmata-bot"], timeout=15,
                         what="[firmata.bot] failing to open")
        self.assertRegex(bot["reason"], r"\.conf:%d: \[firmata.bot\] left: D4 \(the left wheel's PWM\) " % bot_line +
                         r"cannot be a PWM pin on this board \(its capabilities: output, SERVO\)")
        self.assertEqual(bot["kind"], "robot")
        self.assertIn("cannot be a PWM pin", d.stderr())


class RealFirmataRobotTest(BridgeTest):
    """The mapping against the genuine StandardFirmata (the prebuilt 2.4 image of
    test_firmata_avr) on a simulated ATmega328P: its capabilities accept the servos, its own pin
    state query answers the angles written, the halt reaches its pins."""
    TEST_TIMEOUT = 120
    DEV = "firmata-bot"

    def state(self, c, pin):
        return c.call("device.call", {"device": self.DEV, "action": "pin_state",
                                      "args": {"pin": pin}})

    def start_uno(self):
        if not os.path.exists(HEX):
            self.fail("%s is missing: make build/firmware/StandardFirmata-uno.hex (needs npm)"
                      % HEX)
        uno = Uno(HEX)
        self.addCleanup(uno.stop)
        uno.wait_booted()
        raw = ("[sim.idle]\nrate = 1\nautostart = 0\n[firmata.bot]\nport = %s\n"
               "robot = servo-wheels\nleft = servo:9\nright = servo:10 reversed\n"
               "outputs = led:13\n" % uno.path)
        d = self.start_bridge(make_conf({}, raw=raw))
        c = self.client(d)
        dev = wait_until(lambda: devices(c).get(self.DEV), timeout=15,
                         what="the StandardFirmata robot")
        self.assertEqual((dev["kind"], dev["config"]["protocol"]), ("robot", "2.4"))
        return uno, d, c

    def test_servos_attached_on_the_real_firmware(self):
        uno, d, c = self.start_uno()
        # SERVO_CONFIG put both pins in SERVO mode, then 90 degrees: the firmware says so
        self.assertEqual(self.state(c, "D9"), {"pin": "D9", "mode": "servo", "mode_number": 4,
                                                 "state": 90})
        self.assertEqual(self.state(c, 10)["state"], 90)
        self.assertEqual(self.state(c, 13)["mode"], "output")
        # the servo's pulses come out of D9 (the AVR's pin toggles)
        uno.wait_pin("D9 1")
        uno.wait_pin("D9 0")
        # moves and outputs through the robot service reach the firmware
        wait_until(lambda: self.DEV in {r["device"] for r in c.call("robot.list")},
                   what="the robot service knowing it")
        c.call("lease.acquire", {"device": self.DEV})
        c.call("robot.move", {"device": self.DEV, "left": 0.5, "right": 0.5})
        self.assertEqual((self.state(c, 9)["state"], self.state(c, 10)["state"]), (135, 45))
        c.call("robot.set", {"device": self.DEV, "led": True})
        uno.wait_pin("D13 1")
        # the room stop: the precomputed bytes, then the thread's: servos at 90, the led off
        c.call("room.stop", {"reason": "real firmware"})
        uno.wait_pin("D13 0")
        wait_until(lambda: (self.state(c, 9)["state"], self.state(c, 10)["state"]) == (90, 90),
                   what="both servos back at 90 on the firmware")
        self.assertEqual(c.error("robot.move", {"device": self.DEV, "left": 1,
                                                "right": 1})["code"], ROOM_STOPPED)
        self.assertEqual(self.state(c, 9)["state"], 90)
        c.call("room.release")


if __name__ == "__main__":
    import unittest
    unittest.main()
