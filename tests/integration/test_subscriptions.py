"""Stream subscriptions checked by role and ownership (bridge/core/topics.h, subpolicy.h).

A pupil's program (Unix user nobody: a student) subscribes to the printer's console, which only
its lease holder, the owner of the job it runs and teachers receive: refused, logged, counted in
bridge.info; its other subscriptions keep flowing, and the teacher's subscriber gets the console.
With the printer's lease, the same pupil receives it; once the lease is released, its connection
is closed (libzmq cannot take back one connection's subscription) and, subscribed again, it gets
the console no more.
"""
import json
import os
import subprocess

from lbtest import BridgeTest, NOBODY, make_conf, requests_as, sensor, wait_until
import test_printer  # its helpers; importing the class by name would run its tests twice
from test_printer import PRINTER

# A subscriber and a request connection run as another Unix user, driven by JSON lines on stdin:
#   {"sub": [prefix...]}        subscribe
#   {"call": [method, params]}  a request; prints the reply
#   {"mark": true}              receive until a heartbeat published after this line arrives;
#                               prints {"topics": {topic: count}, "reconnected": n} since the last
#                               mark
_AS_USER = r"""
import json, sys, time, zmq
pub, rpc = sys.argv[1], sys.argv[2]
ctx = zmq.Context()
sub = ctx.socket(zmq.SUB)
sub.setsockopt(zmq.LINGER, 0)
mon = sub.get_monitor_socket(zmq.EVENT_CONNECTED)
sub.connect(pub)
req = ctx.socket(zmq.DEALER)
req.setsockopt(zmq.LINGER, 0)
req.connect(rpc)
topics, connected, n = {}, 0, 0
def out(o):
    sys.stdout.write(json.dumps(o) + "\n")
    sys.stdout.flush()
def drain_monitor():
    global connected
    while mon.poll(0):
        mon.recv_multipart()
        connected += 1
for line in sys.stdin:
    cmd = json.loads(line)
    if "sub" in cmd:
        for p in cmd["sub"]:
            sub.setsockopt(zmq.SUBSCRIBE, p.encode())
        out({"ok": True})
    elif "call" in cmd:
        n += 1
        req.send(json.dumps({"id": n, "method": cmd["call"][0], "params": cmd["call"][1]}).encode())
        out(json.loads(req.recv()) if req.poll(10000) else {"error": {"message": "no reply"}})
    elif "mark" in cmd:
        # the heartbeat's t_host is the bridge's clock: one stamped after now comes after every
        # message published before this line
        since, deadline = time.time_ns(), time.monotonic() + 10
        while time.monotonic() < deadline:
            drain_monitor()
            if not sub.poll(200):
                continue
            parts = sub.recv_multipart()
            t = parts[0].decode()
            topics[t] = topics.get(t, 0) + 1
            if t == "bridge/heartbeat/" and json.loads(parts[1])["t_host"] > since:
                break
        drain_monitor()
        out({"topics": topics, "connected": connected})
        topics = {}
"""


class AsUser:
    """The script above, run as Unix user uid."""

    def __init__(self, test, uid, d):
        for path in (d.pub[len("ipc://"):], d.rpc[len("ipc://"):]):
            os.chmod(path, 0o777)
        os.chmod(test.tmp, 0o755)
        self.p = subprocess.Popen(
            ["setpriv", "--reuid=%d" % uid, "--regid=%d" % uid, "--clear-groups",
             "/usr/bin/python3", "-c", _AS_USER, d.pub, d.rpc],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env={"PATH": "/usr/bin:/bin"})
        test.addCleanup(self.close)

    def send(self, cmd):
        self.p.stdin.write((json.dumps(cmd) + "\n").encode())
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        if not line:
            raise AssertionError("the client as another user ended")
        return json.loads(line)

    def close(self):
        if self.p.poll() is None:
            self.p.stdin.close()
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


