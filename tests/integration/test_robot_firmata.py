"""Firmata robots through the real driver: an Arduino running StandardFirmata whose pins a
[firmata.NAME] section maps to wheels (continuous-rotation servos, or a motor driver board's PWM
and direction pins) and outputs. The simulated lab's robot (a second emulated Uno, servo wheels
on D9/D10, led on D13, buzzer on D8) and the standalone emulator with a config: kind "robot",
its description, the emulator's pin states after each move/stop/set, bad mappings refused with
the config line, the room stop (wheels still, outputs off, moves refused), an unplug."""
import os
import subprocess

from lbtest import BridgeTest, make_conf, program, wait_until
from test_firmata_avr import HEX, Uno

DEV = "firmata-sim-robot-1"
SERVO, OUTPUT, PWM = "servo", "output", "pwm"
ROOM_STOPPED = 1009


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

    def test_bad_mappings(self):
        """A mapping that cannot be (a key not understood) is absent with its line; one the board
        cannot do (no PWM on D4) fails to open with the line and the board's capabilities."""
        emu = Emu(self)
        raw = ("[firmata.bot]\nport = %s\nrobot = pwm-wheels\nleft = pwm:4,dir:2\n"
               "right = pwm:6,dir:7\n"
               "[firmata.typo]\nport = %s\nrobot = servo-wheels\nleft = wheel:9\n"
               "right = servo:10\n" % (emu.path, emu.path))
        d = self.start_bridge(conf(raw))
        c = self.client(d)
        typo = wait_until(lambda: devices(c, all=True).get("firmata-typo"),
                          what="[firmata.typo] listed")
        self.assertEqual((typo["state"], typo["kind"]), ("absent", "robot"))
        self.assertRegex(typo["reason"], r"\.conf:18: 'wheel:9' is not understood in 'wheel:9': "
                         r"write servo:PIN \[reversed\] or pwm:PIN,dir:PIN \[reversed\]")
        bot = wait_until(lambda: (devices(c, all=True).get("firmata-bot") or {}).get("state") ==
                         "failed" and devices(c, all=True)["firmata-bot"], timeout=15,
                         what="[firmata.bot] failing to open")
        self.assertRegex(bot["reason"], r"\.conf:13: \[firmata.bot\] left: D4 \(the left wheel's PWM\) "
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
        self.assertEqual((dev["kind"], dev["config"]["firmware"]),
                         ("robot", "StandardFirmata.ino"))
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


if __name__ == "__main__":
    import unittest
    unittest.main()
