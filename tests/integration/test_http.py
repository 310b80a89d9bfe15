"""The bridge's web server (bridge/HTTP.md): static page, path traversal, pairing, sessions,
calls as the session, SSE live data, bad input."""
import base64
import http.client
import json
import os
import socket
import threading
import urllib.parse
import zlib

from lbtest import BridgeTest, make_conf, sensor, wait_until

FORBIDDEN, LEASED = 1002, 1003
LAB = {"t1": sensor(rate=50), "t2": sensor(rate=50)}


class Web:
    """A small HTTP client of one bridge's web server."""

    def __init__(self, url):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port

    def conn(self, timeout=10):
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, method, path, body=None, token=None, headers=None):
        """(status, headers, body bytes) of one request on a fresh connection."""
        h = dict(headers or {})
        if token:
            h["Authorization"] = "Bearer " + token
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        c = self.conn()
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        finally:
            c.close()

    def json(self, method, path, body=None, token=None):
        status, _, data = self.request(method, path, body, token)
        return status, json.loads(data)

    def raw(self, request_bytes):
        """Send raw bytes, return the status line's code (the path is not normalised by
        http.client)."""
        with socket.create_connection((self.host, self.port), timeout=10) as s:
            s.sendall(request_bytes)
            data = b""
            while b"\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.") else None

    def pair(self, code):
        status, j = self.json("POST", "/api/pair", {"code": code})
        assert status == 200, (status, j)
        return j

    def call(self, token, method, params=None):
        status, j = self.json("POST", "/api/call", {"method": method, "params": params or {}},
                              token)
        assert status == 200, (status, j)
        return j


class SSE:
    """An event stream being read: its events as (name, data) pairs, or the 'msg' events' data."""

    def __init__(self, web, path, timeout=10):
        self.c = web.conn(timeout=timeout)
        self.c.request("GET", path)
        self.r = self.c.getresponse()
        self.status = self.r.status
        self.end_reason = None

    def pairs(self):
        """Every event as (event name, decoded data), as they come, until the stream ends."""
        event = None
        while True:
            line = self.r.readline()
            if not line:
                return
            line = line.decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                yield event, json.loads(line[6:])

    def events(self):
        """The data of each 'msg' event, as they come (an 'end' event's reason is kept)."""
        for event, data in self.pairs():
            if event == "end":
                self.end_reason = data["reason"]
            elif event == "msg":
                yield data

    def close(self):
        self.c.close()


