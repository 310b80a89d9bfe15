"""MicroPython boards through the real driver and the robot service: the simulated lab's board
(a raw REPL on a pseudo-terminal whose programs really run in python3) with and without
raw-paste; programs whose output and tracebacks reach robot/<id>/console/ in order, a long loop
interrupted, motors through the Maqueen's I2C registers, a board that never answers, garbage,
line noise (never corrupted code run), unplug mid-upload, the room stop."""
import os
import pty
import re
import shutil
import subprocess
import select
import threading
import time

from lbtest import ROOT, BridgeTest, make_conf, run_program, wait_until

DEV = "micropython-sim-maqueen-1"
CONSOLE = "robot/%s/console/" % DEV
STATE = "robot/%s/state/" % DEV
PROGRAM, FIRMWARE, TIMEOUT, NOT_SUPPORTED = 1010, 1011, 1006, 1005


def conf(tmp, paste=True, raw="", **bridge):
    b = {"emulate": "micropython", "data_dir": os.path.join(tmp, "data"),
         "request_timeout_ms": 20000}
    b.update(bridge)
    if not paste:
        raw = "[micropython]\nemulator_paste = no\n" + raw
    return make_conf({}, bridge=b, raw=raw)


class MicroPythonTest(BridgeTest):

    def lab(self, paste=True, raw=""):
        d = self.start_bridge(conf(self.tmp, paste, raw))
        c = self.client(d)
        wait_until(lambda: DEV in [r["device"] for r in c.call("robot.list")], timeout=30,
                   what="the emulated MicroPython board")
        c.call("lease.acquire", {"device": DEV, "ttl_ms": 600000})  # the whole test
        return d, c

    def probe(self, c):
        return c.call("micropython.emulator", {"probe": True})

    def run_program(self, c, sub, source, state="idle", timeout=20):
        """Load and run source; the console messages until the robot's state is state."""
        c.call("robot.program.load", {"device": DEV, "language": "micropython",
                                      "source": source})
        c.call("robot.program.run", {"device": DEV}, timeout=30)  # bounded by the driver
        got = []
        sub.wait_for(lambda m: m.topic == STATE and m.data["state"] == "running",
                     keep=got, what="state running")
        sub.wait_for(lambda m: m.topic == STATE and m.data["state"] == state, timeout=timeout,
                     keep=got, what="state %s" % state)
        return [m.data for m in got if m.topic == CONSOLE]

    @staticmethod
    def text(msgs, stream):
        return "".join(m["text"] for m in msgs if m["stream"] == stream)

    def test_program_output_traceback_and_stop(self):
        d, c = self.lab()
        info = c.call("robot.info", {"device": DEV})
        self.assertEqual(info["robot"]["languages"], ["micropython"])
        self.assertTrue(info["robot"]["wheels"])
        self.assertIn("robot.move", info["requests"])
        sub = self.subscriber(d, [CONSOLE, STATE])
        # print reaches the console in order, accents intact
        out = self.run_program(c, sub, "for i in range(200):\n    print('ligne', i)\n"
                               "print('fin é')\n")
        self.assertEqual(self.text(out, "stdout"),
                         "".join("ligne %d\n" % i for i in range(200)) + "fin é\n")
        self.assertEqual(self.text(out, "stderr"), "")
        # a traceback on stderr, state error with its last line
        out = self.run_program(c, sub, "print('avant')\nx = 1 / 0\n", state="error")
        self.assertEqual(self.text(out, "stdout"), "avant\n")
        err = self.text(out, "stderr")
        self.assertIn("Traceback (most recent call last):", err)
        self.assertIn("ZeroDivisionError", err)
        self.assertEqual(info["robot"]["raw_paste"], True)
        # a long loop, interrupted by robot.program.stop (Ctrl-C): KeyboardInterrupt, stopped
        c.call("robot.program.load", {"device": DEV, "language": "micropython",
                                      "source": "import time\nn = 0\nwhile True:\n"
                                                "    print('tick', n)\n    n += 1\n"
                                                "    time.sleep(0.05)\n"})
        c.call("robot.program.run", {"device": DEV})
        sub.wait_for(lambda m: m.topic == CONSOLE and "tick 3" in m.data["text"],
                     what="the loop running")
        t0 = time.monotonic()
        c.call("robot.program.stop", {"device": DEV})
        got = []
        sub.wait_for(lambda m: m.topic == STATE and m.data["state"] == "stopped", keep=got,
                     what="stopped")
        self.assertLess(time.monotonic() - t0, 5)
        self.assertIn("KeyboardInterrupt", self.text([m.data for m in got if m.topic == CONSOLE],
                                                     "stderr"))
        # a program printing without end: the stop still comes through, in bounded time
        c.call("robot.program.load", {"device": DEV, "language": "micropython",
                                      "source": "while True:\n    print('x' * 200)\n"})
        c.call("robot.program.run", {"device": DEV})
        sub.wait_for(lambda m: m.topic == CONSOLE and "xxxx" in m.data["text"],
                     what="the flood")
        t0 = time.monotonic()
        c.call("robot.program.stop", {"device": DEV}, timeout=15)
        sub.wait_for(lambda m: m.topic == STATE and m.data["state"] == "stopped",
                     timeout=15, what="stopped")
        self.assertLess(time.monotonic() - t0, 10)
        # the board is usable again, and syntax errors are tracebacks too
        out = self.run_program(c, sub, "print(2 + 2)\n")
        self.assertEqual(self.text(out, "stdout"), "4\n")
        out = self.run_program(c, sub, "def f(:\n  pass\n", state="error")
        self.assertIn("SyntaxError", self.text(out, "stderr"))
        self.assertGreaterEqual(self.probe(c)["programs"], 5)
        self.assertEqual(self.probe(c)["overruns"], 0)
        self.assertEqual(self.probe(c)["dropped"], 0)

    def test_motors_display_and_room_stop(self):
        d, c = self.lab()
        sub = self.subscriber(d, [STATE, "bridge/room/"])
        c.call("robot.move", {"device": DEV, "left": 0.5, "right": -1})
        i2c = self.probe(c)["hw"]["i2c"]
        # Maqueen: register 0 left, 2 right: [direction, speed 0..255]
        self.assertEqual(i2c["16:0"], [0, 128])
        self.assertEqual(i2c["16:2"], [1, 255])
        c.call("robot.set", {"device": DEV, "display": "Bonjour"})
        self.assertEqual(self.probe(c)["hw"]["display"], "Bonjour")
        c.call("robot.set", {"device": DEV, "display": {"image": "HEART"}, "leds": {"left": 1}})
        hw = self.probe(c)["hw"]
        self.assertEqual(hw["display"], "Image.HEART")
        self.assertEqual(hw["i2c"]["16:11"], [1])
        c.call("robot.stop", {"device": DEV})
        i2c = self.probe(c)["hw"]["i2c"]
        self.assertEqual((i2c["16:0"][1], i2c["16:2"][1]), (0, 0))
        # a program driving the motors, then the room stop: Ctrl-C and motors off
        c.call("robot.program.load", {"device": DEV, "language": "micropython",
                                      "source": "from microbit import i2c, sleep\n"
                                                "while True:\n"
                                                "    i2c.write(16, bytes([0, 0, 200]))\n"
                                                "    sleep(20)\n"})
        c.call("robot.program.run", {"device": DEV})
        sub.wait_for(lambda m: m.topic == STATE and m.data["state"] == "running",
                     what="running")
        wait_until(lambda: self.probe(c)["hw"]["i2c"]["16:0"] == [0, 200],
                   what="the program driving")
        r = c.call("room.stop", {"reason": "test"})
        self.assertIn(DEV, r["halted"])
        sub.wait_for(lambda m: m.topic == STATE and m.data["state"] == "stopped",
                     what="the robot stopped")
        self.assertEqual(self.probe(c)["hw"]["i2c"]["16:0"], [0, 0])
        self.assertEqual(c.error("robot.program.run", {"device": DEV})["code"], 1009)
        c.call("room.release")
        r = c.call("device.call", {"device": DEV, "action": "micropython.exec",
                                   "args": {"code": "print('hi')\nprint(6 * 7)"}})
        self.assertEqual(r["stdout"], "hi\n42\n")

    def test_fallback_without_raw_paste(self):
        d, c = self.lab(paste=False)
        sub = self.subscriber(d, [CONSOLE, STATE])
        src = "".join("print('line %d', %d * 2)\n" % (i, i) for i in range(300))  # > 8 KB
        c.call("robot.program.load", {"device": DEV, "language": "micropython", "source": src})
        r = c.call("robot.program.run", {"device": DEV}, timeout=30)  # 1.6 KB/s: about 6 s
        self.assertFalse(r["raw_paste"])
        got = []
        sub.wait_for(lambda m: m.topic == STATE and m.data["state"] == "running",
                     keep=got, what="state running")
        sub.wait_for(lambda m: m.topic == STATE and m.data["state"] == "idle", keep=got,
                     timeout=30, what="the program ended")
        out = self.text([m.data for m in got if m.topic == CONSOLE], "stdout")
        self.assertEqual(out, "".join("line %d %d\n" % (i, 2 * i) for i in range(300)),
                         [(m.topic, m.data) for m in got][:20])
        self.assertFalse(self.probe(c)["paste"])
        self.assertFalse(c.call("robot.info", {"device": DEV})["robot"]["raw_paste"])

    def test_board_that_never_answers_and_garbage(self):
        # a port with nothing behind it that answers: a typed error, in bounded time
        master, slave = pty.openpty()
        path = os.ttyname(slave)
        raw = ("[micropython.dead]\nport = %s\nenter_timeout_s = 2\n" % path)
        try:
            d = self.start_bridge(conf(self.tmp, raw=raw, emulate="none"))
            c = self.client(d)
            t0 = time.monotonic()

            def failed():
                for e in c.call("devices.list", {"all": True}):
                    if e["id"] == "micropython-dead" and e.get("state") == "failed":
                        return e
                return None
            e = wait_until(failed, timeout=15, what="the dead board reported")
            self.assertLess(time.monotonic() - t0, 10)
            self.assertIn("not a MicroPython board, or wedged", e["reason"])
            self.assertIn("unplug and replug", e["reason"])
        finally:
            os.close(master)
            os.close(slave)

    def test_busy_board_and_no_motor_driver(self):
        """A board busy with its main.py when the port opens (no reset): Ctrl-C stops it, then
        the raw REPL; a board without a robot setting refuses robot.move."""
        master, slave = pty.openpty()
        stop = threading.Event()
        seen = []

        def board():
            mode, n, nxt = "busy", 0, time.monotonic()
            while not stop.is_set():
                r, _, _ = select.select([master], [], [], 0.01)
                data = os.read(master, 256) if r else b""
                seen.append(data)
                out = b""
                for b in data:
                    if mode == "busy" and b == 3:
                        out += (b"Traceback (most recent call last):\r\n  File \"main.py\", "
                                b"line 4, in <module>\r\nKeyboardInterrupt: \r\n"
                                b"MicroPython v1.20.0 on 2023-04-26; LEGO SPIKE\r\n>>> ")
                        mode = "friendly"
                    elif mode != "busy" and b == 1:
                        out += (b"\r\n" if mode == "friendly" else b"") + \
                            b"raw REPL; CTRL-B to exit\r\n>"
                        mode = "raw"
                if mode == "busy" and time.monotonic() >= nxt:
                    out += b"tick %d\r\n" % n
                    n, nxt = n + 1, nxt + 0.01
                if out:
                    os.write(master, out)
        t = threading.Thread(target=board, daemon=True)
        t.start()
        try:
            raw = "[micropython.spike]\nport = %s\n" % os.ttyname(slave)
            d = self.start_bridge(conf(self.tmp, raw=raw, emulate="none"))
            c = self.client(d)
            rid = "micropython-spike"
            wait_until(lambda: rid in [r["device"] for r in c.call("robot.list")], timeout=15,
                       what="the busy board opened")
            self.assertIn(3, b"".join(seen))  # it was interrupted
            info = c.call("robot.info", {"device": rid})
            self.assertFalse(info["robot"]["wheels"])
            self.assertNotIn("robot.move", info["requests"])
            c.call("lease.acquire", {"device": rid})
            e = c.error("device.call", {"device": rid, "action": "robot.move",
                                        "args": {"left": 1, "right": 1}})
            self.assertIn(e["code"], (1002, -32601, 1005))  # service-only, or refused
            self.assertEqual(c.error("robot.move", {"device": rid, "left": 1, "right": 1})["code"],
                             NOT_SUPPORTED)
        finally:
            stop.set()
            t.join(2)
            os.close(master)
            os.close(slave)

    def test_garbage_and_unplug_mid_upload(self):
        d, c = self.lab()
        sub = self.subscriber(d, [CONSOLE, STATE])
        c.call("micropython.emulator", {"fault": "garbage"})
        # garbage between programs: the board is entered again; no crash, loud errors at worst
        for _ in range(3):
            c.call("robot.program.load", {"device": DEV, "language": "micropython",
                                          "source": "print('ok')\n"})
            # a failure is typed and bounded (two attempts, each entering the raw REPL again)
            r = c.request("robot.program.run", {"device": DEV}, timeout=60)
            self.assertTrue("result" in r or r["error"]["code"] in (1004, 1006, 1010), r)
            if "result" in r:
                sub.wait_for(lambda m: m.topic == STATE and m.data["state"] == "running",
                             what="running")
                sub.wait_for(lambda m: m.topic == STATE and m.data["state"] != "running",
                             what="the end of the program")
        c.call("micropython.emulator", {"fault": "ok"})
        out = self.run_program(c, sub, "print('clean')\n")
        self.assertIn("clean\n", self.text(out, "stdout"))
        # a slow board (each window's credit 20 ms late): the driver waits for credit, never
        # overruns the window
        c.call("micropython.emulator", {"credit_delay_ms": 20})
        src = "".join("print(%d)\n" % i for i in range(300))  # 2.5 KB: 20 windows
        out = self.run_program(c, sub, src)
        self.assertEqual(self.text(out, "stdout"), "".join("%d\n" % i for i in range(300)))
        self.assertEqual(self.probe(c)["overruns"], 0)
        # unplug in the middle of a long upload (56 KB: 440 windows, 9 s at this pace): an
        # error at once, the robot gone, nothing hangs
        big = "x = 0\n" + "x += 1\n" * 8000  # a request holds 64 KB of JSON
        c.call("robot.program.load", {"device": DEV, "language": "micropython", "source": big})
        rid = c.send("robot.program.run", {"device": DEV})
        sub.wait_for(lambda m: m.topic == STATE and m.data["state"] == "running",
                     what="the upload started")
        t0 = time.monotonic()
        c.call("micropython.emulator", {"fault": "unplug"})
        r = c.reply_for(rid, timeout=10)
        self.assertIn("error", r)
        self.assertLess(time.monotonic() - t0, 5)
        self.assertIn("went away", r["error"]["message"])
        wait_until(lambda: DEV not in [x["device"] for x in c.call("robot.list")], timeout=15,
                   what="the board removed")
        c.call("micropython.emulator", {"fault": "plug"})
        wait_until(lambda: DEV in [x["device"] for x in c.call("robot.list")], timeout=30,
                   what="the board back")

    def test_line_noise_never_runs_corrupted_code(self):
        d, c = self.lab()
        sub = self.subscriber(d, [CONSOLE, STATE])
        # a program whose every line matters: any change would change what it prints
        src = "s = 0\n" + "".join("s += %d\n" % (i * 7919 % 1000) for i in range(300)) + \
              "print('sum', s)\n"
        want = "sum %d\n" % sum(i * 7919 % 1000 for i in range(300))
        c.call("micropython.emulator", {"noise_ppm": 10000, "seed": 12345})  # 1 %
        ok = corrupted = failed = 0
        for _ in range(12):
            c.call("robot.program.load", {"device": DEV, "language": "micropython",
                                          "source": src})
            r = c.request("robot.program.run", {"device": DEV})
            got = []
            sub.wait_for(lambda m: m.topic == STATE and m.data["state"] == "running",
                         what="running")
            if "error" in r:
                failed += 1  # loud: the upload itself failed
                sub.wait_for(lambda m: m.topic == STATE and m.data["state"] == "error",
                             what="the error")
                continue
            m = sub.wait_for(lambda m: m.topic == STATE and m.data["state"] in ("idle", "error"),
                             keep=got, timeout=20, what="the program's end")
            out = self.text([x.data for x in got if x.topic == CONSOLE], "stdout")
            if m.data["state"] == "idle":
                self.assertEqual(out, want)  # ran: it ran the program sent, exactly
                ok += 1
            else:
                self.assertNotIn("sum", out)  # failed loudly, printing nothing of it
                corrupted += 1
        self.assertGreater(self.probe(c)["noise_events"], 0)
        self.assertGreater(ok + corrupted + failed, 0)

    def example(self, d, *args):
        env = dict(os.environ, LABBRIDGE_PUB=d.pub, LABBRIDGE_RPC=d.rpc)
        return run_program(["/usr/bin/python3",
                            os.path.join(ROOT, "examples", "python", "upload_micropython.py")] +
                           list(args), 60, env=env, cwd=self.tmp)

    def test_examples(self):
        d = self.start_bridge(conf(self.tmp))
        c = self.client(d)
        wait_until(lambda: DEV in [r["device"] for r in c.call("robot.list")], timeout=30,
                   what="the emulated MicroPython board")
        mp = os.path.join(ROOT, "examples", "micropython")
        rc, out, err, _ = self.example(d, os.path.join(mp, "hello.py"), "--name", "group 2")
        self.assertEqual(rc, 0, out + err)
        self.assertTrue(out.startswith("Bonjour depuis le robot !\n1 + ... + 1 = 1\n"), out)
        self.assertTrue(out.endswith("1 + ... + 10 = 55\nfini\n"), out)
        self.assertIn("released", err)
        rc, out, err, _ = self.example(d, os.path.join(mp, "maqueen_square.py"), "--save")
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(out, "side 1\nside 2\nside 3\nside 4\nsquare done\n")
        self.assertIn("saved as main.py", err)
        with open(os.path.join(mp, "maqueen_square.py"), encoding="utf-8") as f:
            self.assertEqual(self.probe(c)["files"]["main.py"], f.read())
        hw = self.probe(c)["hw"]
        self.assertEqual((hw["i2c"]["16:0"], hw["i2c"]["16:2"]), ([0, 0], [0, 0]))
        self.assertEqual(hw["display"], "Image.HAPPY")
        rc, out, err, _ = self.example(d, os.path.join(mp, "countdown.py"))
        self.assertEqual(rc, 1, out + err)
        self.assertEqual(out, "5\n4\n3\n2\n1\n")
        self.assertIn("IndexError", err)
        self.assertEqual(self.probe(c)["hw"]["display"], "GO")
        # the lease is free again
        self.assertIsNone(c.call("robot.info", {"device": DEV})["owner"])


