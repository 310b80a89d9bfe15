"""Requests: every error of PROTOCOL.md's table, REQ and DEALER clients, device methods,
bridge.info."""
import json
import re
import time

from lbtest import BridgeTest, make_conf, sensor, seq_gaps

PARSE, INVALID_REQUEST, NOT_FOUND, INVALID_PARAMS = -32700, -32600, -32601, -32602
UNKNOWN_DEVICE, FORBIDDEN, LEASED, DEVICE_ERROR = 1001, 1002, 1003, 1004
NOT_SUPPORTED, TIMEOUT, TOO_LARGE = 1005, 1006, 1008

T1 = "sensor/sim-t1/temperature/"


class RequestTest(BridgeTest):

    def lab(self, ws=False):
        self.d = self.start_bridge(make_conf({
            "t1": sensor(rate=50, quantity="temperature", unit="°C", min=-40, max=125,
                         resolution=0.01, title="Test probe", thread="own"),
            "t2": sensor(rate=20, autostart=0),
        }), ws=ws)
        return self.d

    def raw(self, c, *frames, timeout=None):
        """Send raw request frames; the one-frame JSON reply."""
        c.send_frames(list(frames))
        return c.recv_json(timeout)

    def assertStillServing(self, c):
        """A normal request still works."""
        info = c.call("bridge.info")
        self.assertEqual(info["protocol"], 1)
        self.assertEqual(len(c.call("devices.list")), 2)

    # ------------------------------------------------------------------ the error table

    def test_parse_error_malformed_json(self):
        c = self.client(self.lab())
        for body in (b'{"id":1,', b'{"id":1,"method":"bridge.info"', b"nonsense", b"",
                     b'{"id":1,"method":"bridge.info"}}', b'{"id":1 "method":"x"}'):
            with self.subTest(body=body):
                r = self.raw(c, body)
                if body == b"":
                    # an empty frame: either unreadable JSON or an empty request
                    self.assertIn(r["error"]["code"], (PARSE, INVALID_REQUEST))
                    continue
                self.assertError(r["error"], "parse_error", PARSE)
                self.assertIsNone(r["id"], "an unreadable request is answered with id null")
        # an ambiguous request (a key twice) is refused, not guessed
        r = self.raw(c, b'{"id":1,"method":"bridge.info","method":"whoami"}')
        self.assertIn(r["error"]["code"], (PARSE, INVALID_REQUEST))
        self.assertStillServing(c)

    def test_parse_error_invalid_utf8(self):
        c = self.client(self.lab())
        for body in (b'{"id":1,"method":"bridge.info\xff"}',
                     b'{"id":1,"method":"bridge.info","params":{"kind":"\xc3\x28"}}',
                     b'{"id":"\xed\xa0\x80","method":"bridge.info"}',  # a UTF-16 surrogate
                     b'{"id":1,"method":"bridge.info","params":{"kind":"a\\u0000b"}}'):
            with self.subTest(body=body):
                r = self.raw(c, body)
                if b"\\u0000" in body:
                    # NUL in a string: jansson rejects it (documented in DESIGN.md)
                    self.assertIn(r["error"]["code"], (PARSE, INVALID_PARAMS))
                    continue
                self.assertError(r["error"], "parse_error", PARSE)
        self.assertStillServing(c)

    def test_invalid_request_not_an_object(self):
        c = self.client(self.lab())
        for body in (b"[1,2,3]", b"[]"):
            with self.subTest(body=body):
                self.assertError(self.raw(c, body)["error"], "invalid_request", INVALID_REQUEST)
        # JSON texts that are not arrays or objects are valid JSON (RFC 8259) too: PROTOCOL.md
        # says "not an object" is invalid_request, parse_error only for invalid JSON.
        for body in (b"42", b'"bridge.info"', b"null", b"true"):
            with self.subTest(body=body):
                r = self.raw(c, body)
                with self.regression_of("request.c lb_request_parse: a scalar JSON text (42, \"x\", "
                                    "null, true) is answered parse_error instead of "
                                    "invalid_request (json_loadb without JSON_DECODE_ANY)"):
                    self.assertError(r["error"], "invalid_request", INVALID_REQUEST)
                self.assertIn(r["error"]["code"], (PARSE, INVALID_REQUEST))
        self.assertStillServing(c)

    def test_invalid_request_missing_or_bad_id(self):
        c = self.client(self.lab())
        for body in ({"method": "bridge.info"}, {"id": None, "method": "bridge.info"},
                     {"id": 1.5, "method": "bridge.info"}, {"id": [1], "method": "bridge.info"},
                     {"id": {"a": 1}, "method": "bridge.info"}, {"id": True, "method": "whoami"}):
            with self.subTest(body=body):
                r = self.raw(c, json.dumps(body).encode())
                self.assertError(r["error"], "invalid_request", INVALID_REQUEST)
                self.assertIsNone(r["id"])
        self.assertStillServing(c)

    def test_invalid_request_missing_or_bad_method(self):
        c = self.client(self.lab())
        for body in ({"id": 3}, {"id": 4, "method": 5}, {"id": "x", "method": ""},
                     {"id": 6, "method": None}, {"id": 7, "method": ["bridge.info"]},
                     {"id": 8, "method": "bridge.info", "extra": 1}):
            with self.subTest(body=body):
                r = self.raw(c, json.dumps(body).encode())
                self.assertError(r["error"], "invalid_request", INVALID_REQUEST)
                self.assertEqual(r["id"], body["id"], "a readable id is echoed")
        self.assertStillServing(c)

    def test_method_not_found(self):
        c = self.client(self.lab())
        for method in ("nosuch", "nosuch.method", "sim.nosuch", "bridge.nosuch", "device.",
                       "BRIDGE.INFO", "bridge.info ", "x" * 100 + ".y"):
            with self.subTest(method=method):
                self.assertError(c.error(method), "method_not_found", NOT_FOUND)
        self.assertStillServing(c)

    def test_invalid_params_wrong_types(self):
        c = self.client(self.lab())
        cases = [
            ("devices.list", [1]),                                   # params not an object
            ("devices.list", "kind"),
            ("devices.list", {"kind": 3}),
            ("device.info", {}),                                     # device missing
            ("device.info", {"device": 5}),
            ("device.get", {"device": ["sim-t1"]}),
            ("device.get", {"device": "sim-t1", "key": 1}),
            ("device.set", {"device": "sim-t1", "key": "rate"}),     # value missing
            ("device.set", {"device": "sim-t1", "value": 3}),        # key missing
            ("device.set", {"device": "sim-t1", "key": "rate", "value": "fast"}),
            ("device.set", {"device": "sim-t1", "key": "rate", "value": 0}),      # range
            ("device.set", {"device": "sim-t1", "key": "rate", "value": 1e10}),
            ("device.call", {"device": "sim-t1"}),                   # action missing
            ("device.call", {"device": "sim-t1", "action": 7}),
            ("device.call", {"device": "sim-t1", "action": "hang", "args": {"ms": "x"}}),
            ("device.call", {"device": "sim-t1", "action": "hang", "args": {"ms": -1}}),
            ("snapshot", {"prefix": 1}),
            ("lease.acquire", {"device": "sim-t1", "ttl_ms": "long"}),
            ("lease.acquire", {"device": "sim-t1", "ttl_ms": 10}),   # below 1000
            ("lease.acquire", {"device": "sim-t1", "ttl_ms": 600001}),
            ("lease.acquire", {"device": "sim-t1", "ttl_ms": 1500.5}),
            ("lease.acquire", {"device": "sim-t1", "force": "yes"}),
            ("session.hello", {"name": 3}),
            ("session.hello", {"role": "admin"}),
            ("sim.unplug", {}),
            ("sim.unplug", {"device": 1}),
        ]
        for method, params in cases:
            with self.subTest(method=method, params=params):
                r = c.request(method, params)
                self.assertIn("error", r, "%s %s should fail" % (method, params))
                self.assertError(r["error"], "invalid_params", INVALID_PARAMS)
        self.assertStillServing(c)

    def test_invalid_params_unknown_params(self):
        c = self.client(self.lab())
        cases = [
            ("devices.list", {"bogus": 1}),
            ("devices.list", {"kind": "sensor", "Kind": "x"}),
            ("device.info", {"device": "sim-t1", "bogus": 1}),
            ("device.get", {"device": "sim-t1", "bogus": 1}),
            ("device.set", {"device": "sim-t1", "key": "rate", "value": 10, "bogus": 1}),
            ("device.start", {"device": "sim-t1", "bogus": 1}),
            ("device.stop", {"device": "sim-t1", "bogus": 1}),
            ("device.call", {"device": "sim-t1", "action": "hang", "bogus": 1}),
            ("snapshot", {"prefix": "", "bogus": 1}),
            ("lease.acquire", {"device": "sim-t1", "bogus": 1}),
            ("lease.release", {"device": "sim-t1", "bogus": 1}),
            ("session.hello", {"bogus": 1}),
        ]
        for method, params in cases:
            with self.subTest(method=method, params=params):
                self.assertError(c.error(method, params), "invalid_params", INVALID_PARAMS)
        # rate unchanged by the rejected device.set
        self.assertEqual(c.call("device.get", {"device": "sim-t1", "key": "rate"}), 50)
        # methods without parameters must reject unknown ones too ("a parameter is ... unknown")
        for method, params in (("bridge.info", {"bogus": 1}), ("whoami", {"bogus": 1}),
                               ("sim.plug", {"device": "sim-t1", "bogus": 1})):
            with self.subTest(method=method, params=params):
                r = c.request(method, params)
                with self.regression_of("server.c m_info / m_whoami and sim.c sim_bridge_call do "
                                    "not call lb_param_only: unknown parameters are accepted "
                                    "instead of invalid_params"):
                    self.assertIn("error", r, "%s accepted an unknown parameter" % method)
                    self.assertError(r["error"], "invalid_params", INVALID_PARAMS)
        self.assertStillServing(c)

    def test_unknown_device(self):
        c = self.client(self.lab())
        for method, params in (("device.info", {"device": "nope"}),
                               ("device.get", {"device": "nope"}),
                               ("device.set", {"device": "nope", "key": "rate", "value": 1}),
                               ("device.start", {"device": "sim-t"}),
                               ("device.stop", {"device": "sim-t1/"}),
                               ("device.call", {"device": "SIM-T1", "action": "hang"}),
                               ("lease.acquire", {"device": "nope"}),
                               ("lease.release", {"device": "nope"}),
                               ("sim.unplug", {"device": "sim-nope"}),
                               ("sim.plug", {"device": "nope"})):
            with self.subTest(method=method, params=params):
                self.assertError(c.error(method, params), "unknown_device", UNKNOWN_DEVICE)
        self.assertStillServing(c)

    def test_too_large_json_frame(self):
        c = self.client(self.lab())
        base = json.dumps({"id": 9, "method": "bridge.info"}).encode()
        # exactly 64 KiB (JSON may end with white space) is allowed
        r = self.raw(c, base + b" " * (65536 - len(base)))
        self.assertIn("result", r, "a 65536-byte request must be accepted: %r" % r)
        self.assertEqual(r["id"], 9)
        # one byte more is too large
        r = self.raw(c, base + b" " * (65537 - len(base)))
        self.assertError(r["error"], "too_large", TOO_LARGE)
        self.assertIn(r["id"], (None, 9))
        big = json.dumps({"id": 10, "method": "devices.list",
                          "params": {"kind": "x" * 200000}}).encode()
        self.assertError(self.raw(c, big)["error"], "too_large", TOO_LARGE)
        self.assertStillServing(c)

    def test_too_large_binary_frames(self):
        c = self.client(self.lab())
        req = json.dumps({"id": 11, "method": "bridge.info"}).encode()
        limit = 1024 * 1024
        # one frame over the limit closes the connection before the bridge reads it (libzmq's
        # ZMQ_MAXMSGSIZE): test_memlimits.MemLimitsTest.test_frame_size_limit
        # the total of several frames counts
        half = b"\1" * (limit // 2 + 1)
        r = self.raw(c, req, half, half, timeout=20)
        self.assertError(r["error"], "too_large", TOO_LARGE)
        self.assertEqual(r["id"], 11, "the id is read for a too_large reply on binary frames")
        # many frames beyond the bridge's envelope buffer still add up
        r = self.raw(c, req, *([b"\2" * (64 * 1024)] * 17), timeout=20)
        self.assertError(r["error"], "too_large", TOO_LARGE)
        self.assertStillServing(c)

    def test_binary_frames_on_a_method_that_takes_none(self):
        c = self.client(self.lab())
        for method in ("bridge.info", "devices.list", "device.get"):
            with self.subTest(method=method):
                params = {"device": "sim-t1"} if method == "device.get" else None
                r = c.request(method, params, frames=[b"payload"])
                self.assertError(r["error"], "invalid_params", INVALID_PARAMS)
                self.assertEqual(r["id"], c.next_id - 1)
        # many small frames (more than the bridge keeps as envelope)
        r = c.request("bridge.info", frames=[b"x"] * 20)
        self.assertError(r["error"], "invalid_params", INVALID_PARAMS)
        self.assertStillServing(c)

    def test_empty_request(self):
        c = self.client(self.lab())
        c.sock.send_multipart([b""])  # a DEALER delimiter and nothing after it
        r = c.recv_json()
        self.assertError(r["error"], "invalid_request", INVALID_REQUEST)
        self.assertIsNone(r["id"])
        self.assertStillServing(c)

    # ------------------------------------------------------------------ clients

    def test_req_and_dealer_clients(self):
        d = self.lab()
        req = self.client(d, kind="req")
        self.assertEqual(req.call("bridge.info")["protocol"], 1)
        self.assertError(req.error("nosuch"), "method_not_found", NOT_FOUND)
        self.assertEqual(len(req.call("devices.list")), 2)
        dealer = self.client(d)
        # a DEALER may pipeline requests; ids (integers or strings) match the replies
        ids = [dealer.send("whoami", id="w-1"), dealer.send("bridge.info", id=12345),
               dealer.send("devices.list", id="é-ü"), dealer.send("nosuch", id=-7),
               dealer.send("device.get", {"device": "sim-t1"}, id=0)]
        replies = [dealer.recv_json() for _ in ids]
        self.assertEqual(sorted(json.dumps(r["id"]) for r in replies),
                         sorted(json.dumps(i) for i in ids))
        got = {json.dumps(r["id"]): r for r in replies}
        self.assertEqual(got['"w-1"']["result"]["role"], "teacher")
        self.assertEqual(got["-7"]["error"]["name"], "method_not_found")
        self.assertEqual(got["0"]["result"]["rate"], 50)
        # a DEALER without the empty delimiter: the bridge echoes the envelope it got
        dealer.sock.send_multipart([json.dumps({"id": 99, "method": "whoami"}).encode()])
        self.assertTrue(dealer.sock.poll(5000), "no reply to a request without delimiter")
        frames = dealer.sock.recv_multipart()
        self.assertEqual(json.loads(frames[-1])["id"], 99)
        self.assertStillServing(req)

    # ------------------------------------------------------------------ device methods

    def test_device_info_and_list(self):
        c = self.client(self.lab())
        devs = {x["id"]: x for x in c.call("devices.list")}
        self.assertEqual(set(devs), {"sim-t1", "sim-t2"})
        self.assertEqual(c.call("devices.list", {"kind": "sensor"}), c.call("devices.list"))
        self.assertEqual(c.call("devices.list", {"kind": "robot"}), [])
        t1 = c.call("device.info", {"device": "sim-t1"})
        self.assertEqual(t1, devs["sim-t1"])
        for k, v in (("id", "sim-t1"), ("kind", "sensor"), ("driver", "sim"),
                     ("name", "Test probe"), ("simulated", True), ("state", "running"),
                     ("lease", None)):
            self.assertEqual(t1[k], v, k)
        self.assertEqual(devs["sim-t2"]["state"], "ready", "autostart = 0")
        # what it can do: streams, and the simulator's teacher action (hang)
        self.assertEqual(t1["capabilities"], ["stream", "halt", "actions"])
        s = t1["streams"][0]
        self.assertEqual(len(t1["streams"]), 1)
        for k, v in (("name", "temperature"), ("topic", T1), ("quantity", "temperature"),
                     ("unit", "°C"), ("type", "f32"), ("rate", 50), ("min", -40), ("max", 125),
                     ("resolution", 0.01)):
            self.assertEqual(s[k], v, "stream " + k)
        self.assertEqual(t1["config"]["rate"], 50)
        self.assertEqual(t1["limits"]["rate"], {"min": 0.001, "max": 1000000000})

    def test_device_get_and_set_rate(self):
        d = self.lab()
        c = self.client(d)
        cfg = c.call("device.get", {"device": "sim-t1"})
        self.assertEqual(cfg["rate"], 50)
        self.assertIn("wave", cfg)
        self.assertEqual(c.call("device.get", {"device": "sim-t1", "key": "rate"}), 50)
        self.assertError(c.error("device.get", {"device": "sim-t1", "key": "bogus"}),
                         "invalid_params", INVALID_PARAMS)
        self.assertError(c.error("device.set", {"device": "sim-t1", "key": "bogus", "value": 1}),
                         "not_supported", NOT_SUPPORTED)
        sub = self.subscriber(d, ["sensor/sim-t1/"])
        self.assertEqual(sub.wait_for(lambda m: True).header["rate"], 50)
        self.assertEqual(c.call("device.set", {"device": "sim-t1", "key": "rate", "value": 200}),
                         200)
        # the stream headers carry the new rate (batches of 2 at 200 Hz), seq goes on
        before = []
        first = sub.wait_for(lambda m: m.header["rate"] == 200, keep=before,
                             what="a header with rate 200")
        later = [first] + sub.collect(0.5)
        self.assertTrue(all(m.header["rate"] == 200 for m in later))
        self.assertEqual(seq_gaps(before + later), [], "seq continues across a rate change")
        n = sum(m.header["count"] for m in later[:-1])
        span = (later[-1].header["t_host"] - later[0].header["t_host"]) / 1e9
        self.assertAlmostEqual(n / span, 200, delta=5, msg="samples are 1/200 s apart")
        dev = c.call("device.info", {"device": "sim-t1"})
        self.assertEqual(dev["streams"][0]["rate"], 200)
        self.assertEqual(dev["config"]["rate"], 200)
        listed = [x for x in c.call("devices.list") if x["id"] == "sim-t1"][0]
        self.assertEqual((listed["streams"][0]["rate"], listed["config"]["rate"]), (200, 200))
        self.assertEqual(c.call("device.get", {"device": "sim-t1", "key": "rate"}), 200)
        # other settings
        self.assertEqual(c.call("device.set", {"device": "sim-t1", "key": "wave",
                                               "value": "square"}), "square")
        self.assertError(c.error("device.set", {"device": "sim-t1", "key": "wave",
                                                "value": "zigzag"}), "invalid_params",
                         INVALID_PARAMS)

    def test_device_stop_and_start(self):
        d = self.lab()
        c = self.client(d)
        sub = self.subscriber(d, ["sensor/sim-t1/"])
        sub.wait_for(lambda m: True, what="samples before stopping")
        dev = c.call("device.stop", {"device": "sim-t1"})
        self.assertEqual(dev["state"], "ready")
        self.assertEqual(c.call("device.info", {"device": "sim-t1"})["state"], "ready")
        # the last seq at the time of the stop: nothing may follow it while stopped
        snap = c.call("snapshot", {"prefix": T1})
        last = snap["streams"][0]["seq"]
        while_stopped = [m for m in sub.collect(1.0) if m.header["seq"] > last]
        self.assertEqual(while_stopped, [], "samples while stopped")
        self.assertEqual(c.call("device.stop", {"device": "sim-t1"})["state"], "ready",
                         "stopping a stopped device is fine")
        self.assertEqual(c.call("device.start", {"device": "sim-t1"})["state"], "running")
        t_start = time.time_ns()
        m = sub.wait_for(lambda m: m.header["seq"] > last, what="samples after device.start")
        self.assertEqual(m.header["seq"], last + 1, "seq continues after a restart")
        self.assertGreater(m.header["t_host"], t_start - 200e6,
                           "after start the timeline restarts now (no backlog of old samples)")
        # a device created stopped (autostart = 0) starts on request
        sub2 = self.subscriber(d, ["sensor/sim-t2/"])
        self.assertEqual(sub2.collect(0.5), [], "autostart = 0 sends nothing")
        self.assertEqual(c.call("device.start", {"device": "sim-t2"})["state"], "running")
        self.assertEqual(sub2.wait_for(lambda m: True).header["seq"], 1)

    def test_device_call(self):
        c = self.client(self.lab())
        self.assertError(c.error("device.call", {"device": "sim-t1", "action": "fly"}),
                         "not_supported", NOT_SUPPORTED)
        self.assertEqual(c.call("device.call", {"device": "sim-t1", "action": "hang",
                                                "args": {"ms": 50}}), {"slept_ms": 50})
        # t2 shares the simulated sensors' thread: it may not block it
        e = c.error("device.call", {"device": "sim-t2", "action": "hang", "args": {"ms": 50}})
        self.assertError(e, "not_supported", NOT_SUPPORTED)
        self.assertIn("thread = own", e["message"])

    def test_bridge_info(self):
        d = self.lab()
        c = self.client(d)
        t0 = time.time_ns()
        info = c.call("bridge.info")
        self.assertEqual(info["protocol"], 1)
        self.assertIsInstance(info["version"], str)
        self.assertRegex(info["version"], r"^\d+\.\d+")
        self.assertRegex(info["epoch"], r"^[0-9a-f]{16}$")
        self.assertIs(info["simulated"], True)
        self.assertIsInstance(info["uptime_ms"], int)
        self.assertGreaterEqual(info["uptime_ms"], 0)
        self.assertLess(abs(info["t_host"] - t0), 2e9)
        self.assertEqual(info["devices"], 2)
        self.assertEqual(info["endpoints"]["pub"], d.pub)
        self.assertEqual(info["endpoints"]["rpc"], d.rpc)
        self.assertIsNone(info["endpoints"].get("ws"), "--ws none: no ws endpoint")
        time.sleep(0.05)  # not a synchronisation: uptime must grow
        self.assertGreater(c.call("bridge.info")["uptime_ms"], info["uptime_ms"])
        self.assertEqual(c.call("bridge.info")["epoch"], info["epoch"])
        # the sample headers carry the same epoch
        sub = self.subscriber(d, ["sensor/"])
        self.assertEqual(sub.wait_for(lambda m: True).header["epoch"], info["epoch"])

    def test_bridge_info_ws_endpoint(self):
        d = self.lab(ws=True)
        info = self.client(d).call("bridge.info")
        ws = info["endpoints"].get("ws")
        self.assertIsNotNone(ws, "ws endpoint missing from bridge.info")
        m = re.match(r"^ws://127\.0\.0\.1:(\d+)", ws)
        self.assertTrue(m, ws)
        self.assertNotEqual(int(m.group(1)), 0, "the real port, not 0")
        self.assertEqual(ws, d.ready_endpoint("ws"))

    def test_whoami(self):
        c = self.client(self.lab())
        me = c.call("whoami")
        self.assertEqual(me["role"], "teacher")
        self.assertEqual(me["user"], "unix:root")  # the Unix user running this test
        self.assertEqual(me["name"], "")


if __name__ == "__main__":
    import unittest
    unittest.main()
