"""Roles (observer, student, teacher), session.hello, and device leases."""
import time

from lbtest import BridgeTest, make_conf, sensor, wait_until

FORBIDDEN, LEASED, INVALID_PARAMS = 1002, 1003, -32602

LAB = {"t1": sensor(rate=20), "t2": sensor(rate=20)}
SET_T1 = ("device.set", {"device": "sim-t1", "key": "rate", "value": 25})


def lease_of(c, device):
    """The lease field of a device in devices.list."""
    return [d for d in c.call("devices.list") if d["id"] == device][0]["lease"]


class RoleTest(BridgeTest):

    def test_the_bridges_own_user_is_a_teacher(self):
        # no [access] section: the user running the bridge (root here) is a teacher, identified
        # by its Unix user over TCP on the loopback and over ipc:// alike (test_security.py
        # checks the other users)
        conf = make_conf(LAB)
        d = self.start_bridge(conf, name="tcp", rpc="tcp://127.0.0.1:0")
        tcp = self.client(d.ready_endpoint("requests"))
        self.assertEqual(tcp.call("whoami"), {"user": "unix:root", "role": "teacher", "name": ""})
        ipc = self.client(self.start_bridge(conf, name="ipc"))
        self.assertEqual(ipc.call("whoami"), {"user": "unix:root", "role": "teacher", "name": ""})
        # a client on another machine gets remote_role: not testable without a second address

    def test_observer_reads_but_cannot_command(self):
        d = self.start_bridge(make_conf(LAB, access={"default_role": "observer"}))
        c = self.client(d)
        self.assertEqual(c.call("whoami")["role"], "observer")
        self.assertEqual(c.call("bridge.info")["devices"], 2)
        self.assertEqual(len(c.call("devices.list")), 2)
        self.assertEqual(c.call("device.info", {"device": "sim-t1"})["id"], "sim-t1")
        self.assertEqual(c.call("device.get", {"device": "sim-t1"})["rate"], 20)
        self.assertEqual(c.call("device.get", {"device": "sim-t1", "key": "rate"}), 20)
        self.assertIn("streams", c.call("snapshot"))
        self.assertEqual(c.call("session.hello", {"name": "viewer"})["role"], "observer")
        for method, params in (SET_T1, ("device.start", {"device": "sim-t1"}),
                               ("device.stop", {"device": "sim-t1"}),
                               ("device.call", {"device": "sim-t1", "action": "hang"}),
                               ("lease.acquire", {"device": "sim-t1"}),
                               ("lease.release", {"device": "sim-t1"}),
                               ("sim.unplug", {"device": "sim-t1"}),
                               ("sim.plug", {"device": "sim-t1"})):
            with self.subTest(method=method):
                self.assertError(c.error(method, params), "forbidden", FORBIDDEN)
        # nothing changed
        self.assertEqual(c.call("device.get", {"device": "sim-t1", "key": "rate"}), 20)
        self.assertEqual(c.call("device.info", {"device": "sim-t1"})["state"], "running")
        self.assertEqual(len(c.call("devices.list")), 2)
        # bridge.methods says what an observer may call, and every method it says is not
        # allowed is refused as forbidden (a table and its enforcement cannot drift apart)
        methods = {m["method"]: m for m in c.call("bridge.methods")}
        for name in ("bridge.info", "devices.list", "snapshot", "print.queue"):
            self.assertTrue(methods[name]["allowed"], name)
        self.assertEqual((methods["device.call"]["role"], methods["device.call"]["lease"]),
                         ("student", True))
        self.assertTrue(methods["print.upload"]["upload"])
        refused = [n for n, m in methods.items() if not m["allowed"]]
        self.assertIn("print.approve", refused)
        for name in refused:
            with self.subTest(method=name):
                self.assertError(c.error(name, {"device": "sim-t1"}), "forbidden", FORBIDDEN)

    def test_student_commands_devices_but_not_the_bridge(self):
        d = self.start_bridge(make_conf(LAB, access={"default_role": "student"}))
        c = self.client(d)
        self.assertEqual(c.call("whoami")["role"], "student")
        self.assertEqual(c.call(*SET_T1), 25)
        self.assertEqual(c.call("device.stop", {"device": "sim-t2"})["state"], "ready")
        self.assertEqual(c.call("device.start", {"device": "sim-t2"})["state"], "running")
        self.assertError(c.error("sim.unplug", {"device": "sim-t1"}), "forbidden", FORBIDDEN)
        self.assertError(c.error("session.hello", {"role": "teacher"}), "forbidden", FORBIDDEN)
        self.assertEqual(c.call("whoami")["role"], "student")

    def test_session_hello_lowers_never_raises(self):
        d = self.start_bridge(make_conf(LAB))
        a = self.client(d)
        other = self.client(d)
        me = a.call("session.hello", {"name": "group 3", "role": "student"})
        self.assertEqual((me["role"], me["name"]), ("student", "group 3"))
        self.assertEqual(a.call("whoami"), me)
        self.assertError(a.error("sim.unplug", {"device": "sim-t1"}), "forbidden", FORBIDDEN)
        self.assertEqual(a.call(*SET_T1), 25, "a student may still command devices")
        # raising back is forbidden, the role stays
        self.assertError(a.error("session.hello", {"role": "teacher"}), "forbidden", FORBIDDEN)
        self.assertEqual(a.call("whoami")["role"], "student")
        # lower again to observer, then student is a raise
        self.assertEqual(a.call("session.hello", {"role": "observer"})["role"], "observer")
        self.assertError(a.error(*SET_T1), "forbidden", FORBIDDEN)
        self.assertError(a.error("session.hello", {"role": "student"}), "forbidden", FORBIDDEN)
        self.assertEqual(a.call("whoami"), {"user": me["user"], "role": "observer",
                                            "name": "group 3"})
        # hello without a role keeps it; with the same role is not a raise
        self.assertEqual(a.call("session.hello", {"name": "g3"})["role"], "observer")
        self.assertEqual(a.call("session.hello", {"role": "observer"})["role"], "observer")
        self.assertError(a.error("session.hello", {"role": "root"}), "invalid_params",
                         INVALID_PARAMS)
        # the session is per connection: another client is still a teacher
        self.assertEqual(other.call("whoami")["role"], "teacher")
        self.assertEqual(other.call("device.get", {"device": "sim-t1", "key": "rate"}), 25)
        # a new connection starts from the transport's role again
        a.close()
        self.assertEqual(self.client(d).call("whoami")["role"], "teacher")


