"""The room-wide stop: any pupil halts every device that can be halted (a printing printer gets
M112 at once, a sensor blocked in a slow driver call is reached through its halt hook), the stop
latches (nothing set moving, no print job handed out) until a teacher releases it."""
import os

from lbtest import BridgeTest, NOBODY, make_conf, requests_as, sensor, wait_until
import test_printer  # its helpers; importing the class by name would run its tests twice
from test_printer import PRINTER, gcode

FORBIDDEN, ROOM_STOPPED = 1002, 1009


def result(reply):
    assert "result" in reply, reply
    return reply["result"]


def error(reply):
    assert "error" in reply, reply
    return reply["error"]


class RoomPrinterTest(BridgeTest):
    """The printer tests' emulator and helpers, without their tests."""

    _P = test_printer.PrinterTest  # not at module level: the loader would run its tests here
    TEST_TIMEOUT = _P.TEST_TIMEOUT
    emulator, printer, submit, wait_job, start = _P.emulator, _P.printer, _P.submit, \
        _P.wait_job, _P.start

    def test_a_pupil_stops_the_room_only_a_teacher_releases_it(self):
        e, d, c = self.start("--baud", "115200")
        devs = {x["id"]: x for x in c.call("devices.list")}
        self.assertEqual(devs[PRINTER]["capabilities"], ["stream", "halt", "job", "upload", "actions"])
        self.assertEqual(devs["sim-idle"]["capabilities"], ["stream", "halt", "actions"])
        self.assertFalse(c.call("room.state")["stopped"])
        sub = self.subscriber(d, ["bridge/room/"])
        jid = self.submit(c, gcode(5000))["result"]["id"]
        self.wait_job(c, jid, ("printing",))
        wait_until(lambda: c.call("print.job", {"id": jid})["progress"]["line"] > 20,
                   what="some progress")
        # a pupil (another Unix user: a student) stops the room, and cannot release it
        r = requests_as(NOBODY, d.rpc, [["room.stop", {}], ["room.release", {}],
                                        ["device.start", {"device": "sim-idle"}],
                                        ["room.state", {}]])
        st = result(r[0])
        self.assertTrue(st["stopped"])
        self.assertEqual(st["by"], "unix:nobody")
        self.assertEqual(sorted(st["halted"]), sorted([PRINTER, "sim-idle"]))
        self.assertEqual(error(r[1])["code"], FORBIDDEN)
        self.assertEqual(error(r[2])["code"], ROOM_STOPPED)
        self.assertEqual(error(r[2])["name"], "room_stopped")
        self.assertTrue(result(r[3])["stopped"])
        # M112 reached the printer; its job failed as an emergency stop
        emu = wait_until(lambda: (lambda s: s if s["estop_ns"] else None)(e.stats()),
                         what="M112 on the wire")
        self.assertTrue(emu["halted"])
        job = self.wait_job(c, jid)
        self.assertEqual(job["state"], "failed")
        self.assertIn("emergency", job["error"])
        ev = sub.wait_for(lambda m: m.data["event"] == "stopped", what="the stop on bridge/room/")
        self.assertTrue(ev.data["room"]["stopped"])
        self.assertIn(PRINTER, ev.data["halted"])
        # latched: a teacher cannot set things moving either, nor does the queue hand out jobs
        self.assertEqual(c.error("device.start", {"device": "sim-idle"})["code"], ROOM_STOPPED)
        self.assertEqual(c.error("device.call", {"device": PRINTER, "action": "gcode",
                                                 "args": {"lines": "G28"}})["code"],
                         ROOM_STOPPED)
        c.call("device.call", {"device": PRINTER, "action": "reset"})  # not a move: allowed
        nxt = self.submit(c, gcode(300))["result"]["id"]
        wait_until(lambda: (lambda p: p and p["config"]["state"] == "idle")(self.printer(c)),
                   timeout=20, what="the printer back, idle, after its reset")
        # the printer is idle and announced (each announcement runs the dispatcher): held
        self.assertEqual(c.call("print.job", {"id": nxt})["state"], "approved")
        # a teacher releases the room: the held job goes to the printer
        st = c.call("room.release")
        self.assertFalse(st["stopped"])
        self.assertIsNone(st["by"])
        sub.wait_for(lambda m: m.data["event"] == "released", what="the release on bridge/room/")
        self.assertEqual(self.wait_job(c, nxt)["state"], "done")
        c.call("device.start", {"device": "sim-idle"})

    def test_printer_estop_goes_through_the_halt(self):
        e, d, c = self.start("--baud", "115200")
        jid = self.submit(c, gcode(5000))["result"]["id"]
        self.wait_job(c, jid, ("printing",))
        # answered once the hook has written M112: the emulator has it or is reading it
        self.assertEqual(c.call("printer.estop"), {"stopped": [PRINTER]})
        emu = wait_until(lambda: (lambda s: s if s["estop_ns"] else None)(e.stats()),
                         what="M112 on the wire")
        self.assertTrue(emu["halted"])
        self.assertIn("emergency", self.wait_job(c, jid)["error"])
        # printer.estop does not latch the room
        self.assertFalse(c.call("room.state")["stopped"])


