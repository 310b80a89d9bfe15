"""Web sessions (bridge/HTTP.md): kept across a restart, the pairing QR code, labctl pair, a
student's own restricted topics over SSE, IPv6."""
import json
import os
import socket
import subprocess
import time
import xml.etree.ElementTree as ET

from lbtest import BridgeTest, labctl_path, make_conf, san_env, wait_until
from test_http import LAB, SSE, Web

SVG = "{http://www.w3.org/2000/svg}"


class WebSessionsTest(BridgeTest):

    def start_web(self, conf=None, name="bridge", http="127.0.0.1:0"):
        d = self.start_bridge(conf or make_conf(LAB), name=name, http=http)
        url = d.web_url()
        self.assertIsNotNone(url, "no 'web page on' line:\n" + d.log())
        return d, Web(url), self.client(d)

    def test_restart_keeps_sessions(self):
        d, web, teacher = self.start_web()
        p = teacher.call("pair.new", {"name": "5B group 3", "uses": 2})
        s = web.pair(p["code"])
        tok = s["token"]
        job = web.call(tok, "jobs.list", {})  # the session works before
        self.assertIn("result", job)
        gone = teacher.call("pair.new", {"name": "revoked group"})
        gtok = web.pair(gone["code"])["token"]
        self.assertEqual(teacher.call("pair.revoke", {"id": gone["id"]})["sessions"], 1)
        short = teacher.call("pair.new", {"name": "short", "ttl_s": 10})
        # only hashes in the file: neither the token nor the codes
        with open(os.path.join(self.tmp, "bridge-data", "web.db"), "rb") as f:
            raw = f.read()
        for path in ("web.db-wal",):
            if os.path.exists(os.path.join(self.tmp, "bridge-data", path)):
                with open(os.path.join(self.tmp, "bridge-data", path), "rb") as f:
                    raw += f.read()
        for secret in (tok, gtok, p["code"], short["code"]):
            self.assertNotIn(secret.encode(), raw)
        # and readable by the bridge's user only (a 6-letter code's hash is cheap to reverse)
        self.assertEqual(os.stat(os.path.join(self.tmp, "bridge-data", "web.db")).st_mode & 0o077,
                         0)
        self.assertEqual(d.stop(), 0)

        d2, web2, teacher2 = self.start_web()
        # the same token works, as the same user, role and name
        status, j = web2.json("GET", "/api/session", token=tok)
        self.assertEqual(status, 200, j)
        self.assertEqual((j["user"], j["role"], j["name"]),
                         ("web:" + p["id"], "student", "5B group 3"))
        self.assertEqual(web2.call(tok, "whoami")["result"]["user"], "web:" + p["id"])
        # the revoked pairing stays revoked: its session and its code are gone
        status, j = web2.json("GET", "/api/session", token=gtok)
        self.assertEqual(status, 401)
        status, j = web2.json("POST", "/api/pair", {"code": gone["code"]})
        self.assertEqual(status, 403)
        # the unused pairing is still listed with its use left, and its code still works
        listed = {x["id"]: x for x in teacher2.call("pair.list")["pairings"]}
        self.assertEqual(listed[p["id"]]["uses_left"], 1)
        self.assertNotIn(gone["id"], listed)
        s2 = web2.pair(p["code"])
        self.assertNotEqual(s2["token"], tok)
        # leases: each session its own identity, also after the restart
        self.assertIn("result", web2.call(tok, "lease.acquire", {"device": "sim-t1"}))
        err = web2.call(s2["token"], "device.set", {"device": "sim-t1", "key": "rate",
                                                    "value": 25})["error"]
        self.assertEqual(err["name"], "leased")

    def test_bad_file_set_aside(self):
        data = os.path.join(self.tmp, "bad-data")
        os.makedirs(data, exist_ok=True)
        with open(os.path.join(data, "web.db"), "wb") as f:
            f.write(b"this is not a database " * 100)
        d, web, teacher = self.start_web(name="bad")
        self.assertIn("starting with no session", d.stderr())
        self.assertTrue([n for n in os.listdir(data) if n.startswith("web.db.bad-")])
        p = teacher.call("pair.new", {"name": "g"})
        self.assertEqual(web.pair(p["code"])["role"], "student")

    def test_qr_svg(self):
        d, web, teacher = self.start_web()
        p = teacher.call("pair.new", {"name": "g"})
        root = ET.fromstring(p["qr_svg"])
        self.assertEqual(root.tag, SVG + "svg")
        vb = [int(v) for v in root.get("viewBox").split()]
        self.assertEqual(vb[:2], [0, 0])
        self.assertEqual(vb[2], vb[3])
        self.assertTrue((vb[2] - 8 - 21) % 4 == 0, vb)  # a QR version's width + 2 x 4 quiet
        paths = root.findall(SVG + "path")
        self.assertEqual(len(paths), 1)
        self.assertEqual(paths[0].get("shape-rendering"), "crispEdges")
        self.assertEqual(paths[0].get("fill"), "#000")
        # no module in the quiet zone; the three finder patterns' corners are dark
        dark = set()
        for part in paths[0].get("d").split("M")[1:]:
            x, rest = part.split(" ", 1)
            y, rest = rest.split("h", 1)
            run = int(rest.split("v", 1)[0])
            for i in range(run):
                dark.add((int(x) + i, int(y)))
        side = vb[2]
        self.assertTrue(all(4 <= x < side - 4 and 4 <= y < side - 4 for x, y in dark))
        for corner in ((4, 4), (side - 5, 4), (4, side - 5)):
            self.assertIn(corner, dark)

    def test_labctl_pair(self):
        d, web, teacher = self.start_web()
        env = san_env()
        labctl = labctl_path()

        def run(*args):
            return subprocess.run([labctl, "--rpc", d.rpc, "pair"] + list(args),
                                  capture_output=True, timeout=30, env=env)

        r = run("new", "--name", "5B", "--uses", "3", "--ttl", "120")
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout.decode()
        self.assertIn("\u2580", out)  # half blocks
        code = out.split("code: ")[1].split()[0]
        url = out.split("url:  ")[1].split()[0]
        self.assertTrue(url.endswith("#pair=" + code))
        self.assertEqual(web.pair(code)["name"], "5B")
        r = run("list")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("5B", r.stdout.decode())
        pid = r.stdout.decode().splitlines()[1].split()[0]
        r = run("revoke", pid)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("1 session ended", r.stdout.decode())
        self.assertEqual(run("new").returncode, 2)  # --name is required
        self.assertEqual(run("new", "--name", "x", "--uses", "0").returncode, 2)

    # -- IPv6

    def need_ipv6_loopback(self):
        try:
            with socket.socket(socket.AF_INET6) as s:
                s.bind(("::1", 0))
        except OSError as e:
            self.skipTest("allowed: this machine has no IPv6 loopback (::1): %s" % e)

    def fetch(self, host, port):
        """The status of GET / on host:port, or None when nothing answers there."""
        try:
            w = Web("http://%s:%d/" % ("[%s]" % host if ":" in host else host, port))
            return w.request("GET", "/")[0]
        except OSError:
            return None

    def test_ipv6_loopback(self):
        self.need_ipv6_loopback()
        d, web, teacher = self.start_web(http="[::1]:0")
        self.assertTrue(d.web_url().startswith("http://[::1]:"), d.web_url())
        self.assertEqual(web.host, "::1")
        self.assertEqual(self.fetch("::1", web.port), 200)
        self.assertIsNone(self.fetch("127.0.0.1", web.port))
        p = teacher.call("pair.new", {"name": "g"})
        self.assertTrue(p["url"].startswith("http://[::1]:%d/#pair=" % web.port), p["url"])
        s = web.pair(p["code"])
        self.assertEqual(web.call(s["token"], "whoami")["result"]["role"], "student")

    def test_every_address_both_families(self):
        self.need_ipv6_loopback()
        d, web, teacher = self.start_web(http="*:0")
        self.assertEqual(self.fetch("127.0.0.1", web.port), 200)
        self.assertEqual(self.fetch("::1", web.port), 200)
        # an IPv4 client of the dual-stack socket is logged as IPv4
        Web("http://127.0.0.1:%d/" % web.port).request("GET", "/missing")
        self.assertIn("http: 127.0.0.1 /missing refused", d.stderr())
        # [::]: IPv6 only
        d2, web2, _ = self.start_web(name="v6only", http="[::]:0")
        self.assertEqual(self.fetch("::1", web2.port), 200)
        self.assertIsNone(self.fetch("127.0.0.1", web2.port))

    # -- a student's own restricted topics over SSE

    def robot_lab(self):
        d = self.start_bridge(make_conf({}, bridge={
            "emulate": "micropython", "request_timeout_ms": 5000}), http="127.0.0.1:0")
        c = self.client(d)
        wait_until(lambda: c.call("robot.list"), timeout=20, what="the emulated robot")
        rid = c.call("robot.list")[0]["device"]
        return d, Web(d.web_url()), c, rid

    def run_program(self, web, tok, rid, text):
        load = {"device": rid, "language": "micropython", "source": "print(%r)\n" % text}
        for method, params in (("robot.program.load", load),
                               ("robot.program.run", {"device": rid})):
            r = web.call(tok, method, params)
            self.assertIn("result", r, r)

    def test_owner_gets_its_console_until_the_lease_is_forced(self):
        d, web, teacher, rid = self.robot_lab()
        console = "robot/%s/console/" % rid
        mine = web.pair(teacher.call("pair.new", {"name": "group 1"})["code"])["token"]
        other = web.pair(teacher.call("pair.new", {"name": "group 2"})["code"])["token"]
        watcher = web.pair(teacher.call("pair.new", {"name": "watch", "role": "observer"})
                           ["code"])["token"]
        # nobody's: refused to a student, and to an observer always
        self.assertEqual(web.request("GET", "/api/stream?topics=%s&token=%s" % (console, mine))[0],
                         403)
        self.assertIn("result", web.call(mine, "lease.acquire", {"device": rid}))
        for tok in (other, watcher):
            status, _, body = web.request("GET", "/api/stream?topics=%s&token=%s" % (console,
                                                                                  tok))
            self.assertEqual(status, 403, body)
            self.assertEqual(json.loads(body)["error"]["code"], "forbidden")
        # the holder's stream: its program's output
        sse = Events(web, "/api/stream?topics=%s,bridge/heartbeat/&token=%s" % (console, mine))
        self.assertEqual(sse.status, 200)
        self.run_program(web, mine, rid, "hello 42")
        text = []
        for ev, data in sse.events():
            if ev == "msg" and data["topic"] == console:
                text.append((data["header"].get("data") or {}).get("text", ""))
                if "hello 42" in "".join(text):
                    break
        # a teacher takes the robot: the stream gets `revoked`, then no console line
        teacher_sub = self.subscriber(d, [console])
        teacher.call("lease.acquire", {"device": rid, "force": True})
        revoked = None
        for ev, data in sse.events():
            if ev == "revoked":
                revoked = data
                break
            self.assertNotEqual(ev, "end")
        self.assertEqual(revoked["topic"], console)
        self.assertIn("taken by", revoked["reason"])
        load = {"device": rid, "language": "micropython", "source": "print('after 7')\n"}
        teacher.call("robot.program.load", load, timeout=30)
        teacher.call("robot.program.run", {"device": rid})
        seen = []

        def has_after(m):
            seen.append(m.data.get("text", ""))
            return "after 7" in "".join(seen)
        teacher_sub.wait_for(has_after, timeout=30, what="the teacher's program output")
        since = time.time_ns()
        for ev, data in sse.events():  # the stream stays open: heartbeats go on
            self.assertNotEqual(ev, "end")
            if ev == "msg":
                self.assertNotEqual(data["topic"], console, "a console line after revoked")
                if data["topic"] == "bridge/heartbeat/" and data["header"]["t_host"] > since:
                    break
        sse.close()
        # taken again: only a new stream gets it
        self.assertEqual(web.request("GET", "/api/stream?topics=%s&token=%s" % (console, mine))[0],
                         403)

    def test_internal_method_unreachable(self):
        d, web, teacher = self.start_web()
        params = {"stream": 1, "prefixes": ["robot/"]}
        tt = web.pair(teacher.call("pair.new", {"name": "prof", "role": "teacher"})["code"])
        err = web.call(tt["token"], "web.stream_grant", params)["error"]
        self.assertEqual(err["name"], "method_not_found")
        self.assertEqual(teacher.error("web.stream_grant", params)["name"], "method_not_found")
        self.assertNotIn("web.stream_grant", [m["method"] for m in teacher.call("bridge.methods")])


class Events(SSE):
    """An event stream being read: (event, data) pairs, every event named."""

    def __init__(self, web, path):
        super().__init__(web, path, timeout=30)

    def events(self):
        return self.pairs()
