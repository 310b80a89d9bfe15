"""Life cycle: snapshot + updates (Clone pattern), unplug/plug, slow subscribers, a hung device,
shutdown, bad configuration files, busy endpoints."""
import json
import os
import re
import signal
import time

import zmq

from lbtest import (BridgeTest, Daemon, Msg, make_conf, sensor, seq_gaps, by_topic,
                    sanitizer_errors)

UNKNOWN_DEVICE, TIMEOUT = 1001, 1006
T1, T2 = "sensor/sim-t1/voltage/", "sensor/sim-t2/voltage/"


class CloneTest(BridgeTest):

    def test_snapshot_then_updates(self):
        d = self.start_bridge(make_conf({
            "t1": sensor(rate=50, wave="ramp"),
            "t2": sensor(rate=400, wave="sine", frequency=3),
            "t3": sensor(rate=5, wave="constant", offset=7.25),
            "idle": sensor(rate=10, autostart=0),
        }))
        c = self.client(d)
        # 1. subscribe first, and queue messages
        sub = self.subscriber(d, ["sensor/"], rcvhwm=100000)
        # (let every running stream send once, so that all three are in the snapshot)
        early = sub.collect(until=lambda got: len({m.topic for m in got}) >= 3, seconds=5)
        # 2. snapshot
        snap = c.call("snapshot", {"prefix": "sensor/"})
        # 3. collect updates, apply those with seq > the snapshot's
        msgs = early + sub.collect(1.5)
        self.assertRegex(snap["epoch"], r"^[0-9a-f]{16}$")
        self.assertEqual(len(snap["devices"]), 4)
        state = {s["topic"]: s for s in snap["streams"]}
        self.assertEqual(set(state), {"sensor/sim-t1/voltage/", "sensor/sim-t2/voltage/",
                                      "sensor/sim-t3/voltage/"},
                         "streams that never sent are absent; no bridge/ topic for sensor/")
        topics = by_topic(msgs)
        for topic, entry in state.items():
            with self.subTest(topic=topic):
                self.assertEqual(entry["header"]["seq"], entry["seq"],
                                 "the snapshot's header is the last one sent")
                self.assertEqual(entry["header"]["epoch"], snap["epoch"])
                got = topics.get(topic, [])
                applied = [m for m in got if m.header["seq"] > entry["seq"]]
                self.assertTrue(applied, "no update after the snapshot on %s" % topic)
                self.assertEqual(applied[0].header["seq"], entry["seq"] + 1,
                                 "first applied update must follow the snapshot directly")
                self.assertEqual(seq_gaps(applied), [], "updates missing")
                # the snapshot's value is the last sample of the message it stands for
                same = [m for m in got if m.header["seq"] == entry["seq"]]
                if same:
                    self.assertEqual(same[0].header, entry["header"])
                    self.assertAlmostEqual(entry["value"], same[0].samples[-1],
                                           delta=1e-6 * max(1, abs(entry["value"])))
        self.assertEqual(state["sensor/sim-t3/voltage/"]["value"], 7.25)
        # a prefix selects streams; the empty prefix adds bridge/devices/
        only = c.call("snapshot", {"prefix": "sensor/sim-t2/"})
        self.assertEqual([s["topic"] for s in only["streams"]], ["sensor/sim-t2/voltage/"])
        everything = c.call("snapshot")
        self.assertIn("bridge/devices/", [s["topic"] for s in everything["streams"]])
        self.assertLess(abs(everything["t_host"] - time.time_ns()), 2e9)


