"""The network's endpoints (net_rpc, net_pub): CURVE only, each client's role and name from its
registered key, keys added and revoked while the bridge runs, labctl keys end to end."""
import json
import os
import shutil
import stat
import subprocess
import tempfile

import zmq

from lbtest import (BridgeTest, register_key, make_conf, sensor, labctl_path, run_program, san_env,
                    sanitizer_errors)

LAB = {"t1": sensor(rate=50)}
FORBIDDEN = 1002
NET = ["--net-rpc", "tcp://127.0.0.1:0", "--net-pub", "tcp://127.0.0.1:0"]
SILENT = 1.0  # seconds a refused client waits: what it is refused is nothing at all


class CurveBase(BridgeTest):
    """Helpers: key files, a bridge with network endpoints, CURVE sockets, labctl."""

    def setUp(self):
        super().setUp()
        self.data = os.path.join(self.tmp, "net-data")
        self.env = {"STATE_DIRECTORY": self.data}

    def add_key_file(self, role, name):
        """Register a key the way a person could: a certificate file in <data_dir>/keys."""
        return register_key(self.data, role, name)

    def start_net(self, name="net", **kw):
        d = self.start_bridge(make_conf(LAB), name=name, args=NET, env=self.env, **kw)
        if kw.get("ready", True):
            local = self.client(d)
            self.info = local.call("bridge.info")["endpoints"]
            self.local = local
            keys = local.call("keys.list")
            self.server_key = keys["server_key"]
        return d

    def curve(self, kind, pub, sec, endpoint, server_key=None, monitor=False):
        """A CURVE socket connected to endpoint; with monitor, its events are watched from
        before the connection (wait_event)."""
        s = self.ctx.socket(kind)
        s.setsockopt(zmq.LINGER, 0)
        s.curve_serverkey = (server_key or self.server_key).encode()
        s.curve_publickey = pub.encode()
        s.curve_secretkey = sec.encode()
        if monitor:
            mon = s.get_monitor_socket()
            self._sockets.append(mon)
            self.monitors = getattr(self, "monitors", {})
            self.monitors[s] = mon
        s.connect(endpoint)
        self._sockets.append(s)
        return s

    def wait_event(self, sock, event, timeout=10.0):
        """Wait for the monitor event `event` on sock (made with monitor=True), skipping
        others; AssertionError, naming the events seen, when it does not come in time."""
        import time
        import zmq.utils.monitor
        mon, seen = self.monitors[sock], []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not mon.poll(int(left * 1000)):
                self.fail("no event 0x%x within %.0f s (seen: %s)" %
                          (event, timeout, ", ".join("0x%x" % e for e in seen)))
            e = zmq.utils.monitor.recv_monitor_message(mon)["event"]
            if e == event:
                return
            seen.append(e)

    def ask(self, sock, method, params=None, timeout=5.0):
        """A request over a raw DEALER: the reply, or None when nothing came within timeout."""
        # not waiting to send: once a handshake was refused (ZAP 400) libzmq does not
        # reconnect and drops the connection's queue, and a DEALER with no queue blocks a
        # send for ever (this test's old 60 s hang, when the refusal came before the send)
        try:
            sock.send_multipart([b"", json.dumps({"id": 1, "method": method,
                                                  "params": params or {}}).encode()],
                                flags=zmq.DONTWAIT)
        except zmq.Again:
            return None  # nowhere to queue it: nothing can come back either
        if not sock.poll(int(timeout * 1000)):
            return None
        return json.loads(sock.recv_multipart()[-1])

    def labctl(self, d, *args, expect=0):
        cmd = [labctl_path(), "--pub", d.pub, "--rpc", d.rpc] + list(args)
        rc, out, err, _ = run_program(cmd, 60, env=san_env())
        self.assertEqual(sanitizer_errors(err), [], err)
        self.assertEqual(rc, expect, "labctl %s: %s\n%s" % (" ".join(args), out, err))
        return out, err