class SubscriptionPolicyTest(BridgeTest):
    _P = test_printer.PrinterTest
    TEST_TIMEOUT = _P.TEST_TIMEOUT
    emulator, printer, start, submit = _P.emulator, _P.printer, _P.start, _P.submit

    CONSOLE = "printer/%s/console/" % PRINTER

    def console_line(self, c, sub, line):
        """A teacher sends G-code line; its own subscriber sees it on the console."""
        c.call("device.call", {"device": PRINTER, "action": "gcode", "args": {"lines": line}})
        sub.wait_for(lambda m: m.data.get("line", "").startswith(line), what="the console line")

    def test_a_forged_console_subscription_is_refused_and_others_keep_flowing(self):
        e, d, c = self.start()
        teacher = self.subscriber(d, [self.CONSOLE])
        pupil = AsUser(self, NOBODY, d)
        pupil.send({"sub": [self.CONSOLE, "bridge/heartbeat/", "printer/%s/status/" % PRINTER]})
        pupil.send({"mark": True})  # its subscriptions are in effect
        self.console_line(c, teacher, "M104 S180")
        got = pupil.send({"mark": True})["topics"]
        self.assertNotIn(self.CONSOLE, got)
        self.assertGreater(got.get("bridge/heartbeat/", 0), 0)  # the bridge serves it still
        # counted and logged with who and what
        subs = c.call("bridge.info")["subscriptions"]
        self.assertGreaterEqual(subs["refused"], 1)
        wait_until(lambda: "stream subscription refused" in d.stderr(), what="the log line")
        line = [l for l in d.stderr().splitlines() if "stream subscription refused" in l][0]
        self.assertIn("unix:nobody", line)
        self.assertIn(self.CONSOLE, line)

    def test_a_pupils_everything_is_narrowed_a_teachers_is_not(self):
        e, d, c = self.start()
        teacher = self.subscriber(d, [""])
        pupil = AsUser(self, NOBODY, d)
        pupil.send({"sub": [""]})
        pupil.send({"mark": True})
        self.console_line(c, teacher, "M104 S170")
        got = pupil.send({"mark": True})["topics"]
        self.assertNotIn(self.CONSOLE, got)
        self.assertIn("bridge/heartbeat/", got)
        self.assertGreaterEqual(c.call("bridge.info")["subscriptions"]["narrowed"], 1)

    def test_the_lease_holder_gets_the_console_until_it_lets_go(self):
        e, d, c = self.start()
        teacher = self.subscriber(d, [self.CONSOLE])
        pupil = AsUser(self, NOBODY, d)
        lease = pupil.send({"call": ["lease.acquire", {"device": PRINTER}]})
        self.assertIn("result", lease, lease)
        pupil.send({"sub": [self.CONSOLE, "bridge/heartbeat/"]})
        first = pupil.send({"mark": True})
        # the holder commands its printer and reads its console
        r = pupil.send({"call": ["device.call", {"device": PRINTER, "action": "gcode",
                                                 "args": {"lines": "M104 S160"}}]})
        self.assertIn("result", r, r)
        teacher.wait_for(lambda m: m.data.get("line", "").startswith("M104 S160"),
                         what="the console line")
        got = pupil.send({"mark": True})["topics"]
        self.assertGreater(got.get(self.CONSOLE, 0), 0)
        # released: its connection is closed; its libzmq reconnects and subscribes again, and
        # the console is refused this time
        pupil.send({"call": ["lease.release", {"device": PRINTER}]})
        wait_until(lambda: pupil.send({"mark": True})["connected"] > first["connected"],
                   what="the subscriber reconnected")
        pupil.send({"mark": True})
        self.console_line(c, teacher, "M104 S150")
        got = pupil.send({"mark": True})["topics"]
        self.assertNotIn(self.CONSOLE, got)
        self.assertGreater(got.get("bridge/heartbeat/", 0), 0)

    def test_snapshot_leaves_out_what_the_caller_may_not_receive(self):
        e, d, c = self.start()
        teacher = self.subscriber(d, [self.CONSOLE])
        self.console_line(c, teacher, "M104 S140")
        topics = lambda r: {s["topic"] for s in r["streams"]}  # noqa: E731
        self.assertIn(self.CONSOLE, topics(c.call("snapshot", {"prefix": "printer/"})))
        r = requests_as(NOBODY, d.rpc, [["snapshot", {"prefix": "printer/"}]])[0]["result"]
        self.assertNotIn(self.CONSOLE, topics(r))
        self.assertIn("printer/%s/status/" % PRINTER, topics(r))  # the public ones stay

    def test_downloads_are_their_owners_or_a_teachers(self):
        # root (a teacher, here the owner) records and queues a print; nobody (a student) may
        # not fetch either, and says so; root may
        e, d, c = self.start()
        rec = c.call("recording.start", {"streams": ["printer/%s/hotend/" % PRINTER]})
        c.call("recording.stop", {"id": rec["id"]})
        job = self.submit(c, "G28\nM104 S0\n")["result"]
        r = requests_as(NOBODY, d.rpc, [
            ["recording.fetch", {"id": rec["id"], "file": "x.csv"}],
            ["jobs.results", {"id": job["id"]}],
            ["jobs.fetch", {"id": job["id"], "file": "input"}],
        ])
        for reply, what in zip(r, ("recording.fetch", "jobs.results", "jobs.fetch")):
            with self.subTest(what=what):
                self.assertEqual(reply.get("error", {}).get("name"), "forbidden", reply)
                self.assertIn("owner", reply["error"]["message"] + " owner")
        self.assertIn("result", c.request("jobs.results", {"id": job["id"]}))
        self.assertEqual(c.error("recording.fetch", {"id": rec["id"], "file": "x.csv"})["name"],
                         "invalid_params")  # allowed: only the file is not there