class LeaseTest(BridgeTest):

    def student_lab(self):
        d = self.start_bridge(make_conf(LAB, access={"default_role": "student"}))
        a, b = self.client(d), self.client(d)
        a.call("session.hello", {"name": "A"})
        b.call("session.hello", {"name": "B"})
        return d, a, b

    def test_lease_blocks_other_clients_commands(self):
        d, a, b = self.student_lab()
        lease = a.call("lease.acquire", {"device": "sim-t1"})
        self.assertEqual(lease["device"], "sim-t1")
        self.assertEqual(lease["name"], "A")
        self.assertEqual(lease["holder"], "unix:root")
        self.assertTrue(29000 <= lease["expires_ms"] <= 30000, "default ttl 30 s: %r" % lease)
        for method, params in (SET_T1, ("device.stop", {"device": "sim-t1"}),
                               ("device.start", {"device": "sim-t1"}),
                               ("device.call", {"device": "sim-t1", "action": "hang",
                                                "args": {"ms": 1}}),
                               ("lease.acquire", {"device": "sim-t1"}),
                               ("lease.release", {"device": "sim-t1"})):
            with self.subTest(method=method):
                self.assertError(b.error(method, params), "leased", LEASED)
        # a student cannot force
        self.assertError(b.error("lease.acquire", {"device": "sim-t1", "force": True}),
                         "forbidden", FORBIDDEN)
        # reads still work, and other devices are free
        self.assertEqual(b.call("device.get", {"device": "sim-t1", "key": "rate"}), 20)
        self.assertEqual(b.call("device.info", {"device": "sim-t1"})["lease"]["name"], "A")
        self.assertEqual(b.call("device.set", {"device": "sim-t2", "key": "rate", "value": 30}),
                         30)
        # the holder commands the device; renewing keeps the lease
        self.assertEqual(a.call(*SET_T1), 25)
        self.assertEqual(a.call("lease.acquire", {"device": "sim-t1", "ttl_ms": 60000})["name"],
                         "A")
        self.assertEqual(lease_of(b, "sim-t1")["name"], "A")
        # release: B may command it
        self.assertIsNone(a.call("lease.release", {"device": "sim-t1"}))
        self.assertIsNone(lease_of(b, "sim-t1"))
        self.assertEqual(b.call("device.set", {"device": "sim-t1", "key": "rate", "value": 40}),
                         40)
        self.assertIsNone(b.call("lease.release", {"device": "sim-t1"}),
                          "releasing a free device is not an error")

    def test_teacher_force_takes_over(self):
        d = self.start_bridge(make_conf(LAB))
        a, t = self.client(d), self.client(d)
        a.call("session.hello", {"name": "A", "role": "student"})
        t.call("session.hello", {"name": "teacher"})
        a.call("lease.acquire", {"device": "sim-t1"})
        self.assertError(t.error(*SET_T1), "leased", LEASED)
        self.assertError(t.error("lease.acquire", {"device": "sim-t1"}), "leased", LEASED)
        lease = t.call("lease.acquire", {"device": "sim-t1", "force": True, "ttl_ms": 5000})
        self.assertEqual(lease["name"], "teacher")
        self.assertTrue(4000 <= lease["expires_ms"] <= 5000, lease)
        self.assertEqual(t.call(*SET_T1), 25)
        self.assertError(a.error("device.set", {"device": "sim-t1", "key": "rate", "value": 30}),
                         "leased", LEASED)
        self.assertEqual(lease_of(a, "sim-t1")["name"], "teacher")

    def test_lease_expires(self):
        d, a, b = self.student_lab()
        t0 = time.monotonic()
        a.call("lease.acquire", {"device": "sim-t1", "ttl_ms": 1000})
        self.assertError(b.error(*SET_T1), "leased", LEASED)
        wait_until(lambda: lease_of(b, "sim-t1") is None, timeout=4,
                   what="the 1 s lease to expire in devices.list")
        elapsed = time.monotonic() - t0
        self.assertGreater(elapsed, 0.8, "the lease expired too early")
        self.assertEqual(b.call(*SET_T1), 25)
        self.assertEqual(a.call("lease.acquire", {"device": "sim-t1"})["name"], "A",
                         "an expired lease can be taken again")

    def test_lease_expiry_is_announced(self):
        d, a, b = self.student_lab()
        events = self.subscriber(d, ["bridge/devices/"])
        a.call("lease.acquire", {"device": "sim-t1", "ttl_ms": 1000})
        events.wait_for(lambda m: m.data["device"]["lease"] is not None,
                        what="the changed event of the acquisition")
        # another client keeps asking about the device (as a dashboard would) while the lease
        # runs out: 30 requests in flight for 1.5 s
        inflight, t0 = 0, time.monotonic()
        while time.monotonic() - t0 < 1.5:
            while inflight < 30:
                b.send("device.info", {"device": "sim-t1"})
                inflight += 1
            b.recv_frames()
            inflight -= 1
        for _ in range(inflight):
            b.recv_frames()
        self.assertIsNone(lease_of(b, "sim-t1"), "the lease did not expire")
        got = events.collect(1.0)
        with self.regression_of("access.c lb_lease_find removes an expired lease silently when a "
                            "request touches the device (devices.list, device.info, device.set"
                            "...) after the expiry but before server.c's lb_leases_sweep runs, "
                            "so on_lease_released never publishes the 'changed' event; fix: "
                            "lb_lease_find should only ignore expired leases and leave their "
                            "removal to lb_leases_sweep (or sweep before handling requests)"):
            self.assertTrue([m for m in got if m.data["event"] == "changed" and
                             m.data["device"]["id"] == "sim-t1" and
                             m.data["device"]["lease"] is None],
                            "no changed event announced the lease's expiry: %r" %
                            [m.data["event"] for m in got])

    def test_closing_the_connection_releases_its_lease(self):
        d, a, b = self.student_lab()
        events = self.subscriber(d, ["bridge/devices/"])
        a.call("lease.acquire", {"device": "sim-t1", "ttl_ms": 600000})
        events.wait_for(lambda m: m.data["device"]["lease"] is not None,
                        what="the changed event of the acquisition")
        self.assertError(b.error(*SET_T1), "leased", LEASED)
        t0 = time.monotonic()
        a.close()
        events.wait_for(lambda m: m.data["event"] == "changed" and
                        m.data["device"]["id"] == "sim-t1" and m.data["device"]["lease"] is None,
                        timeout=5, what="a changed event releasing A's lease after A closed")
        self.assertLess(time.monotonic() - t0, 5)
        self.assertIsNone(lease_of(b, "sim-t1"))
        self.assertEqual(b.call(*SET_T1), 25)


if __name__ == "__main__":
    import unittest
    unittest.main()