class CurveTest(CurveBase):

    # ------------------------------------------------------------------ starting

    def test_refuses_to_start_without_keys(self):
        d = self.start_net(ready=False, check_exit=False)
        self.assertEqual(d.wait_exit(20), 1)
        self.assertIn("no client key is registered", d.stderr())
        self.assertIn("labctl keys new --role teacher", d.stderr())

    def test_refuses_a_local_endpoint_on_the_network(self):
        self.add_key_file("teacher", "T")
        d = self.start_bridge(make_conf(LAB), name="open", rpc="tcp://0.0.0.0:0", env=self.env,
                              ready=False, check_exit=False)
        self.assertEqual(d.wait_exit(20), 1)
        self.assertIn("net_rpc = tcp://0.0.0.0:0", d.stderr())

    # ------------------------------------------------------------------ roles and keys

    def test_roles_names_and_refusals(self):
        tpub, tsec = self.add_key_file("teacher", "Mme Durand")
        self.start_net()
        # a key registered while running (a teacher's local request): no restart
        s = self.local.call("keys.new", {"role": "student", "name": "5B group 3"})
        self.assertEqual((s["role"], s["name"]), ("student", "5B group 3"))
        self.assertEqual(len(s["secret_key"]), 40)
        rpc = self.info["net_rpc"]
        student = self.curve(zmq.DEALER, s["public_key"], s["secret_key"], rpc)
        me = self.ask(student, "session.hello")["result"]
        self.assertEqual(me, {"user": "key:" + s["public_key"], "role": "student",
                              "name": "5B group 3"})
        r = self.ask(student, "keys.list")
        self.assertEqual(r["error"]["code"], FORBIDDEN, "keys.* are teachers' requests")
        teacher = self.curve(zmq.DEALER, tpub, tsec, rpc)
        self.assertEqual(self.ask(teacher, "whoami")["result"]["role"], "teacher")
        # an unknown key, and no CURVE at all: nothing, not even an error
        upub, usec = zmq.curve_keypair()
        unknown = self.curve(zmq.DEALER, upub.decode(), usec.decode(), rpc)
        self.assertIsNone(self.ask(unknown, "whoami", timeout=SILENT))
        plain = self.ctx.socket(zmq.DEALER)
        plain.setsockopt(zmq.LINGER, 0)
        plain.connect(rpc)
        self._sockets.append(plain)
        self.assertIsNone(self.ask(plain, "whoami", timeout=SILENT))
        # a wrong server key: the handshake fails on the client's side
        wrong = self.curve(zmq.DEALER, tpub, tsec, rpc, server_key=upub.decode())
        self.assertIsNone(self.ask(wrong, "whoami", timeout=SILENT))
        # the bridge kept serving the others
        self.assertEqual(self.ask(student, "whoami")["result"]["role"], "student")
        self.assertIn("is not registered", self.daemons[0].stderr())

    def test_a_key_revoked_while_running_gets_nothing_more(self):
        tpub, tsec = self.add_key_file("teacher", "T")
        self.start_net()
        s = self.local.call("keys.new", {"role": "student", "name": "pupil"})
        student = self.curve(zmq.DEALER, s["public_key"], s["secret_key"], self.info["net_rpc"],
                             monitor=True)
        self.assertEqual(self.ask(student, "whoami")["result"]["role"], "student")
        streams = self.curve(zmq.SUB, s["public_key"], s["secret_key"], self.info["net_pub"],
                             monitor=True)
        streams.setsockopt(zmq.SUBSCRIBE, b"")
        self.assertTrue(streams.poll(10000), "no stream message over CURVE")
        # revoked by a teacher over the network itself: both its connections are closed
        teacher = self.curve(zmq.DEALER, tpub, tsec, self.info["net_rpc"])
        r = self.ask(teacher, "keys.revoke", {"key": "pupil"})["result"]
        self.assertEqual((r["revoked"]["name"], r["closed"]), ("pupil", 2))
        # each closed connection is seen closed by libzmq, which reconnects, and the handshake
        # is refused (ZAP 400): waited for as events, not guessed from a silence
        for sock in (student, streams):
            self.wait_event(sock, zmq.EVENT_DISCONNECTED)
            self.wait_event(sock, zmq.EVENT_HANDSHAKE_FAILED_AUTH)
        # what was queued before the close is all there is: nothing can come any more
        while streams.poll(0):
            streams.recv_multipart()
        self.assertFalse(streams.poll(int(SILENT * 1000)), "a revoked key still gets streams")
        r = self.ask(student, "whoami", timeout=SILENT)
        self.assertTrue(r is None or r["error"]["code"] == FORBIDDEN, r)
        again = self.curve(zmq.DEALER, s["public_key"], s["secret_key"], self.info["net_rpc"],
                           monitor=True)
        self.wait_event(again, zmq.EVENT_HANDSHAKE_FAILED_AUTH)
        self.assertIsNone(self.ask(again, "whoami", timeout=SILENT))
        self.assertEqual(self.ask(teacher, "whoami")["result"]["role"], "teacher")
        self.assertTrue(os.path.exists(os.path.join(self.data, "keys", "revoked",
                                                    r_fp(self, "pupil") + ".cert")))

    def test_a_revoked_key_file_removed_by_hand_is_refused_on_its_next_request(self):
        tpub, tsec = self.add_key_file("teacher", "T")
        spub, ssec = self.add_key_file("student", "by hand")
        self.start_net()
        student = self.curve(zmq.DEALER, spub, ssec, self.info["net_rpc"])
        self.assertEqual(self.ask(student, "whoami")["result"]["name"], "by hand")
        streams = self.curve(zmq.SUB, spub, ssec, self.info["net_pub"])
        streams.setsockopt(zmq.SUBSCRIBE, b"")
        self.assertTrue(streams.poll(10000), "no stream message over CURVE")
        os.unlink(os.path.join(self.data, "keys", "by_hand.cert"))
        # the store notices the directory changed: at the latest 250 ms later, at once when a
        # teacher looks (keys.*)
        names = [k["name"] for k in self.local.call("keys.list")["keys"]]
        self.assertEqual(names, ["T"])
        # its open connections are closed at the next turn of the bridge's loop: a request on
        # its way is refused, or finds the connection gone
        r = self.ask(student, "whoami", timeout=SILENT)
        self.assertTrue(r is None or (r["error"]["code"], r["error"]["message"]) ==
                        (FORBIDDEN, "this key was revoked: ask the teacher for a new one"), r)
        self.assertEqual(drain_then_silent(streams), True, "a removed key still gets streams")
        self.assertIn("no longer registered", self.daemons[0].stderr())

    def test_streams_over_curve(self):
        tpub, tsec = self.add_key_file("teacher", "T")
        self.start_net()
        s = self.local.call("keys.new", {"role": "observer", "name": "projector"})
        sub = self.curve(zmq.SUB, s["public_key"], s["secret_key"], self.info["net_pub"])
        sub.setsockopt(zmq.SUBSCRIBE, b"sensor/sim-t1/")
        self.assertTrue(sub.poll(10000), "no stream message over CURVE")
        frames = sub.recv_multipart()
        self.assertTrue(frames[0].startswith(b"sensor/sim-t1/"))
        h = json.loads(frames[1])
        self.assertEqual(h["type"], "f32")
        upub, usec = zmq.curve_keypair()
        stranger = self.curve(zmq.SUB, upub.decode(), usec.decode(), self.info["net_pub"])
        stranger.setsockopt(zmq.SUBSCRIBE, b"")
        self.assertFalse(stranger.poll(int(SILENT * 1000)), "an unknown key got streams")
        plain = self.ctx.socket(zmq.SUB)
        plain.setsockopt(zmq.LINGER, 0)
        plain.setsockopt(zmq.SUBSCRIBE, b"")
        plain.connect(self.info["net_pub"])
        self._sockets.append(plain)
        self.assertFalse(plain.poll(int(SILENT * 1000)), "a NULL subscriber got streams")

    # ------------------------------------------------------------------ labctl keys

    def test_labctl_keys_end_to_end(self):
        # the first keys are made on a bridge without network endpoints, then it serves them
        d = self.start_bridge(make_conf(LAB), name="first", env=self.env)
        out_dir = os.path.join(self.tmp, "keys-out")
        os.mkdir(out_dir)
        out, _ = self.labctl(d, "keys", "new", "--role", "teacher", "--name", "Mme Durand",
                             "--output", out_dir)
        self.assertIn("teacher key 'Mme Durand' registered", out)
        secret = os.path.join(out_dir, "Mme_Durand.key_secret")
        self.assertEqual(stat.S_IMODE(os.stat(secret).st_mode), 0o600)
        self.labctl(d, "keys", "new", "--role", "teacher", "--name", "Mme Durand",
                    "--output", out_dir, expect=1)  # a name in use
        d.stop()
        d = self.start_bridge(make_conf(LAB), name="second", args=NET, env=self.env)
        info = self.client(d).call("bridge.info")["endpoints"]
        # pyzmq reads the key pair labctl wrote (zcert format)
        import zmq.auth
        pub, sec = zmq.auth.load_certificate(secret)
        server_key = self.client(d).call("keys.list")["server_key"]
        teacher = self.curve(zmq.DEALER, pub.decode(), sec.decode(), info["net_rpc"],
                             server_key=server_key)
        self.assertEqual(self.ask(teacher, "whoami")["result"]["name"], "Mme Durand")
        out, _ = self.labctl(d, "keys", "new", "--role", "student", "--name", "5B group 3",
                             "--output", out_dir)
        out, _ = self.labctl(d, "keys", "list")
        self.assertRegex(out, r"5B group 3\s+student\s+[0-9a-f]{16}\s+\S+Z\s+never")
        self.assertRegex(out, r"Mme Durand\s+teacher\s+[0-9a-f]{16}\s+\S+Z\s+\d{4}-")
        out, _ = self.labctl(d, "keys", "export", "5B group 3")
        self.assertIn('server-key = "%s"' % server_key, out)
        self.assertIn('net_rpc = "%s"' % info["net_rpc"], out)
        out, _ = self.labctl(d, "keys", "revoke", "5B group 3")
        self.assertIn("revoked student key '5B group 3'", out)
        out, _ = self.labctl(d, "keys", "list", "--json")
        self.assertEqual([k["name"] for k in json.loads(out)["keys"]], ["Mme Durand"])
        # a class's page of QR codes: 9 keys, two pages
        page = os.path.join(self.tmp, "page.pdf")
        out, _ = self.labctl(d, "keys", "qr", "--role", "student", "--prefix", "5B élève",
                             "--count", "9", "-o", page)
        keys = json.loads(self.labctl(d, "keys", "list", "--json")[0])["keys"]
        self.assertEqual(sorted(k["name"] for k in keys if k["role"] == "student"),
                         ["5B élève %d" % i for i in range(1, 10)])
        self.check_qr_page(page, 9, server_key, info["net_rpc"], keys)

    def check_qr_page(self, page, count, server_key, endpoint, keys):
        if not shutil.which("pdfimages"):
            self.skipTest("pdfimages (poppler-utils) is not installed")
        listing = subprocess.run(["pdfimages", "-list", page], capture_output=True, text=True,
                                 check=True).stdout
        self.assertEqual(len(listing.splitlines()) - 2, count, listing)
        if not shutil.which("zbarimg"):
            return
        tmp = tempfile.mkdtemp(dir=self.tmp)
        subprocess.run(["pdfimages", "-png", page, os.path.join(tmp, "qr")], check=True)
        first = sorted(os.listdir(tmp))[0]
        text = subprocess.run(["zbarimg", "-q", "--raw", "-Sbinary", os.path.join(tmp, first)],
                              capture_output=True, check=True).stdout.decode("utf-8").strip()
        fields = dict(f.split("=", 1) for f in text.split(";")[1:])
        self.assertTrue(text.startswith("labbridge:1;"), text)
        self.assertEqual((fields["ep"], fields["sk"], fields["n"]),
                         (endpoint, server_key, "5B élève 1"))
        key = [k for k in keys if k["name"] == "5B élève 1"][0]
        self.assertEqual(fields["pk"], key["public_key"])
        # the code's secret key is the pair of its public one
        self.assertEqual(zmq.curve_public(fields["ck"].encode()).decode(), fields["pk"])


