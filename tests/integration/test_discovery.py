"""DNS-SD discovery (PROTOCOL.md "Discovery"): the bridge announces _labbridge._tcp through Avahi
with its endpoints and key fingerprint in TXT records; without an avahi-daemon it warns once and
serves on; a daemon that comes later, or restarts, gets the announcement; a name taken gets
Avahi's alternative name.

The avahi-daemon is a private one: its own system D-Bus (dbus-daemon on a socket in the test's
folder, reached through DBUS_SYSTEM_BUS_ADDRESS) and its own network namespace (unshare: only a
loopback interface with multicast on), so nothing is announced on the machine's real LAN."""
import hashlib
import json
import os
import shutil
import signal
import subprocess
import time

import zmq
import zmq.utils.z85

from lbtest import (BridgeTest, labctl_path, make_conf, sensor, run_program, san_env,
                    sanitizer_errors, wait_until)

LAB = {"t1": sensor(rate=50)}
TYPE = "_labbridge._tcp"
TOOLS = ("dbus-daemon", "avahi-daemon", "avahi-browse", "unshare", "nsenter", "ip")

BUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"""
AVAHI_CONF = """[server]
use-ipv4=yes
use-ipv6=no
allow-interfaces=lo
[wide-area]
enable-wide-area=no
[publish]
publish-hinfo=no
publish-workstation=no
"""
# In the private namespaces: /run of our own (avahi-daemon's pid file), lo up with multicast,
# the bus in the background, then wait (the daemon is started with nsenter, so it can restart).
NS_SCRIPT = """set -e
mount --bind "$1/run" /run
ip link set lo up
ip link set lo multicast on
exec dbus-daemon --config-file="$1/bus.conf" --nofork --nopidfile
"""
KEY_TEMPLATE = """metadata
    role = "teacher"
    name = "prof"
curve
    public-key = "%s"