class PlugTest(BridgeTest):

    def test_unplug_and_plug_keep_id_and_seq(self):
        d = self.start_bridge(make_conf({"t1": sensor(rate=50), "t2": sensor(rate=100)}))
        c = self.client(d)
        sub = self.subscriber(d, ["bridge/devices/", "sensor/sim-t2/"])
        before = sub.collect(0.3)
        self.assertTrue([m for m in before if m.topic.startswith("sensor/")])
        self.assertIsNone(c.call("sim.unplug", {"device": "sim-t2"}))
        removed = sub.wait_for(lambda m: m.topic == "bridge/devices/", keep=before,
                               what="a bridge/devices/ event after sim.unplug")
        self.assertEqual(removed.data["event"], "removed")
        self.assertEqual(removed.data["device"]["id"], "sim-t2")
        last_seq = [m for m in before if m.topic.startswith("sensor/")][-1].header["seq"]
        self.assertEqual(seq_gaps([m for m in before if m.topic.startswith("sensor/")]), [])
        # gone from the list, and requests to it fail
        self.assertEqual([x["id"] for x in c.call("devices.list")], ["sim-t1"])
        self.assertEqual(c.call("bridge.info")["devices"], 1)
        for method, params in (("device.get", {"device": "sim-t2"}),
                               ("device.info", {"device": "sim-t2"}),
                               ("device.set", {"device": "sim-t2", "key": "rate", "value": 5}),
                               ("device.start", {"device": "sim-t2"})):
            with self.subTest(method=method):
                self.assertError(c.error(method, params), "unknown_device", UNKNOWN_DEVICE)
        # the snapshot keeps the ended stream with its last seq, so that no false gap shows
        # when the device comes back (PROTOCOL.md)
        ended = [s for s in c.call("snapshot")["streams"] if s["topic"] == "sensor/sim-t2/voltage/"]
        self.assertEqual(len(ended), 1)
        self.assertIs(ended[0]["ended"], True)
        self.assertIsNone(ended[0]["value"])
        # its streams ended with the removed event
        after_removal = []
        self.assertIsNone(c.call("sim.plug", {"device": "sim-t2"}))
        added = sub.wait_for(lambda m: m.topic == "bridge/devices/", keep=after_removal,
                             what="an added event after sim.plug")
        self.assertEqual(after_removal, [], "stream messages between removed and added")
        self.assertEqual(added.data["event"], "added")
        self.assertEqual(added.data["device"]["id"], "sim-t2", "the same id again")
        self.assertEqual(added.header["seq"], removed.header["seq"] + 1)
        first = sub.wait_for(lambda m: m.topic.startswith("sensor/"),
                             what="samples of the plugged-in device")
        self.assertEqual(first.topic, "sensor/sim-t2/voltage/")
        self.assertGreater(first.header["seq"], last_seq, "seq restarted after plugging in")
        self.assertEqual(first.header["seq"], last_seq + 1, "seq continues with the next one")
        self.assertEqual(sorted(x["id"] for x in c.call("devices.list")), ["sim-t1", "sim-t2"])
        self.assertEqual(c.call("device.get", {"device": "sim-t2", "key": "rate"}), 100)
        # unplug/plug of unknown or never-simulated ids
        self.assertError(c.error("sim.unplug", {"device": "sim-zz"}), "unknown_device",
                         UNKNOWN_DEVICE)