class LabctlCurveTest(CurveBase):
    """labctl and the examples as on another computer: CURVE keys, no local endpoint."""

    NET_ENV = ("LABBRIDGE_PUB", "LABBRIDGE_RPC", "LABBRIDGE_CONNECT", "LABBRIDGE_KEY",
               "LABBRIDGE_SERVER_KEY", "LABBRIDGE_DISCOVER", "LABBRIDGE_CLIENT_CONF")

    def setUp(self):
        super().setUp()
        self.tpub, self.tsec = self.add_key_file("teacher", "T")
        self.start_net()
        self.keydir = os.path.join(self.tmp, "keys-out")
        os.mkdir(self.keydir)

    def new_key(self, role, name):
        """A key pair made with labctl keys new on the bridge's computer: its secret file."""
        self.labctl(self.daemons[0], "keys", "new", "--role", role, "--name", name, "--output",
                    self.keydir)
        return os.path.join(self.keydir, name.replace(" ", "_") + ".key_secret")

    def remote_env(self, extra=None):
        """The environment of a program on another computer: nothing local is named."""
        env = san_env({"XDG_CONFIG_HOME": os.path.join(self.tmp, "no-config")})
        for k in self.NET_ENV:
            env.pop(k, None)
        env.update(extra or {})
        return env

    def remote(self, *args, expect=0, env=None, timeout=40):
        """labctl run with args only (and env): (stdout, stderr)."""
        rc, out, err, _ = run_program([labctl_path()] + list(args), timeout,
                                      env=self.remote_env(env))
        self.assertEqual(sanitizer_errors(err), [], err)
        self.assertEqual(rc, expect, "labctl %s: %s\n%s" % (" ".join(args), out, err))
        return out, err

    def test_labctl_devices_and_watch_with_a_student_key(self):
        secret = self.new_key("student", "5B group 3")
        # the key file alone: it names the endpoints and the bridge's key (keys new wrote them)
        out, _ = self.remote("--key", secret, "devices")
        self.assertIn("sim-t1", out)
        out, _ = self.remote("--key", secret, "call", "whoami")
        self.assertEqual(json.loads(out)["role"], "student")
        self.assertEqual(json.loads(out)["name"], "5B group 3")
        # a teacher's request is refused as for any student
        _, err = self.remote("--key", secret, "keys", "list", expect=1)
        self.assertIn("forbidden", err)
        # everything named explicitly, streams included
        connect = "%s,%s" % (self.info["net_rpc"], self.info["net_pub"])
        out, _ = self.remote("--connect", connect, "--key", secret, "--server-key",
                             self.server_key, "watch", "sensor/sim-t1/", "--count", "5", "--csv")
        rows = [l for l in out.splitlines() if "sensor/sim-t1/" in l]
        self.assertEqual(len(rows), 5, out)
        # the same from the environment
        out, _ = self.remote("snapshot", "--json", env={
            "LABBRIDGE_CONNECT": connect, "LABBRIDGE_KEY": secret,
            "LABBRIDGE_SERVER_KEY": self.server_key})
        self.assertIn("sensor/sim-t1/", out)
        # and from client.ini (a key path beside it, the server key as a file: the bridge's)
        conf_dir = os.path.join(self.tmp, "xdg", "labbridge")
        os.makedirs(conf_dir)
        shutil.copy(secret, os.path.join(conf_dir, "me.key_secret"))
        with open(os.path.join(conf_dir, "client.ini"), "w") as f:
            f.write("# a teacher's laptop\n[bridge]\nconnect = %s\nkey = me.key_secret\n"
                    "server_key = %s\n" % (connect, os.path.join(self.data, "server_key")))
        out, _ = self.remote("call", "whoami", env={"XDG_CONFIG_HOME": os.path.join(self.tmp,
                                                                                   "xdg")})
        self.assertEqual(json.loads(out)["name"], "5B group 3")
        # the command line wins over the environment: the local endpoints, no key
        d = self.daemons[0]
        out, _ = self.remote("--rpc", d.rpc, "--pub", d.pub, "call", "whoami",
                             env={"LABBRIDGE_CONNECT": "tcp://127.0.0.1:1,tcp://127.0.0.1:2"})
        self.assertFalse(json.loads(out)["user"].startswith("key:"), out)

    def test_labctl_refused_key_says_so_at_once(self):
        secret = self.new_key("student", "pupil")
        self.remote("--key", secret, "devices")
        self.local.call("keys.revoke", {"key": "pupil"})
        # the handshake's failure ends it: no waiting out the (long) timeout
        _, err = self.remote("--key", secret, "--timeout-ms", "600000", "devices", expect=1,
                             timeout=30)
        self.assertIn("refused this key (revoked or unknown", err)
        _, err = self.remote("--key", secret, "--timeout-ms", "600000", "watch", "sensor/",
                             "--count", "1", expect=1, timeout=30)
        self.assertIn("refused this key", err)
        # an unknown key too
        import zmq.auth
        _, sfile = zmq.auth.create_certificates(self.tmp, "stranger")
        _, err = self.remote("--key", sfile, "--connect", self.info["net_rpc"], "--server-key",
                             self.server_key, "--timeout-ms", "600000", "devices", expect=1,
                             timeout=30)
        self.assertIn("refused this key", err)

    def test_labctl_watch_revoked_while_in_use(self):
        import select
        import subprocess
        import time
        secret = self.new_key("student", "pupil")
        p = subprocess.Popen([labctl_path(), "--key", secret, "watch", "sensor/", "--csv"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=self.remote_env())
        try:
            # the header, then a sample: its streams come over CURVE
            got, deadline = b"", time.monotonic() + 20
            while got.count(b"\n") < 2 and time.monotonic() < deadline:
                if select.select([p.stdout], [], [], deadline - time.monotonic())[0]:
                    chunk = os.read(p.stdout.fileno(), 4096)
                    if not chunk:
                        break
                    got += chunk
            self.assertIn(b"sensor/sim-t1/", got, p.stderr.read1() if p.poll() else got)
            self.local.call("keys.revoke", {"key": "pupil"})
            rc = p.wait(20)  # no heartbeat for 3 s: it ends, saying why
            err = p.stderr.read().decode()
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stdout.close()
            p.stderr.close()
        self.assertEqual(rc, 1, err)
        self.assertEqual(sanitizer_errors(err), [], err)
        self.assertIn("refuses this key now (revoked while in use", err)

    def test_labctl_key_errors(self):
        secret = self.new_key("student", "pupil")
        rpc = self.info["net_rpc"]
        # a wrong server key: the bridge cannot read our HELLO and closes
        wrong, _ = zmq.curve_keypair()
        _, err = self.remote("--key", secret, "--server-key", wrong.decode(), "--connect", rpc,
                             "--timeout-ms", "600000", "devices", expect=1, timeout=30)
        self.assertIn("server key is probably wrong", err)
        _, err = self.remote("--key", secret, "--server-key", "not-a-key", "devices", expect=1)
        self.assertIn("is neither a public key", err)
        _, err = self.remote("--key", os.path.join(self.tmp, "missing.key_secret"), "devices",
                             expect=1)
        self.assertIn("cannot read the key file", err)
        self.assertIn("No such file", err)
        # the public half alone
        public = os.path.join(self.tmp, "public.key")
        shutil.copy(secret[:-len("_secret")], public)
        _, err = self.remote("--key", public, "devices", expect=1)
        self.assertIn("holds a public key only, not a secret key", err)
        garbage = os.path.join(self.tmp, "garbage")
        with open(garbage, "w") as f:
            f.write("hello\n")
        _, err = self.remote("--key", garbage, "devices", expect=1)
        self.assertIn("is not a key file", err)
        _, err = self.remote("--connect", "tcp://nowhere", "devices", expect=1)
        self.assertIn("is not tcp://HOST:PORT", err)
        # the local (NULL) endpoint with a key: the mechanisms differ (seen by labctl, or the
        # bridge closing first: either way the endpoint is named as the likely mistake)
        _, err = self.remote("--key", secret, "--rpc", self.daemons[0].rpc, "--timeout-ms",
                             "600000", "devices", expect=1, timeout=30)
        self.assertIn("net_rpc/net_pub endpoint", err)
        # another computer's endpoint without a key: said at once, not a timeout
        _, err = self.remote("--connect", "tcp://192.0.2.1:5556,tcp://192.0.2.1:5555",
                             "--timeout-ms", "600000", "devices", expect=1, timeout=30)
        self.assertIn("a bridge serves it with CURVE only; give --key FILE", err)
        # the streams endpoint unknown (one endpoint given): said, not guessed
        _, err = self.remote("--key", secret, "--connect", rpc, "watch", "sensor/", "--count",
                             "1", expect=1)
        self.assertIn("no stream endpoint is known", err)

    def test_example_over_curve(self):
        secret = self.new_key("observer", "projector")
        example = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                               "examples", "python", "watch_sensor.py")
        rc, out, err, _ = run_program(["/usr/bin/python3", example, "sensor/sim-t1/", "--count",
                                       "3"], 40,
                                      env=self.remote_env({"LABBRIDGE_KEY": secret}))
        self.assertEqual(rc, 0, err)
        self.assertEqual(len([l for l in out.splitlines() if "sensor/sim-t1/" in l]), 3, out)
        # labctl's options, and a client.ini (the key beside it, the server key in it)
        connect = "%s,%s" % (self.info["net_rpc"], self.info["net_pub"])
        rc, out, err, _ = run_program(["/usr/bin/python3", example, "sensor/sim-t1/", "--count",
                                       "2", "--connect", connect, "--key", secret,
                                       "--server-key", self.server_key], 40,
                                      env=self.remote_env({"LABBRIDGE_RPC": "tcp://x:1"}))
        self.assertEqual(rc, 0, err)
        ini = os.path.join(self.keydir, "client.ini")
        with open(ini, "w") as f:
            f.write("[bridge]\nconnect = %s\nkey = %s\nserver_key = %s\n"
                    % (connect, os.path.basename(secret), self.server_key))
        rc, out, err, _ = run_program(["/usr/bin/python3", example, "sensor/sim-t1/", "--count",
                                       "2"], 40,
                                      env=self.remote_env({"LABBRIDGE_CLIENT_CONF": ini}))
        self.assertEqual(rc, 0, err)
        self.assertEqual(len([l for l in out.splitlines() if "sensor/sim-t1/" in l]), 2, out)
        wrong, _ = zmq.curve_keypair()
        rc, out, err, _ = run_program(["/usr/bin/python3", example, "--count", "1",
                                       "--server-key", wrong.decode()], 40,
                                      env=self.remote_env({"LABBRIDGE_KEY": secret}))
        self.assertEqual(rc, 1, out)
        self.assertIn("server key is probably wrong", err)
        # an example with requests too (a DEALER): stream_to_csv asks the devices first
        csv_example = os.path.join(os.path.dirname(example), "stream_to_csv.py")
        rc, out, err, _ = run_program(["/usr/bin/python3", csv_example, "sensor/sim-t1/",
                                       "--count", "3"], 40,
                                      env=self.remote_env({"LABBRIDGE_KEY": secret}))
        self.assertEqual(rc, 0, err)
        self.assertEqual(len([l for l in out.splitlines() if "sim-t1" in l]), 3, out)
        self.local.call("keys.revoke", {"key": "projector"})
        rc, out, err, _ = run_program(["/usr/bin/python3", example, "--count", "1"], 40,
                                      env=self.remote_env({"LABBRIDGE_KEY": secret}))
        self.assertEqual(rc, 1, out)
        self.assertIn("refused this key", err)


def drain_then_silent(sub, drain_s=5.0):
    """Read what was queued before a connection was closed (the heartbeat keeps a live stream
    busy: 5 heartbeats a second), then whether nothing more comes for SILENT seconds."""
    import time
    deadline = time.monotonic() + drain_s
    while time.monotonic() < deadline:
        if not sub.poll(int(SILENT * 1000)):
            return True
        sub.recv_multipart()
    return False


def r_fp(test, name):
    """The fingerprint of a revoked key, from the revoked/ folder's certificate."""
    folder = os.path.join(test.data, "keys", "revoked")
    for f in os.listdir(folder):
        with open(os.path.join(folder, f)) as fh:
            if 'name = "%s"' % name in fh.read():
                return f[:-len(".cert")]
    return "?"