QEMU = "/usr/bin/qemu-system-arm"
MICROBIT_HEX = "/usr/share/firmware-microbit-micropython/firmware.hex"


class RealMicroPythonTest(BridgeTest):
    """The driver against a real MicroPython: Debian's micro:bit firmware (MicroPython 1.9.2, the
    micro:bit v1's: no raw-paste) running in QEMU's micro:bit machine, its UART on a pty."""

    def board(self):
        if not (os.path.exists(QEMU) and os.path.exists(MICROBIT_HEX)):
            self.skipTest("allowed: needs qemu-system-arm and firmware-microbit-micropython "
                          "(make test-deps)")
        image = os.path.join(self.tmp, "microbit.bin")
        # the flash part of the image (the hex also sets UICR registers QEMU has no use for)
        subprocess.run(["objcopy", "-I", "ihex", "-O", "binary", "-j", ".sec1", "-j", ".sec2",
                        "-j", ".sec3", "-j", ".sec4", MICROBIT_HEX, image], check=True,
                       timeout=30)
        q = subprocess.Popen([QEMU, "-M", "microbit", "-kernel", image, "-nographic",
                              "-serial", "pty", "-monitor", "none"], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.addCleanup(lambda: (q.kill(), q.wait(10), q.stdout.close()))
        line = b""
        deadline = time.monotonic() + 20
        while b"/dev/pts/" not in line and time.monotonic() < deadline:
            r, _, _ = select.select([q.stdout], [], [], 1)
            if r:
                line = q.stdout.readline()
        m = re.search(rb"/dev/pts/\d+", line)
        self.assertTrue(m, "qemu gave no pty: %r" % line)
        return m.group(0).decode()

    def test_programs_on_real_micropython(self):
        path = self.board()
        # QEMU's emulated CPU is slow on a loaded machine: the protocol's answers may be late
        raw = "[micropython.qemu]\nport = %s\nboard = microbit\nreply_timeout_s = 15\n" % path
        d = self.start_bridge(conf(self.tmp, raw=raw, emulate="none"))
        c = self.client(d)
        rid = "micropython-qemu"
        wait_until(lambda: rid in [r["device"] for r in c.call("robot.list")], timeout=30,
                   what="the micro:bit in QEMU opened")
        c.call("lease.acquire", {"device": rid})
        state, console = "robot/%s/state/" % rid, "robot/%s/console/" % rid
        sub = self.subscriber(d, [state, console])

        def run(source, end):
            c.call("robot.program.load", {"device": rid, "language": "micropython",
                                          "source": source})
            r = c.call("robot.program.run", {"device": rid})
            got = []
            sub.wait_for(lambda m: m.topic == state and m.data["state"] == "running",
                         keep=got, timeout=20, what="running")
            m = sub.wait_for(lambda m: m.topic == state and m.data["state"] == end, keep=got,
                             timeout=30, what=end)
            msgs = [x.data for x in got if x.topic == console]
            return r, m.data, MicroPythonTest.text(msgs, "stdout"), \
                MicroPythonTest.text(msgs, "stderr")

        # the checked wrapper on the real thing; no raw-paste: plain raw mode
        r, st, out, err = run("for i in range(5):\n    print('n', i * i)\nprint('fin')\n", "idle")
        self.assertFalse(r["raw_paste"])
        self.assertEqual(out, "n 0\nn 1\nn 4\nn 9\nn 16\nfin\n")
        self.assertEqual(err, "")
        # a real MicroPython traceback
        r, st, out, err = run("x = [1, 2]\nprint(x[5])\n", "error")
        self.assertIn("IndexError", err)
        self.assertIn("IndexError", st["detail"])
        # Ctrl-C interrupts a loop on the board
        c.call("robot.program.load", {"device": rid, "language": "micropython",
                                      "source": "import microbit\nn = 0\nwhile True:\n"
                                                "    n += 1\n    if n % 200 == 0:\n"
                                                "        print('tick', n)\n"})
        c.call("robot.program.run", {"device": rid})
        sub.wait_for(lambda m: m.topic == console and "tick" in m.data["text"], timeout=20,
                     what="the loop printing")
        c.call("robot.program.stop", {"device": rid})
        got = []
        sub.wait_for(lambda m: m.topic == state and m.data["state"] == "stopped", keep=got,
                     timeout=20, what="stopped")
        self.assertIn("KeyboardInterrupt", MicroPythonTest.text(
            [x.data for x in got if x.topic == console], "stderr"))
        # the board is fine afterwards; micropython.exec answers
        r = c.call("device.call", {"device": rid, "action": "micropython.exec",
                                   "args": {"code": "import sys\nprint(sys.implementation.name)"}})
        self.assertEqual(r["stdout"], "micropython\n")
        # saved as main.py on its file system, read back
        c.call("robot.program.load", {"device": rid, "language": "micropython",
                                      "source": "print('hello from main.py')\n"})
        self.assertEqual(c.call("device.call", {"device": rid, "action": "micropython.save",
                                                "args": {}})["path"], "main.py")
        r = c.call("device.call", {"device": rid, "action": "micropython.exec",
                                   "args": {"code": "print(open('main.py').read())"}})
        self.assertEqual(r["stdout"], "print('hello from main.py')\n\n")