class LoadTest(BridgeTest):

    def test_slow_subscriber_does_not_block_the_bridge(self):
        d = self.start_bridge(make_conf({"fast": sensor(rate=100000, batch=100),
                                         "t1": sensor(rate=20)},
                                        bridge={"pub_hwm": 100}))
        c = self.client(d)
        slow = self.subscriber(d, ["sensor/sim-fast/"], rcvhwm=10)
        fast = self.subscriber(d, ["sensor/sim-fast/"], rcvhwm=1000000)
        slow.wait_for(lambda m: True, what="the slow subscriber's first message")
        # the slow subscriber now reads nothing for 2.5 s, while the other one keeps reading
        got = []
        latencies = []
        t_end = time.monotonic() + 2.5
        next_req = 0
        while time.monotonic() < t_end:
            got += fast.collect(0.05)
            if time.monotonic() >= next_req:
                t0 = time.monotonic()
                self.assertEqual(c.call("bridge.info", timeout=2)["devices"], 2)
                latencies.append(time.monotonic() - t0)
                next_req = time.monotonic() + 0.2
        got += fast.collect(0.3)
        self.assertGreater(len(got), 1500, "the fast subscriber got too little (1000 msg/s)")
        self.assertEqual(seq_gaps(got), [], "the fast subscriber lost messages")
        self.assertLess(max(latencies), 0.5, "requests slowed down: %r" % max(latencies))
        # the slow subscriber lost messages, visibly: seq jumps
        late = slow.collect(1.0)
        self.assertTrue(late, "the slow subscriber gets messages again")
        gaps = seq_gaps(late)
        self.assertTrue(gaps, "the slow subscriber should see seq gaps (%d messages)" % len(late))
        self.assertGreater(late[-1].header["seq"] - late[0].header["seq"] + 1, len(late))

    def test_hung_device_does_not_stall_the_others(self):
        # t2 has a thread of its own, as a driver that may block has
        d = self.start_bridge(make_conf({"t1": sensor(rate=50, batch=1),
                                         "t2": sensor(rate=50, batch=1, thread="own")},
                                        bridge={"request_timeout_ms": 1000,
                                                "heartbeat_ms": None}))
        c = self.client(d)
        hanger = self.client(d)  # a separate connection that does not wait for its reply
        sub = self.subscriber(d, ["sensor/", "bridge/heartbeat/"])
        seen = [sub.wait_for(lambda m: m.topic == T2, what="t2 samples")] + sub.backlog
        sub.backlog = []
        poller = zmq.Poller()
        for s in (sub.sock, c.sock, hanger.sock):
            poller.register(s, zmq.POLLIN)
        sent, replies, dup = {}, {}, []

        def send(client, method, params, id):
            sent[id] = time.monotonic()
            client.send(method, params, id=id)

        def pump(seconds):
            """Read the stream and the replies as they arrive, for seconds."""
            end = time.monotonic() + seconds
            while True:
                left = end - time.monotonic()
                if left <= 0:
                    return
                for sock, _ in poller.poll(max(1, int(left * 1000))):
                    t = time.monotonic()
                    frames = sock.recv_multipart()
                    if sock is sub.sock:
                        seen.append(Msg(frames, t))
                        continue
                    r = json.loads(frames[-1])
                    if r["id"] in replies:
                        dup.append(r)
                    replies[r["id"]] = (r, t - sent[r["id"]])

        # hang t2's thread for 3 s, then ask t2 for its settings
        send(hanger, "device.call", {"device": "sim-t2", "action": "hang", "args": {"ms": 3000}},
             "hang")
        t_hang = time.monotonic()
        send(c, "device.get", {"device": "sim-t2"}, "get-t2")
        # meanwhile ask the bridge and the other device every 100 ms
        probes = []
        while time.monotonic() - t_hang < 2.7:
            n = len(probes)
            probes += ["t1-%d" % n, "info-%d" % n]
            send(c, "device.get", {"device": "sim-t1", "key": "rate"}, "t1-%d" % n)
            send(c, "bridge.info", None, "info-%d" % n)
            pump(0.1)
        pump(0.3)
        # the hung device's requests time out after request_timeout_ms (1 s)
        for id in ("hang", "get-t2"):
            self.assertIn(id, replies, "no reply to %s" % id)
            r, latency = replies[id]
            self.assertError(r.get("error"), "timeout", TIMEOUT)
            self.assertTrue(0.7 <= latency <= 2.0, "%s: timeout after %.2f s, expected about 1 s"
                            % (id, latency))
        # the other requests were answered at once
        for id in probes:
            self.assertIn(id, replies, "no reply to %s during the hang" % id)
            r, latency = replies[id]
            self.assertIn("result", r)
            self.assertLess(latency, 0.5, "%s took %.2f s during the hang" % (id, latency))
        # the other device's stream and the heartbeats went on
        during = [m for m in seen if m.t_recv >= t_hang]
        t1 = [m for m in during if m.topic == T1]
        hbs = [m for m in during if m.topic == "bridge/heartbeat/"]
        self.assertGreater(len(t1), 90, "t1 kept streaming during the hang (50 Hz, 2.7 s)")
        self.assertEqual(seq_gaps(t1), [])
        arrivals = [t_hang] + [m.t_recv for m in t1]
        self.assertLess(max(b - a for a, b in zip(arrivals, arrivals[1:])), 0.5,
                        "t1 stalled during the hang")
        self.assertGreaterEqual(len(hbs), 3)
        self.assertLess(max(b.t_recv - a.t_recv for a, b in zip(hbs, hbs[1:])), 1.2,
                        "heartbeats stalled during the hang")
        # t2 comes back after the hang, without losing samples
        t2_before = [m for m in seen if m.topic == T2]
        back = [m for m in sub.collect(3, until=lambda got: any(m.topic == T2 for m in got))
                if m.topic == T2]
        self.assertTrue(back, "no t2 samples after the hang")
        self.assertEqual(back[0].header["seq"], t2_before[-1].header["seq"] + 1)
        self.assertEqual(c.call("device.get", {"device": "sim-t2", "key": "rate"}), 50)
        # the device's late answers were dropped: one reply per request
        pump(0.3)
        self.assertEqual(dup, [], "a second reply to a timed-out request")