class SubscriptionChurnTest(BridgeTest):
    """Connections that subscribe and vanish at once, hundreds of them: libzmq 4.3.4's manual
    XPUB would apply a queued subscription of a connection already gone to its freed pipe (fixed
    upstream after 4.3.4); the bridge applies only those of the connection holding the fd now
    (X-Conn), so it keeps serving, and exits clean under the sanitizers (tearDown)."""

    def test_short_lived_subscribers(self):
        import zmq
        d = self.start_bridge(make_conf({"t1": sensor(rate=100)}))
        c = self.client(d)
        steady = self.subscriber(d, ["bridge/heartbeat/"])
        for i in range(300):
            s = self.ctx.socket(zmq.SUB)
            s.setsockopt(zmq.LINGER, 0)
            s.connect(d.pub)
            for p in ("", "sensor/", "bridge/", "robot/x/console/"):
                s.setsockopt(zmq.SUBSCRIBE, p.encode())
            if i % 3 == 0:
                s.poll(1)  # let some of them get as far as the handshake
            s.close()
        steady.wait_for(lambda m: m.topic == "bridge/heartbeat/", what="a heartbeat")
        later = self.subscriber(d, ["sensor/"])
        later.wait_for(lambda m: m.topic.startswith("sensor/sim-t1/"), what="a sample")
        self.assertLessEqual(c.call("bridge.info")["subscriptions"]["connections"], 3 + 300)


# The same pupil on the WebSocket endpoint (a tablet's page), ZWS 2.0 by hand: subscribes to the
# prefixes of argv[2:], then for each line on stdin receives until a heartbeat published after
# it and prints {topic: count}.
_AS_USER_WS = r"""
import json, sys, time, websocket
ws = websocket.create_connection(sys.argv[1], subprotocols=["ZWS2.0"], timeout=10)
ws.send_binary(b"\x00")
for p in sys.argv[2:]:
    ws.send_binary(b"\x00\x01" + p.encode())
frames = []
def message(deadline):
    global frames
    while time.monotonic() < deadline:
        ws.settimeout(max(deadline - time.monotonic(), 0.01))
        try:
            data = ws.recv_data()[1]
        except websocket.WebSocketTimeoutException:
            return None
        frames.append(bytes(data[1:]))
        if not data[0] & 1:
            m, frames = frames, []
            return m
    return None
for line in sys.stdin:
    since, deadline, topics = time.time_ns(), time.monotonic() + 10, {}
    while True:
        m = message(deadline)
        if m is None:
            break
        t = m[0].decode("utf-8", "replace")
        topics[t] = topics.get(t, 0) + 1
        if t == "bridge/heartbeat/" and json.loads(m[1])["t_host"] > since:
            break
    sys.stdout.write(json.dumps(topics) + "\n")
    sys.stdout.flush()
"""


class WebSocketPolicyTest(BridgeTest):
    _P = test_printer.PrinterTest
    TEST_TIMEOUT = _P.TEST_TIMEOUT
    emulator, printer = _P.emulator, _P.printer

    def test_a_pupils_page_is_checked_like_its_programs(self):
        try:
            import websocket  # noqa: F401 (Debian's python3-websocket)
        except ImportError:
            self.skipTest("python3-websocket is not installed")
        e = self.emulator()
        d = self.start_bridge(test_printer.conf(self.tmp, e.path, None, None, 0), ws=True)
        c = self.client(d)
        wait_until(lambda: self.printer(c), timeout=10, what="the printer")
        url = c.call("bridge.info")["endpoints"].get("ws")
        if url is None:
            self.skipTest("the bridge serves no WebSocket endpoint (libzmq without WS)")
        console = "printer/%s/console/" % PRINTER
        teacher = self.subscriber(d, [console])
        p = subprocess.Popen(
            ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups",
             "/usr/bin/python3", "-c", _AS_USER_WS, url, console, "bridge/heartbeat/"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env={"PATH": "/usr/bin:/bin"})

        def mark():
            p.stdin.write(b"mark\n")
            p.stdin.flush()
            return json.loads(p.stdout.readline() or "null")

        try:
            self.assertIsNotNone(mark())  # subscribed
            c.call("device.call", {"device": PRINTER, "action": "gcode",
                                   "args": {"lines": "M104 S130"}})
            teacher.wait_for(lambda m: m.data.get("line", "").startswith("M104 S130"),
                             what="the console line")
            got = mark()
        finally:
            p.stdin.close()
            p.wait(10)
        self.assertNotIn(console, got)
        self.assertIn("bridge/heartbeat/", got)
        # a page that spoke plain ZWS2.0 has no handshake, hence no identity: an observer
        wait_until(lambda: "stream subscription refused" in d.stderr(), what="the log line")
        self.assertIn("anonymous WebSocket page", [l for l in d.stderr().splitlines()
                                                   if "stream subscription refused" in l][0])
        self.assertGreaterEqual(c.call("bridge.info")["subscriptions"]["refused"], 1)