class HttpTest(BridgeTest):

    def start_web(self, conf=None):
        d = self.start_bridge(conf or make_conf(LAB), http="127.0.0.1:0")
        url = d.web_url()
        self.assertIsNotNone(url, "no 'web page on' line:\n" + d.log())
        return d, Web(url), self.client(d)

    def test_static_files_and_traversal(self):
        d, web, _ = self.start_web()
        status, headers, body = web.request("GET", "/")
        self.assertEqual(status, 200)
        self.assertTrue(headers["Content-Type"].startswith("text/html"))
        self.assertIn(b"labbridge", body)
        self.assertEqual(headers.get("X-Content-Type-Options"), "nosniff")
        self.assertIn("Cache-Control", headers)
        self.assertEqual(web.request("GET", "/index.html")[0], 200)
        self.assertEqual(web.request("HEAD", "/index.html")[0], 200)
        self.assertEqual(web.request("GET", "/missing.js")[0], 404)
        self.assertEqual(web.request("POST", "/index.html", b"x")[0], 405)
        # traversal, raw on the wire (http.client would not normalise, but be sure)
        for path in (b"/../README.md", b"/%2e%2e/README.md", b"/%2E%2E%2FREADME.md",
                     b"/..%2f..%2fetc/passwd", b"//etc/passwd", b"/index.html%00.png",
                     b"/%00", b"/.git/config", b"/a\\..\\README.md", b"/%5c..%5cREADME.md",
                     b"/%zz", b"/" + b"a/" * 400):
            with self.subTest(path=path):
                self.assertEqual(web.raw(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n"), 404)
        # a directory is not listed
        self.assertEqual(web.request("GET", "/api")[0], 404)
        self.assertIn("refused (404", d.stderr())

    def test_bad_address_and_busy_port(self):
        d = self.start_bridge(make_conf(LAB), http="nowhere:80", ready=False, check_exit=False)
        self.assertEqual(d.wait_exit(15), 1)
        self.assertIn("is not ADDR:PORT", d.stderr())
        # the port taken by another program: the bridge runs, without its page, and says so
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            d2 = self.start_bridge(make_conf(LAB), name="busy",
                                   http="127.0.0.1:%d" % taken.getsockname()[1])
            self.assertIsNone(d2.web_url())
            self.assertIn("cannot listen", d2.stderr())
            self.assertEqual(len(self.client(d2).call("devices.list")), 2)

    def test_pairing_calls_and_roles(self):
        d, web, teacher = self.start_web()
        p = teacher.call("pair.new", {"name": "5B group 3", "role": "student"})
        self.assertEqual(len(p["code"]), 6)
        self.assertFalse(set(p["code"]) & set("01OI"))
        self.assertTrue(p["url"].endswith("/#pair=" + p["code"]))
        self.assertIn("%d/" % web.port, p["url"])
        # the code typed loosely works once
        s = web.pair(p["code"][:3].lower() + "-" + p["code"][3:])
        self.assertEqual((s["role"], s["name"], s["user"]), ("student", "5B group 3",
                                                            "web:" + p["id"]))
        self.assertEqual(len(s["token"]), 43)
        status, j = web.json("POST", "/api/pair", {"code": p["code"]})
        self.assertEqual((status, j["error"]["code"]), (403, "forbidden"))
        # calls run as the session: its identity, its role
        tok = s["token"]
        self.assertEqual(web.call(tok, "whoami")["result"],
                         {"user": "web:" + p["id"], "role": "student", "name": "5B group 3"})
        self.assertEqual(len(web.call(tok, "devices.list")["result"]), 2)
        for method in ("pair.new", "pair.list", "pair.revoke"):
            with self.subTest(method=method):
                err = web.call(tok, method, {"name": "x", "id": "p1"})["error"]
                self.assertEqual((err["name"], err["code"]), ("forbidden", FORBIDDEN))
        # a student on the request socket cannot make pairing codes either
        student_bridge = self.start_bridge(make_conf(LAB, access={"default_role": "student"}),
                                           name="students")
        self.assertError(self.client(student_bridge).error("pair.new", {"name": "x"}),
                         "forbidden", FORBIDDEN)
        # the teacher sees the pairing list, without codes
        listed = teacher.call("pair.list")["pairings"]
        self.assertNotIn(p["id"], [x["id"] for x in listed])  # single use: used up
        self.assertNotIn("code", json.dumps(listed))
        # a teacher's session may do what a teacher may
        t = teacher.call("pair.new", {"name": "prof", "role": "teacher"})
        ttok = web.pair(t["code"])["token"]
        self.assertIn("pairings", web.call(ttok, "pair.list")["result"])
        # the session as the page sees it
        status, j = web.json("GET", "/api/session", token=tok)
        self.assertEqual((status, j["role"]), (200, "student"))

    def test_leases_belong_to_each_session(self):
        d, web, teacher = self.start_web()
        p = teacher.call("pair.new", {"name": "group", "uses": 2})
        a, b = web.pair(p["code"])["token"], web.pair(p["code"])["token"]
        self.assertIn("result", web.call(a, "lease.acquire", {"device": "sim-t1"}))
        err = web.call(b, "device.set", {"device": "sim-t1", "key": "rate", "value": 25})["error"]
        self.assertEqual(err["code"], LEASED)
        self.assertIn("result", web.call(a, "device.set", {"device": "sim-t1", "key": "rate",
                                                           "value": 25}))

    def test_bad_tokens_and_bodies(self):
        d, web, teacher = self.start_web()
        p = teacher.call("pair.new", {"name": "g", "session_s": 1})
        s = web.pair(p["code"])
        for tok, why in ((None, "no session token"), ("x" * 43, "unknown token"),
                         ("short", "malformed")):
            with self.subTest(token=tok):
                status, j = web.json("POST", "/api/call", {"method": "whoami"}, tok)
                self.assertEqual((status, j["error"]["code"]), (401, "unauthorized"))
                self.assertIn(why, j["error"]["message"])
        # bad bodies
        for body, status, code in ((b"{", 400, "parse_error"), (b"[]", 400, "invalid_request"),
                                   (b'{"method": "A B"}', 400, "invalid_request"),
                                   (b'{"method": "x", "params": 3}', 400, "invalid_request")):
            with self.subTest(body=body):
                st, _, data = web.request("POST", "/api/call", body, s["token"])
                self.assertEqual((st, json.loads(data)["error"]["code"]), (status, code))
        # an unknown method is the bridge's own error
        err = web.call(s["token"], "no.such")["error"]
        self.assertEqual(err["name"], "method_not_found")
        # oversized: refused from its Content-Length, before the body is read
        self.assertEqual(web.raw(b"POST /api/call HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                                 + s["token"].encode() + b"\r\nContent-Length: 5000000\r\n\r\n"),
                         413)
        self.assertEqual(web.raw(b"POST /api/pair HTTP/1.1\r\nHost: x\r\n"
                                 b"Content-Length: 2000\r\n\r\n"), 413)
        # a chunked body that grows too large is refused as it grows (the body never ends
        # here: a server reading it to its end would leave recv() to time out)
        with socket.create_connection((web.host, web.port), timeout=10) as sk:
            try:
                sk.sendall(b"POST /api/call HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                           + s["token"].encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\n")
                for _ in range(32):  # 2 MiB, no last chunk
                    sk.sendall(b"%x\r\n%s\r\n" % (65536, b"a" * 65536))
            except (BrokenPipeError, ConnectionResetError):
                pass  # closed while we wrote: refused
            try:
                answer = sk.recv(4096)
            except ConnectionResetError:
                answer = b""
        self.assertTrue(answer == b"" or answer.startswith(b"HTTP/1.1 413"), answer)
        wait_until(lambda: "the body is over the size limit" in d.stderr(), what="the log")
        # headers over the connection's memory
        self.assertIn(web.raw(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40000 +
                              b"\r\n\r\n"), (413, 431, None))
        # the session's maximum age (1 s): refused as expired afterwards
        wait_until(lambda: web.json("POST", "/api/call", {"method": "whoami"},
                                    s["token"])[0] == 401, timeout=5, what="the session's end")
        status, j = web.json("POST", "/api/call", {"method": "whoami"}, s["token"])
        self.assertIn("expired", j["error"]["message"])
        # wrong codes are rate limited per address
        for _ in range(5):
            self.assertEqual(web.json("POST", "/api/pair", {"code": "ZZZZZZ"})[0], 403)
        q = teacher.call("pair.new", {"name": "late"})
        self.assertEqual(web.json("POST", "/api/pair", {"code": q["code"]})[0], 429)
        self.assertIn("unknown or expired pairing code", d.stderr())
        # the bridge still serves everyone
        self.assertEqual(len(teacher.call("devices.list")), 2)
        self.assertEqual(web.request("GET", "/")[0], 200)

    def test_revoke_ends_sessions(self):
        d, web, teacher = self.start_web()
        p = teacher.call("pair.new", {"name": "g", "uses": 2})
        a = web.pair(p["code"])["token"]
        stream = SSE(web, "/api/stream?topics=sensor/&token=" + a)
        self.assertEqual(stream.status, 200)
        self.assertEqual(teacher.call("pair.revoke", {"id": p["id"]}),
                         {"id": p["id"], "revoked": True, "sessions": 1})
        status, j = web.json("POST", "/api/call", {"method": "whoami"}, a)
        self.assertEqual(status, 401)
        self.assertIn("revoked", j["error"]["message"])
        self.assertEqual(web.json("POST", "/api/pair", {"code": p["code"]})[0], 403)
        # the open stream ends within a second or so, saying why
        for _ in stream.events():
            pass
        self.assertIn("revoked", stream.end_reason or "")
        stream.close()

    def test_sse_delivers_samples_in_order(self):
        d, web, teacher = self.start_web()
        p = teacher.call("pair.new", {"name": "g"})
        tok = web.pair(p["code"])["token"]
        # the bridge's topic policy (topics.h): a student may not subscribe to another group's
        # robot console or scan images (refused before the stream starts); a broad prefix is
        # narrowed to what a student may receive
        for topics in ("robot/r1/console/", "sensor/,scanner/s1/image/", "printer/p/console/"):
            with self.subTest(topics=topics):
                status, _, data = web.request("GET", "/api/stream?token=%s&topics=%s" % (
                    tok, urllib.parse.quote(topics, safe="")))
                self.assertEqual(status, 403, data)
                self.assertEqual(json.loads(data)["error"]["code"], "forbidden")
        narrowed = SSE(web, "/api/stream?topics=robot/&token=" + tok)
        self.assertEqual(narrowed.status, 200)
        narrowed.close()
        self.assertEqual(web.request("GET", "/api/stream?topics=sensor/")[0], 401)
        stream = SSE(web, "/api/stream?topics=sensor/sim-t1/&token=" + tok)
        self.assertEqual(stream.status, 200)
        self.assertTrue(stream.r.getheader("Content-Type").startswith("text/event-stream"))
        seqs = []
        for ev in stream.events():
            self.assertTrue(ev["topic"].startswith("sensor/sim-t1/"))
            if ev["header"]["type"] == "f32":
                self.assertEqual(len(ev["values"]), ev["header"]["count"])
                self.assertTrue(all(isinstance(v, (int, float)) for v in ev["values"]))
                seqs.append(ev["header"]["seq"])
                self.assertEqual(ev["gap"], 0)
            if len(seqs) >= 20:
                break
        stream.close()
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] + 20)))
        # a teacher's session may watch anything
        t = web.pair(teacher.call("pair.new", {"name": "prof", "role": "teacher"})["code"])
        s2 = SSE(web, "/api/stream?topics=bridge/heartbeat/,robot/&token=" + t["token"])
        self.assertEqual(s2.status, 200)
        ev = next(s2.events())
        self.assertEqual(ev["topic"], "bridge/heartbeat/")
        # left open: the bridge must stop cleanly with a stream in progress (tearDown checks)
        self.keep = s2

    def test_upload_as_the_session(self):
        d, web, teacher = self.start_web()
        tok = web.pair(teacher.call("pair.new", {"name": "g"})["code"])["token"]
        data = b"; generated by PrusaSlicer 2.6.0\nG28\nG90\nG1 X10 Y10 E1\n"
        params = {"request_id": "web-1", "name": "w.gcode", "offset": 0, "final": True,
                  "crc32": zlib.crc32(data)}
        body = {"method": "print.upload", "params": params,
                "data": base64.b64encode(data).decode()}
        status, j = web.json("POST", "/api/call", body, tok)
        self.assertEqual(status, 200, j)
        self.assertIn("result", j, j)
        self.assertRegex(j["result"]["owner"], r"^web:p1\.[0-9a-f]{6}$")
        # the job is the session's: the teacher sees who sent it
        self.assertEqual(teacher.call("jobs.get", {"id": j["result"]["id"]})["owner"],
                         j["result"]["owner"])
        # a binary frame for a method that takes none: the bridge's own refusal
        status, j = web.json("POST", "/api/call", {"method": "whoami", "data": "AAAA"}, tok)
        self.assertEqual((status, j["error"]["name"]), (200, "invalid_params"))

    def test_download_a_result_file(self):
        conf = make_conf(LAB, bridge={"data_dir": os.path.join(self.tmp, "data")})
        d, web, teacher = self.start_web(conf)
        tok = web.pair(teacher.call("pair.new", {"name": "g"})["code"])["token"]
        data = b"; generated by PrusaSlicer 2.6.0\nG28\n"
        job = web.call(tok, "print.upload", {
            "request_id": "web-2", "name": "w.gcode", "offset": 0, "final": True,
            "crc32": zlib.crc32(data)})
        self.assertIn("error", job)  # no data: the bridge says what is missing
        status, j = web.json("POST", "/api/call", {
            "method": "print.upload", "data": base64.b64encode(data).decode(),
            "params": {"request_id": "web-2", "name": "w.gcode", "offset": 0, "final": True,
                       "crc32": zlib.crc32(data)}}, tok)
        jid = j["result"]["id"]
        # a result file left in the job's folder is recorded at the next start
        d.stop()
        blob = bytes(range(256)) * 5000  # 1.28 MB: more than one jobs.fetch
        with open(os.path.join(self.tmp, "data", "jobs", str(jid), "log.txt"), "wb") as f:
            f.write(blob)
        d2 = self.start_bridge(conf, name="again", http="127.0.0.1:0")
        web2, teacher2 = Web(d2.web_url()), self.client(d2)
        # the session survived the restart (web.db): its token still owns its job; a new
        # pairing is another user, not the owner
        status, _, body = web2.request("GET", "/api/file?job=%d&file=log.txt&token=%s"
                                       % (jid, tok))
        self.assertEqual((status, body), (200, blob))
        other = web2.pair(teacher2.call("pair.new", {"name": "g"})["code"])["token"]
        status, _, body = web2.request("GET", "/api/file?job=%d&file=log.txt&token=%s"
                                       % (jid, other))
        self.assertEqual(status, 403, body)
        prof = web2.pair(teacher2.call("pair.new", {"name": "p", "role": "teacher"})["code"])
        status, headers, body = web2.request("GET", "/api/file?job=%d&file=log.txt&token=%s"
                                             % (jid, prof["token"]))
        self.assertEqual(status, 200)
        self.assertEqual(body, blob)
        self.assertIn("attachment", headers["Content-Disposition"])
        self.assertTrue(headers["Content-Type"].startswith("text/plain"))
        for bad in ("job=%d&file=..%%2Fjobs.db" % jid, "job=x&file=log.txt",
                    "job=%d&file=nope.txt" % jid):
            with self.subTest(query=bad):
                status, _, body = web2.request("GET", "/api/file?%s&token=%s"
                                               % (bad, prof["token"]))
                self.assertIn(status, (400, 404), body)

    def test_concurrent_calls_keep_their_identity(self):
        d, web, teacher = self.start_web()
        groups = []
        for i in range(8):
            p = teacher.call("pair.new", {"name": "group %d" % i})
            groups.append((web.pair(p["code"])["token"], "web:" + p["id"], "group %d" % i))
        wrong, errors = [], []

        def worker(tok, user, name):
            try:
                for _ in range(15):
                    r = web.call(tok, "whoami")["result"]
                    if (r["user"], r["name"]) != (user, name):
                        wrong.append((user, r))
            except Exception as e:  # reported below, with the others
                errors.append(repr(e))

        threads = [threading.Thread(target=worker, args=g) for g in groups]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual((wrong, errors), ([], []))