class ShutdownTest(BridgeTest):

    def test_sigterm_shuts_down_cleanly_within_3s(self):
        d = self.start_bridge(make_conf({"t1": sensor(rate=50), "fast": sensor(rate=50000),
                                         "t2": sensor(rate=10, autostart=0, thread="own")}),
                              ws=True)
        c = self.client(d)
        sub = self.subscriber(d, [""])
        sub.collect(0.3)
        c.call("lease.acquire", {"device": "sim-t1"})
        c.send("device.call", {"device": "sim-t2", "action": "hang", "args": {"ms": 200}})
        rc = d.stop(timeout=3)
        self.assertFalse(d.killed, "not stopped within 3 s of SIGTERM")
        self.assertEqual(rc, 0)
        self.assertLess(d.stop_seconds, 3)
        self.assertEqual(sanitizer_errors(d.stderr()), [])

    def test_restart_gives_a_new_epoch_and_seq_restarts(self):
        conf = make_conf({"t1": sensor(rate=50)})
        d = self.start_bridge(conf, name="one")
        first = self.client(d).call("bridge.info")["epoch"]
        sub = self.subscriber(d, ["sensor/"])
        self.assertGreater(sub.collect(0.3)[-1].header["seq"], 1)
        self.assertEqual(d.stop(timeout=3), 0)
        d2 = self.start_bridge(conf, name="two", pub=d.pub, rpc=d.rpc)
        again = self.client(d2).call("bridge.info")["epoch"]
        self.assertNotEqual(again, first, "a restarted bridge has a new epoch")
        # the old subscriber reconnects by itself: it sees the new epoch and seq from 1 again
        m = sub.wait_for(lambda m: m.header["epoch"] == again, timeout=5,
                         what="messages of the new epoch on the old subscriber")
        self.assertLess(m.header["seq"], 100)

    def test_sigint_also_stops(self):
        d = self.start_bridge(make_conf({"t1": sensor(rate=50)}))
        self.assertEqual(d.stop(timeout=3, sig=signal.SIGINT), 0)


