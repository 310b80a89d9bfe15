"""The mBot through the real driver and the robot service: the simulated lab's mCore emulator
(the mBlock firmware's protocol byte for byte) on a pseudo-terminal; sensors with units, move and
stop reaching its motors, LEDs and tone, noise and cut frames on the line, a port that is no
mBot, unplug in the middle of a command, the room stop."""
import os
import pty
import select
import threading

from lbtest import BridgeTest, make_conf, wait_until

DEV = "mbot-sim-mbot-1"


def conf(**bridge):
    b = {"emulate": "mbot"}
    b.update(bridge)
    return make_conf({}, bridge=b, raw="[sim.idle]\nrate = 1\nautostart = 0\n")


def probe(c):
    """What the emulated robot does and senses."""
    return c.call("mbot.emulator", {"probe": True})


def device(c, dev=DEV):
    return {d["id"]: d for d in c.call("devices.list")}.get(dev)


def state(c):
    """The robot's state as the robot service tells it."""
    return c.call("robot.info", {"device": DEV})["state"]


def link(c):
    """The driver's request counters."""
    return device(c)["config"]["link"]


class MbotTest(BridgeTest):

    def open_robot(self, d):
        c = self.client(d)
        wait_until(lambda: device(c), timeout=15, what="the emulated mBot")
        c.call("lease.acquire", {"device": DEV})
        return c

    def test_description_and_sensor_streams(self):
        d = self.start_bridge(conf())
        c = self.open_robot(d)
        dev = device(c)
        self.assertEqual(dev["driver"], "mbot")
        self.assertEqual(dev["kind"], "robot")
        self.assertEqual(dev["config"]["firmware"], "06.01.107")
        robot = dev["robot"]
        self.assertEqual(robot["languages"], [])
        self.assertEqual(robot["outputs"], ["leds", "tone"])
        self.assertTrue(robot["wheels"])
        self.assertGreater(robot["max_speed"], 0)
        self.assertGreater(robot["wheel_base"], 0)
        streams = {s["name"]: s for s in dev["streams"]}
        self.assertEqual(set(streams), {"ultrasonic", "line", "light", "button"})
        self.assertEqual((streams["ultrasonic"]["quantity"], streams["ultrasonic"]["unit"]),
                         ("distance", "cm"))
        c.call("mbot.emulator", {"world": {"distance_cm": 42.5, "line": 1, "button": True}})
        sub = self.subscriber(d, ["robot/%s/" % DEV])
        seen = {}

        def all_seen(m):
            name = m.topic.split("/")[2]
            if m.header.get("count"):
                seen[name] = m.samples[0]
            return (abs(seen.get("ultrasonic", 0) - 42.5) < 0.01 and seen.get("line") == 1
                    and seen.get("button") == 1 and "light" in seen)
        sub.wait_for(all_seen, timeout=10, what="every sensor with the world's values")
        self.assertTrue(450 <= seen["light"] <= 650, seen["light"])
        wait_until(lambda: link(c)["replies"] > 4, what="the replies counted")
        ln = link(c)
        self.assertEqual((ln["stray"], ln["garbage"], ln["bad_values"]), (0, 0, 0), ln)

    def test_move_and_stop_reach_the_motors(self):
        d = self.start_bridge(conf())
        c = self.open_robot(d)
        self.assertEqual(state(c), "idle")
        c.call("robot.move", {"device": DEV, "left": 1.0, "right": 0.5})
        wait_until(lambda: state(c) == "running", what="the state running")
        st = probe(c)
        # M1 is the left wheel, mirrored: forward is negative
        self.assertEqual((st["m1"], st["m2"]), (-255, 128))
        self.assertEqual(device(c)["config"]["motors"], [-255, 128])
        c.call("robot.move", {"device": DEV, "left": -0.2, "right": 0.2})
        self.assertEqual((probe(c)["m1"], probe(c)["m2"]), (51, 51))
        resets = probe(c)["resets"]
        c.call("robot.stop", {"device": DEV})
        st = probe(c)
        self.assertEqual((st["m1"], st["m2"]), (0, 0))
        self.assertEqual(st["resets"], resets + 1)
        wait_until(lambda: state(c) == "idle", what="the state idle")

    def test_a_lease_that_ends_stops_the_robot(self):
        d = self.start_bridge(conf())
        c = self.open_robot(d)
        c.call("robot.move", {"device": DEV, "left": 0.5, "right": 0.5})
        self.assertEqual(probe(c)["m2"], 128)
        c.call("lease.release", {"device": DEV})
        wait_until(lambda: probe(c)["m2"] == 0, what="the dead-man's stop")
        self.assertEqual(probe(c)["m1"], 0)

    def test_a_robot_that_goes_silent(self):
        d = self.start_bridge(conf())
        c = self.open_robot(d)
        sub = self.subscriber(d, ["robot/%s/ultrasonic/" % DEV])
        c.call("mbot.emulator", {"fault": "silent"})
        wait_until(lambda: state(c) == "error", timeout=10, what="the state error")
        self.assertIn("does not answer", c.call("robot.info", {"device": DEV})["detail"])
        # a move gets a typed error in bounded time, not a hang
        self.assertError(c.error("robot.move", {"device": DEV, "left": 0.2, "right": 0.2},
                                 timeout=10), "timeout", 1006)
        c.call("mbot.emulator", {"fault": "ok"})
        wait_until(lambda: state(c) == "idle", timeout=10, what="the state idle again")
        sub.drain()
        sub.wait_for(lambda m: m.header.get("count"), timeout=10, what="values again")
        self.assertGreater(link(c)["timeouts"], 0)

    def test_the_wall_comes_nearer(self):
        d = self.start_bridge(conf())
        c = self.open_robot(d)
        c.call("mbot.emulator", {"world": {"distance_cm": 300}})
        sub = self.subscriber(d, ["robot/%s/ultrasonic/" % DEV])
        sub.wait_for(lambda m: m.header.get("count") and m.samples[0] > 290, timeout=10,
                     what="the wall at 3 m")
        c.call("robot.move", {"device": DEV, "left": 1, "right": 1})
        sub.wait_for(lambda m: m.header.get("count") and m.samples[0] < 280, timeout=10,
                     what="the wall nearer as the robot drives to it")
        c.call("robot.stop", {"device": DEV})

    def test_leds_and_tone(self):
        d = self.start_bridge(conf())
        c = self.open_robot(d)
        c.call("robot.set", {"device": DEV, "leds": {"all": [1, 2, 3]}})
        self.assertEqual(probe(c)["leds"], [[1, 2, 3], [1, 2, 3]])
        c.call("robot.set", {"device": DEV, "leds": {"left": [255, 0, 0], "right": [0, 0, 9]}})
        # the factory firmware lights LED 2 to turn left, LED 1 to turn right
        self.assertEqual(probe(c)["leds"], [[0, 0, 9], [255, 0, 0]])
        c.call("robot.set", {"device": DEV, "tone": {"freq": 440, "ms": 300}})
        wait_until(lambda: probe(c)["tone"]["count"] == 1, what="the tone played")
        self.assertEqual(probe(c)["tone"], {"freq": 440, "ms": 300, "count": 1})
        # the robot is deaf while it plays; a move waits for it and is acknowledged
        c.call("robot.move", {"device": DEV, "left": 0.5, "right": 0.5})
        self.assertEqual(probe(c)["m2"], 128)
        c.call("robot.stop", {"device": DEV})
        for bad in ({"leds": {"all": [1, 2]}}, {"leds": {"top": [1, 2, 3]}},
                    {"tone": {"freq": 440}}, {"tone": {"freq": 99999, "ms": 10}}):
            bad["device"] = DEV
            self.assertError(c.error("robot.set", bad), "invalid_params", -32602)
        self.assertError(c.error("robot.program.run", {"device": DEV}), "not_supported", 1005)

    def test_garbage_and_cut_frames(self):
        d = self.start_bridge(conf())
        c = self.open_robot(d)
        sub = self.subscriber(d, ["robot/%s/ultrasonic/" % DEV])
        c.call("mbot.emulator", {"fault": "garbage"})
        before = link(c)["garbage"]
        wait_until(lambda: link(c)["garbage"] > before + 100, what="noise on the line")
        c.call("mbot.emulator", {"world": {"distance_cm": 77}})
        sub.wait_for(lambda m: m.header.get("count") and abs(m.samples[0] - 77) < 0.01,
                     timeout=10, what="values through the noise")
        c.call("robot.move", {"device": DEV, "left": 0.3, "right": 0.3})
        self.assertEqual(probe(c)["m2"], 77)
        c.call("robot.stop", {"device": DEV})
        self.assertEqual(link(c)["bad_values"], 0)
        c.call("mbot.emulator", {"fault": "ok"})

    def test_a_port_that_is_not_an_mbot(self):
        master, slave = pty.openpty()
        stop = threading.Event()

        def chatter():  # a board that prints text lines whatever it is sent
            while not stop.is_set():
                try:
                    os.write(master, b"temperature,21.5\r\n")
                except OSError:
                    return
                stop.wait(0.05)
        t = threading.Thread(target=chatter, daemon=True)
        t.start()
        try:
            raw = "[mbot.bench]\nport = %s\n" % os.ttyname(slave)
            d = self.start_bridge(make_conf({}, bridge={"emulate": "none"}, raw=raw))
            c = self.client(d)

            def failed():
                for x in c.call("devices.list", {"all": True}):
                    if x["id"] == "mbot-bench" and x.get("state") == "failed":
                        return x
            x = wait_until(failed, timeout=15, what="the open refused as no mBot")
            self.assertIn("the port answers but not as an mBot (mCore firmware): flash the mBot "
                          "firmware with mBlock", x["reason"])
            self.assertIsNone(device(c, "mbot-bench"))
        finally:
            stop.set()
            t.join(2)
            os.close(master)
            os.close(slave)

    def test_a_silent_port(self):
        master, slave = pty.openpty()  # a board that answers nothing
        try:
            raw = "[mbot.quiet]\nport = %s\n" % os.ttyname(slave)
            d = self.start_bridge(make_conf({}, bridge={"emulate": "none"}, raw=raw))
            c = self.client(d)

            def failed():
                for x in c.call("devices.list", {"all": True}):
                    if x["id"] == "mbot-quiet" and x.get("state") == "failed":
                        return x
            x = wait_until(failed, timeout=15, what="the open refused")
            self.assertIn("no answer from an mBot within 3 s", x["reason"])
            self.assertIn("flash the mBot firmware with mBlock", x["reason"])
            # what the driver asked: GET VERSION (ff 55 len idx 01 00 00), again and again
            self.assertTrue(select.select([master], [], [], 5)[0], "nothing was asked")
            asked = os.read(master, 4096)
            self.assertEqual(asked[:2], b"\xff\x55")
            self.assertEqual(asked[4:7], b"\x01\x00\x00")
        finally:
            os.close(master)
            os.close(slave)

    def test_unplug_in_the_middle_of_a_command(self):
        d = self.start_bridge(conf())
        c = self.open_robot(d)
        c.call("robot.set", {"device": DEV, "tone": {"freq": 300, "ms": 2000}})
        # the move waits for the tone; the cable goes meanwhile
        rid = c.send("robot.move", {"device": DEV, "left": 0.5, "right": 0.5})
        c2 = self.client(d)
        c2.call("mbot.emulator", {"fault": "unplug"})
        reply = c.reply_for(rid, timeout=10)
        self.assertEqual(reply["error"]["code"], 1004, reply)  # device: gone
        wait_until(lambda: device(c2) is None, what="the mBot gone")
        c2.call("mbot.emulator", {"fault": "plug"})
        wait_until(lambda: device(c2), timeout=15, what="the mBot back")

    def test_room_stop_resets_and_the_latch_refuses_moves(self):
        d = self.start_bridge(conf())
        c = self.open_robot(d)
        c.call("robot.move", {"device": DEV, "left": 1, "right": 1})
        resets = probe(c)["resets"]
        self.assertIn(DEV, c.call("room.stop", {"reason": "test"})["halted"])
        wait_until(lambda: probe(c)["resets"] > resets, what="the RESET of the halt")
        st = probe(c)
        self.assertEqual((st["m1"], st["m2"]), (0, 0))
        self.assertError(c.error("robot.move", {"device": DEV, "left": 1, "right": 1}),
                         "room_stopped", 1009)
        self.assertEqual(probe(c)["m1"], 0)
        wait_until(lambda: state(c) == "stopped", what="the state stopped")
        c.call("room.release")
        c.call("robot.move", {"device": DEV, "left": 0.1, "right": 0.1})
        self.assertEqual(probe(c)["m2"], 26)
        c.call("robot.stop", {"device": DEV})

    def test_a_robot_that_opens_in_a_stopped_room_is_halted(self):
        data = os.path.join(self.tmp, "data")
        d = self.start_bridge(conf(data_dir=data), name="before")
        self.client(d).call("room.stop", {"reason": "test"})
        self.assertEqual(d.stop(), 0)
        d = self.start_bridge(conf(data_dir=data), name="after")
        c = self.client(d)
        wait_until(lambda: device(c), timeout=15, what="the mBot")
        wait_until(lambda: state(c) == "stopped", what="the robot halted as it opened")
        self.assertIn("device %s halted by unix:root" % DEV, d.stderr())
        self.assertEqual((probe(c)["m1"], probe(c)["m2"]), (0, 0))
        c.call("lease.acquire", {"device": DEV})
        self.assertError(c.error("robot.move", {"device": DEV, "left": 1, "right": 1}),
                         "room_stopped", 1009)
        self.assertEqual(probe(c)["m1"], 0)