class RoomSensorTest(BridgeTest):

    def test_the_stop_reaches_a_device_blocked_in_a_driver_call(self):
        conf = make_conf({"slow": sensor(rate=20, thread="own"), "t1": sensor(rate=20)},
                         bridge={"request_timeout_ms": 30000})
        d = self.start_bridge(conf)
        c = self.client(d)
        slow = self.client(d)
        # the device's thread is blocked for 20 s in a driver call (as in a slow board's read)
        hang = slow.send("device.call", {"device": "sim-slow", "action": "hang",
                                         "args": {"ms": 20000}})
        r = requests_as(NOBODY, d.rpc, [["room.stop", {}]])
        self.assertEqual(sorted(result(r[0])["halted"]), ["sim-slow", "sim-t1"])
        # the hook woke the call: it ended long before its 20 s, saying why
        got = result(slow.reply_for(hang, timeout=15))
        self.assertTrue(got["halted"])
        self.assertLess(got["slept_ms"], 20000)
        # both stopped acquiring, and stay stopped until a teacher releases the room
        for dev in ("sim-slow", "sim-t1"):
            wait_until(lambda: c.call("device.info", {"device": dev})["state"] == "ready",
                       what="%s stopped" % dev)
            self.assertEqual(c.error("device.start", {"device": dev})["code"], ROOM_STOPPED)
        self.assertEqual(c.error("acquisition.start", {"devices": ["sim-t1"]})["code"],
                         ROOM_STOPPED)
        c.call("room.release")
        for dev in ("sim-slow", "sim-t1"):
            self.assertEqual(c.call("device.start", {"device": dev})["state"], "running")

    def test_the_stop_survives_a_restart(self):
        # a crash or a restart does not release the room: only a teacher does
        data = os.path.join(self.tmp, "room-data")
        conf = make_conf({"t1": sensor(rate=20)}, bridge={"data_dir": data})
        d = self.start_bridge(conf, name="before")
        self.assertEqual(self.client(d).call("room.stop", {"reason": "robot off the table"})
                         ["reason"], "robot off the table")
        self.assertEqual(d.stop(), 0)
        d = self.start_bridge(conf, name="after")
        c = self.client(d)
        st = c.call("room.state")
        self.assertTrue(st["stopped"])
        self.assertEqual((st["by"], st["reason"]), ("unix:root", "robot off the table"))
        # a device that opens under the latch (sim-t1 starts by itself) is halted as it appears
        wait_until(lambda: c.call("device.info", {"device": "sim-t1"})["state"] == "ready",
                   what="sim-t1 halted when it opened in a stopped room")
        self.assertIn("device sim-t1 halted by unix:root", d.stderr())
        self.assertEqual(c.error("device.start", {"device": "sim-t1"})["code"], ROOM_STOPPED)
        err = c.error("device.start", {"device": "sim-t1"})
        self.assertIn("robot off the table", err["message"])
        self.assertFalse(c.call("room.resume")["stopped"])  # room.resume: room.release's alias
        self.assertFalse(os.path.exists(os.path.join(data, "room-stopped.json")))
        c.call("device.start", {"device": "sim-t1"})

    def test_modbus_devices_stop_polling_and_refuse_writes(self):
        d = self.start_bridge(make_conf({}, bridge={"emulate": "modbus"}))
        c = self.client(d)
        rtu, tcp = "modbus-sim-rtu", "modbus-sim-tcp"
        wait_until(lambda: {rtu, tcp} <= {x["id"] for x in c.call("devices.list")},
                   timeout=10, what="the two emulated Modbus sensors")
        self.assertIn("halt", c.call("device.info", {"device": rtu})["capabilities"])
        self.assertLessEqual({rtu, tcp}, set(c.call("room.stop")["halted"]))
        for dev in (rtu, tcp):
            wait_until(lambda: c.call("device.info", {"device": dev})["state"] == "ready",
                       what="%s no longer polling" % dev)
        write = {"device": rtu, "action": "write", "args": {"channel": "setpoint",
                                                            "value": 20}}
        self.assertEqual(c.error("device.call", write)["code"], ROOM_STOPPED)
        # reading does not set anything moving: allowed
        c.call("device.call", {"device": rtu, "action": "read",
                               "args": {"table": "input", "address": 0, "count": 1}})
        c.call("room.release")
        self.assertAlmostEqual(c.call("device.call", write), 20, places=6)
        self.assertEqual(c.call("device.start", {"device": rtu})["state"], "running")

    def test_firmata_outputs_go_low_and_stay_low(self):
        d = self.start_bridge(make_conf({}, bridge={"emulate": "firmata"}))
        c = self.client(d)
        dev = "firmata-sim-uno-1"

        def pin(p):
            return c.call("firmata.emulator", {"probe": True})["pins"][p]

        def write(value):
            return c.request("device.call", {"device": dev, "action": "digital_write",
                                             "args": {"pin": 13, "value": value}})

        wait_until(lambda: dev in {x["id"] for x in c.call("devices.list")}, timeout=10,
                   what="the emulated Firmata board")
        c.call("device.call", {"device": dev, "action": "pin_mode",
                               "args": {"pin": 13, "mode": 1}})
        result(write(1))
        wait_until(lambda: pin("D13")["level"] == 1, what="D13 high on the board")
        self.assertIn(dev, c.call("room.stop")["halted"])
        wait_until(lambda: pin("D13")["level"] == 0, what="D13 low after the stop")
        self.assertEqual(error(write(1))["code"], ROOM_STOPPED)
        # a pupil's events that would set it moving are refused the same way
        self.assertEqual(c.error("device.emit", {"device": dev, "event": "digital_write",
                                                 "args": {"pin": 13, "value": 1}})["code"],
                         ROOM_STOPPED)
        wait_until(lambda: c.call("device.info", {"device": dev})["state"] == "ready",
                   what="the board no longer reporting")
        c.call("room.release")
        result(write(1))
        wait_until(lambda: pin("D13")["level"] == 1, what="D13 high again after the release")