class ConfigTest(BridgeTest):

    def bad_config(self, text, name):
        """Start a daemon on a bad file: it must exit non-zero by itself; its stderr."""
        d = self.start_bridge(text, name=name, ready=False, check_exit=False)
        rc = d.wait_exit(10)
        self.assertIsNotNone(rc, "the daemon did not exit on a bad configuration")
        self.assertNotEqual(rc, 0)
        self.assertIsNone(d.ready_line, "ready despite a bad configuration")
        err = d.stderr()
        self.assertEqual(sanitizer_errors(err), [], err)
        return d, err

    def test_unknown_key_in_bridge_section(self):
        d, err = self.bad_config("[bridge]\nsimulate = yes\n\nbogus_key = 1\n", "unknown")
        self.assertIn("%s:4:" % d.conf_path, err, "the message names the file and line")
        self.assertIn("bogus_key", err)

    def test_syntax_error(self):
        d, err = self.bad_config("[bridge]\nsimulate = yes\nthis line is not ini\n", "syntax")
        self.assertIn("%s:3:" % d.conf_path, err)
        d, err = self.bad_config("; comment\n[bridge\nsimulate = yes\n", "section")
        self.assertRegex(err, re.escape(d.conf_path) + r":\d+:")
        with self.regression_of("config.c lb_config_load: after an unterminated section header "
                            "('[bridge' on line 2) the message names line 3 ('simulate' is "
                            "outside any [section]), not the syntax error on line 2: inih "
                            "goes on after a syntax error and the callback's later error wins"):
            self.assertIn("%s:2:" % d.conf_path, err)

    def test_bad_values(self):
        for i, (text, line, word) in enumerate((
                ("[bridge]\nsimulate = yes\nheartbeat_ms = fast\n", 3, "heartbeat_ms"),
                ("[bridge]\nrequest_timeout_ms = 5\n", 2, "request_timeout_ms"),
                ("[bridge]\nsimulate = yes\n[access]\ndefault_role = admin\n", 4, "admin"),
                ("[bridge]\nsimulate = yes\n[access]\nowner = me\n", 4, "owner"))):
            with self.subTest(text=text):
                d, err = self.bad_config(text, "bad%d" % i)
                self.assertIn("%s:%d:" % (d.conf_path, line), err)
                self.assertIn(word, err)
        d, err = self.bad_config("[bridge]\nsimulate = sometimes\n", "simulate")
        self.assertIn("sometimes", err)

    def test_bad_sim_section(self):
        # [sim.NAME] sections are read at every scan (start, hot-plug, every 2 s, sim.plug)
        conf = make_conf({"good": sensor(rate=10), "t1": {"rate": "fast"},
                          "t2": {"rat": 10, "quantity": "voltage"}})
        d = self.start_bridge(conf)
        c = self.client(d)
        ids = [x["id"] for x in c.call("devices.list")]
        self.assertIn("sim-good", ids)
        self.assertNotIn("sim-t1", ids, "a sensor with an invalid rate must not appear")
        line = conf.splitlines().index("rate = fast") + 1
        msg = "%s:%d:" % (d.conf_path, line)
        self.assertIn(msg, d.stderr(), "the error names the file and line")
        # a scan now (sim.plug asks for one): the same error must not be logged again
        c.call("sim.plug", {"device": "sim-good"})
        c.call("sim.plug", {"device": "sim-good"})
        c.call("bridge.info")  # answered after the loop iteration that ran the scans
        with self.regression_of("sim.c sim_scan re-reads the [sim.*] sections at every scan (every "
                            "2 s, and on every sim.plug/sim.unplug) and logs the same config "
                            "error each time: a bad [sim.x] value fills the journal forever "
                            "(1800 lines/hour); fix: validate [sim.*] once at start (fatal, like "
                            "[bridge]) or log each section's error once (as server.c does for "
                            "open failures with s->failed)"):
            self.assertEqual(d.stderr().count(msg), 1, "the config error was logged again")
        with self.regression_of("sim.c sim_scan ignores unknown keys of [sim.NAME] sections: a typo "
                            "('rat = 10' for 'rate') is silently dropped and the default used; "
                            "fix: reject keys outside the documented list, naming file and line "
                            "(config.c knows the line of every key in _lines)"):
            self.assertRegex(d.stderr(), r"\brat\b", "the unknown key 'rat' was accepted "
                             "without a word")

    def test_missing_config_file(self):
        d = Daemon(self.tmp, "", name="missing")
        os.unlink(d.conf_path)
        d.check_exit = False
        self.daemons.append(d)
        d.start()
        rc = d.wait_exit(10)
        self.assertNotIn(rc, (None, 0))
        self.assertIn(d.conf_path, d.stderr())


class EndpointTest(BridgeTest):

    def test_busy_tcp_endpoint(self):
        conf = make_conf({"t1": sensor(rate=10)})
        first = self.start_bridge(conf, name="first", rpc="tcp://127.0.0.1:0")
        rpc = first.ready_endpoint("requests")
        self.assertRegex(rpc, r"^tcp://127\.0\.0\.1:[1-9]\d*$")
        second = self.start_bridge(conf, name="second", rpc=rpc, ready=False, check_exit=False)
        rc = second.wait_exit(10)
        self.assertIsNotNone(rc, "a second daemon on a busy endpoint did not exit")
        self.assertNotEqual(rc, 0)
        err = second.stderr()
        self.assertIn(rpc, err, "the message names the endpoint")
        self.assertIn("in use", err.lower())
        self.assertEqual(sanitizer_errors(err), [], err)
        # the first one is unharmed
        self.assertEqual(self.client(rpc).call("bridge.info")["devices"], 1)

    def test_busy_ipc_endpoint(self):
        conf = make_conf({"t1": sensor(rate=10)})
        first = self.start_bridge(conf, name="first")
        second = self.start_bridge(conf, name="second", rpc=first.rpc, ready=False,
                                   check_exit=False)
        rc = second.wait_exit(1.5)
        with self.regression_of("server.c bind_endpoint: libzmq unlinks an existing ipc:// socket "
                            "file before binding, so a second daemon on the same ipc endpoint "
                            "starts and silently steals it from the first instead of failing"):
            self.assertIsNotNone(rc, "a second daemon on a busy ipc endpoint kept running")
            self.assertNotEqual(rc, 0)
            self.assertIn(first.rpc, second.stderr())
        if second.running():
            second.stop()
        # after the second one ends, the first one's endpoint may be gone; it still exits cleanly


if __name__ == "__main__":
    import unittest
    unittest.main()