"""


def z85_fingerprint(pub):
    """16 hex digits of the SHA-256 of the 32-byte key (keys.h)."""
    return hashlib.sha256(zmq.utils.z85.decode(pub.encode())).hexdigest()[:16]


class DiscoveryTest(BridgeTest):

    def setUp(self):
        super().setUp()
        self.ns = None
        self.avahi = None
        self.bus = os.path.join(self.tmp, "bus")
        self.bus_env = {"DBUS_SYSTEM_BUS_ADDRESS": "unix:path=" + self.bus}

    def tearDown(self):
        try:
            super().tearDown()  # the bridges first: they withdraw their announcement
        finally:
            for p in (self.avahi, self.ns):
                if p and p.poll() is None:
                    p.terminate()
                    try:
                        p.wait(10)
                    except subprocess.TimeoutExpired:
                        p.kill()
                        p.wait(10)

    # ------------------------------------------------------------------ the private daemon

    def need_private_avahi(self):
        missing = [t for t in TOOLS if not shutil.which(t)]
        if missing:
            self.skipTest("allowed: %s not installed (make test-deps installs avahi-daemon, "
                          "avahi-utils, dbus-daemon)" % ", ".join(missing))
        if os.geteuid() != 0:
            self.skipTest("allowed: a private avahi-daemon needs root (network and mount "
                          "namespaces, avahi-daemon --no-drop-root)")

    def start_bus(self):
        """A private system bus in private network and mount namespaces."""
        self.need_private_avahi()
        os.makedirs(os.path.join(self.tmp, "run"))
        with open(os.path.join(self.tmp, "bus.conf"), "w") as f:
            f.write(BUS_CONF % self.bus)
        with open(os.path.join(self.tmp, "avahi.conf"), "w") as f:
            f.write(AVAHI_CONF)
        with open(os.path.join(self.tmp, "ns.sh"), "w") as f:
            f.write(NS_SCRIPT)
        log = open(os.path.join(self.tmp, "bus.log"), "wb")
        self.ns = subprocess.Popen(["unshare", "-m", "-n", "--propagation", "private", "sh",
                                    os.path.join(self.tmp, "ns.sh"), self.tmp],
                                   stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        log.close()
        try:
            wait_until(lambda: os.path.exists(self.bus) or self.ns.poll() is not None, 10,
                       what="the private D-Bus")
        except AssertionError:
            pass
        if not os.path.exists(self.bus):
            with open(os.path.join(self.tmp, "bus.log"), errors="replace") as f:
                why = f.read().strip().splitlines()[-1:] or ["?"]
            self.skipTest("allowed: no private D-Bus in namespaces here (%s)" % why[0])

    def start_avahi(self):
        """avahi-daemon in the bus's namespaces; returns once it serves on the bus (its log
        says so: the name on the bus is taken before)."""
        log_path = os.path.join(self.tmp, "avahi.log")
        log = open(log_path, "ab")
        start = log.tell()  # this run's lines come after
        self.avahi = subprocess.Popen(
            ["nsenter", "-t", str(self.ns.pid), "-m", "-n", "avahi-daemon", "--no-drop-root",
             "--no-chroot", "--no-rlimits", "-f", os.path.join(self.tmp, "avahi.conf")],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL,
            env=dict(os.environ, **self.bus_env))
        log.close()

        def up():
            with open(log_path, "rb") as f:
                f.seek(start)
                text = f.read().decode("utf-8", "replace")
            self.assertIsNone(self.avahi.poll(), "avahi-daemon exited:\n" + text)
            return "Server startup complete" in text
        wait_until(up, 15, what="avahi-daemon to start")

    def stop_avahi(self):
        self.avahi.terminate()
        self.avahi.wait(10)

    def browse(self):
        """{instance name: {"port": int, "txt": {key: value}}} of _labbridge._tcp, resolved."""
        env = dict(os.environ, **self.bus_env)
        rc, out, err, _ = run_program(["avahi-browse", "-rpt", TYPE], 20, env=env)
        self.assertEqual(rc, 0, err)
        found = {}
        for line in out.splitlines():
            f = line.split(";")
            if f[0] != "=" or len(f) < 10:
                continue
            txt = {}
            for rec in f[9].split('" "'):
                k, _, v = rec.strip('"').partition("=")
                txt[k] = v
            name = f[3].replace("\\032", " ").replace("\\035", "#")
            found[name] = {"port": int(f[8]), "txt": txt}
        return found

    def seen(self, name, timeout=15):
        """The announcement named name, once avahi-browse sees it."""
        got = {}

        def look():
            got.update(self.browse())
            return name in got
        wait_until(look, timeout, interval=0.2, what="'%s' announced" % name)
        return got[name]

    # ------------------------------------------------------------------ tests

    def test_no_dbus_warns_once_and_serves(self):
        env = {"DBUS_SYSTEM_BUS_ADDRESS": "unix:path=" + os.path.join(self.tmp, "no-bus")}
        d = self.start_bridge(make_conf(LAB, bridge={"announce": "yes"}), http="*:0", env=env)
        self.assertEqual(len(self.client(d).call("devices.list")), 1)
        err = d.stderr()
        self.assertEqual(err.count("not announced on the LAN"), 1, err)

    def test_announced_with_txt_records(self):
        self.start_bus()
        self.start_avahi()
        d = self.start_bridge(make_conf(LAB, bridge={"name": "Lab 3"}), http="*:0",
                              env=self.bus_env)
        a = self.seen("Lab 3")
        url = d.web_url()
        self.assertEqual(a["txt"]["http"], url)
        self.assertEqual(a["port"], int(url.rstrip("/").rsplit(":", 1)[1]))
        self.assertEqual(a["txt"]["v"], "1")
        self.assertEqual(a["txt"]["name"], "Lab 3")
        self.assertNotIn("rpc", a["txt"])  # no network endpoint: the page alone

    def test_network_endpoints_and_key(self):
        self.start_bus()
        self.start_avahi()
        data = os.path.join(self.tmp, "net-data")
        os.makedirs(os.path.join(data, "keys"))
        pub, _ = zmq.curve_keypair()
        with open(os.path.join(data, "keys", "prof.cert"), "w") as f:
            f.write(KEY_TEMPLATE % pub.decode())
        d = self.start_bridge(make_conf(LAB, bridge={"name": "curve-lab"}), http="none",
                              args=["--net-rpc", "tcp://0.0.0.0:0", "--net-pub",
                                    "tcp://0.0.0.0:0"],
                              env=dict(self.bus_env, STATE_DIRECTORY=data))
        info = self.client(d).call("bridge.info")["endpoints"]
        server_key = self.client(d).call("keys.list")["server_key"]
        a = self.seen("curve-lab")
        rpc_port = int(info["net_rpc"].rsplit(":", 1)[1])
        pub_port = int(info["net_pub"].rsplit(":", 1)[1])
        self.assertEqual(a["port"], rpc_port)
        self.assertTrue(a["txt"]["rpc"].startswith("tcp://"), a)
        self.assertTrue(a["txt"]["rpc"].endswith(":%d" % rpc_port), a)
        self.assertTrue(a["txt"]["pub"].endswith(":%d" % pub_port), a)
        self.assertEqual(a["txt"]["key"], z85_fingerprint(server_key))
        self.assertNotIn("http", a["txt"])

    def test_labctl_discover_without_avahi(self):
        env = san_env({"DBUS_SYSTEM_BUS_ADDRESS": "unix:path=" + os.path.join(self.tmp, "none")})
        rc, out, err, _ = run_program([labctl_path(), "discover"], 30, env=env)
        self.assertEqual((rc, sanitizer_errors(err)), (1, []), out + err)
        self.assertIn("cannot browse the LAN: no avahi-daemon", err)
        rc, out, err, _ = run_program([labctl_path(), "--connect", "auto", "devices"], 30,
                                      env=env)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("cannot browse the LAN", err)

    def test_labctl_discover_and_connect(self):
        self.start_bus()
        self.start_avahi()
        data = os.path.join(self.tmp, "net-data")
        os.makedirs(os.path.join(data, "keys"))
        import zmq.auth
        _, secret = zmq.auth.create_certificates(self.tmp, "prof")
        with open(os.path.join(data, "keys", "prof.cert"), "w") as f:
            f.write(KEY_TEMPLATE % zmq.auth.load_certificate(secret)[0].decode())
        d = self.start_bridge(make_conf(LAB, bridge={"name": "curve-lab"}), http="*:0",
                              args=["--net-rpc", "tcp://0.0.0.0:0", "--net-pub",
                                    "tcp://0.0.0.0:0"],
                              env=dict(self.bus_env, STATE_DIRECTORY=data))
        info = self.client(d).call("bridge.info")["endpoints"]
        server_key = self.client(d).call("keys.list")["server_key"]
        self.seen("curve-lab")
        env = san_env(self.bus_env)
        for k in ("LABBRIDGE_PUB", "LABBRIDGE_RPC", "LABBRIDGE_CONNECT", "LABBRIDGE_KEY"):
            env.pop(k, None)
        env["XDG_CONFIG_HOME"] = os.path.join(self.tmp, "no-config")
        rc, out, err, _ = run_program([labctl_path(), "discover", "--json"], 30, env=env)
        self.assertEqual((rc, sanitizer_errors(err)), (0, []), err)
        found = {b["name"]: b for b in json.loads(out)}
        b = found["curve-lab"]
        self.assertEqual(b["key"], z85_fingerprint(server_key))
        self.assertTrue(b["rpc"].endswith(":" + info["net_rpc"].rsplit(":", 1)[1]), b)
        self.assertTrue(b["pub"].endswith(":" + info["net_pub"].rsplit(":", 1)[1]), b)
        self.assertTrue(b["http"].startswith("http://"), b)
        self.assertTrue(b["addresses"], b)
        rc, out, err, _ = run_program([labctl_path(), "discover"], 30, env=env)
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"curve-lab\s+\S+\s+.*tcp://\S+\s+tcp://\S+\s+http://\S+\s+%s"
                         % z85_fingerprint(server_key))
        # connecting through what was found, the fingerprint checked against the key given
        rc, out, err, _ = run_program([labctl_path(), "--discover", "curve-lab", "--key", secret,
                                       "--server-key", server_key, "call", "whoami"], 30,
                                      env=env)
        self.assertEqual((rc, sanitizer_errors(err)), (0, []), err)
        self.assertEqual(json.loads(out)["name"], "prof")
        rc, out, err, _ = run_program([labctl_path(), "--connect", "auto", "--key", secret,
                                       "--server-key", server_key, "devices"], 30, env=env)
        self.assertEqual(rc, 0, err)
        self.assertIn("sim-t1", out)
        other, _ = zmq.curve_keypair()
        rc, out, err, _ = run_program([labctl_path(), "--discover", "curve-lab", "--key", secret,
                                       "--server-key", other.decode(), "devices"], 30, env=env)
        self.assertEqual(rc, 1, out)
        self.assertIn("not %s (that of the server key given)" % z85_fingerprint(other.decode()),
                      err)
        rc, out, err, _ = run_program([labctl_path(), "--discover", "no-such-lab", "--key",
                                       secret, "--server-key", server_key, "devices"], 30,
                                      env=env)
        self.assertEqual(rc, 1, out)
        self.assertIn("no bridge named 'no-such-lab' found", err)

    def test_announce_no_and_loopback_only(self):
        self.start_bus()
        self.start_avahi()
        self.start_bridge(make_conf(LAB, bridge={"name": "quiet", "announce": "no"}),
                          name="quiet", http="*:0", env=self.bus_env)
        self.start_bridge(make_conf(LAB, bridge={"name": "local"}), name="local",
                          http="127.0.0.1:0", env=self.bus_env)
        self.start_bridge(make_conf(LAB, bridge={"name": "loud"}), name="loud", http="*:0",
                          env=self.bus_env)
        # all three registered (or not) before their ready line: loud seen, the others never
        self.seen("loud")
        names = set(self.browse())
        self.assertNotIn("quiet", names)
        self.assertNotIn("local", names)

    def test_name_collision_takes_alternative(self):
        self.start_bus()
        self.start_avahi()
        a = self.start_bridge(make_conf(LAB, bridge={"name": "twin"}), name="a", http="*:0",
                              env=self.bus_env)
        self.seen("twin")
        b = self.start_bridge(make_conf(LAB, bridge={"name": "twin"}), name="b", http="*:0",
                              env=self.bus_env)
        alt = self.seen("twin #2")
        self.assertEqual(alt["txt"]["http"], b.web_url())
        self.assertEqual(self.browse()["twin"]["txt"]["http"], a.web_url())
        wait_until(lambda: "announcing as 'twin #2'" in b.stderr(), 10, what="the rename logged")

    def test_daemon_later_and_restarted(self):
        self.start_bus()
        d = self.start_bridge(make_conf(LAB, bridge={"name": "patient"}), http="*:0",
                              env=self.bus_env)
        wait_until(lambda: "no avahi-daemon" in d.stderr(), 10, what="the warning")
        self.start_avahi()  # comes after the bridge
        self.seen("patient")
        self.stop_avahi()
        wait_until(lambda: "avahi-daemon gone" in d.stderr(), 10, what="the daemon gone noticed")
        self.start_avahi()  # a restart: announced again
        self.seen("patient")
        self.assertEqual(d.stderr().count("no avahi-daemon"), 1, d.stderr())
        self.assertEqual(len(self.client(d).call("devices.list")), 1)

    def test_dbus_later(self):
        self.need_private_avahi()
        d = self.start_bridge(make_conf(LAB, bridge={"name": "early"}), http="*:0",
                              env=self.bus_env)  # the bus's socket does not exist yet
        wait_until(lambda: "cannot reach avahi-daemon" in d.stderr(), 10, what="the warning")
        self.start_bus()
        self.start_avahi()
        self.seen("early", timeout=30)  # D-Bus is tried again every 5 s
        self.assertEqual(d.stderr().count("not announced on the LAN"), 1, d.stderr())

    def test_bad_options_refuse_to_start(self):
        for bridge, why in (({"announce": "maybe"}, "announce must be yes or no"),
                            ({"name": "x" * 64}, "name must have 1 to 63 bytes")):
            d = self.start_bridge(make_conf(LAB, bridge=bridge), name="bad%d" % len(why),
                                  http="*:0", ready=False, check_exit=False,
                                  env={"DBUS_SYSTEM_BUS_ADDRESS": "unix:path=/nonexistent"})
            self.assertEqual(d.wait_exit(20), 1)
            self.assertIn(why, d.stderr())
