"""Configuration mistakes and devices that are not there: what users see.

Every mistake in the configuration file names the file and line, once (not at every rescan);
configured devices that are absent or fail to open are listed by devices.list {all: true} and by
`labctl devices` with the reason; a board that never answers does not hold up "ready".
"""
import os
import pty
import time

from lbtest import BridgeTest, make_conf, sensor, labctl_path, run_program, san_env, wait_until

RUN_TIMEOUT = 20


def line_of(text, needle):
    """The 1-based number of the line of text that contains needle."""
    for i, l in enumerate(text.splitlines(), 1):
        if needle in l:
            return i
    raise AssertionError("%r not in the configuration" % needle)


class ConfigDiagnostics(BridgeTest):

    def labctl(self, d, *args):
        cmd = [labctl_path(), "--pub", d.pub, "--rpc", d.rpc] + list(args)
        rc, out, err, _ = run_program(cmd, RUN_TIMEOUT, env=san_env())
        self.assertEqual(rc, 0, "labctl %s: %s %s" % (" ".join(args), out, err))
        return out

    def wait_rescans(self, c, n=2):
        """Wait until the bridge has rescanned at least n more times (one scan every 2 s)."""
        up = c.call("bridge.info")["uptime_ms"]
        wait_until(lambda: c.call("bridge.info")["uptime_ms"] > up + 2000 * n + 500,
                   timeout=2.5 * n + 10, interval=0.2, what="%d rescans" % n)

    def test_mistakes_named_once_with_file_and_line(self):
        raw = ("[firmata.nope]\n"
               "port = /dev/ttyNOPE0\n"
               "[firmatta.x]\n"
               "port = /dev/null\n"
               "[foo]\n"
               "colour = blue\n"
               "[marlin.noport]\n"
               "title = Printer without a port\n"
               "[lines.noport]\n"
               "baud = 9600\n"
               "[sim.w]\n"
               "wave = zigzag\n")
        conf = make_conf({"t": sensor()}, raw=raw)
        d = self.start_bridge(conf)
        c = self.client(d)
        path = d.conf_path
        expect = [
            "%s:%d: device firmata-nope is not available: port /dev/ttyNOPE0 does not exist" %
            (path, line_of(conf, "[firmata.nope]")),
            "%s:%d: [firmatta.x] is not a section labbridge knows, so it is ignored: did you "
            "mean [firmata.x]?" % (path, line_of(conf, "[firmatta.x]")),
            "%s:%d: [foo] is not a section labbridge knows" % (path, line_of(conf, "[foo]")),
            "%s:%d: device printer-noport is not available: [marlin.noport] has no port" %
            (path, line_of(conf, "[marlin.noport]")),
            "%s:%d: device lines-noport is not available: [lines.noport] has no port" %
            (path, line_of(conf, "[lines.noport]")),
            "%s:%d: [sim.w] wave = 'zigzag' must be constant, sine" %
            (path, line_of(conf, "[sim.w]")),
        ]
        for e in expect:
            wait_until(lambda: e in d.stderr(), what="the warning %r" % e)
        self.wait_rescans(c)
        err = d.stderr()
        for e in expect:
            self.assertEqual(err.count(e), 1, "%r must be logged once:\n%s" % (e, err))
        # devices.list stays compatible: live devices only, unless all is asked for
        self.assertEqual([x["id"] for x in c.call("devices.list")], ["sim-t"])
        every = {x["id"]: x for x in c.call("devices.list", {"all": True})}
        self.assertTrue(every["sim-t"].get("available", True))
        nope = every["firmata-nope"]
        self.assertEqual((nope["state"], nope["available"], nope["driver"], nope["kind"]),
                         ("absent", False, "firmata", "sensor"))
        self.assertIn("port /dev/ttyNOPE0 does not exist", nope["reason"])
        self.assertEqual(nope["where"], "%s:%d" % (path, line_of(conf, "[firmata.nope]")))
        self.assertIn("has no port", every["printer-noport"]["reason"])
        self.assertEqual([x["id"] for x in c.call("devices.list", {"all": True,
                                                                   "kind": "printer"})],
                         ["printer-noport"])
        self.assertEqual(c.error("devices.list", {"all": 1})["name"], "invalid_params")
        out = self.labctl(d, "devices")
        self.assertIn("NOT AVAILABLE", out)
        row = [l for l in out.splitlines() if l.startswith("firmata-nope")]
        self.assertEqual(len(row), 1, out)
        self.assertIn("absent", row[0])
        self.assertIn("port /dev/ttyNOPE0 does not exist", row[0])
        self.assertIn("%s:%d" % (path, line_of(conf, "[firmata.nope]")), row[0])
        self.assertLess(out.index("sim-t"), out.index("NOT AVAILABLE"), out)

    def test_known_sections_are_quiet(self):
        raw = ("[print]\napproval = no\n[godirect]\nautostart = 1\n")
        d = self.start_bridge(make_conf({"t": sensor()}, raw=raw, access={"remote_role": "observer"}))
        c = self.client(d)
        self.wait_rescans(c, 1)
        self.assertNotIn("is not a section", d.stderr())
        self.assertNotIn("not available", d.stderr())

    def test_silent_board_does_not_hold_ready(self):
        # a port where nothing ever answers: the Firmata handshake gives up after 4 s
        master, slave = pty.openpty()
        try:
            path = os.ttyname(slave)
            conf = make_conf({"t": sensor()}, raw="[firmata.mute]\nport = %s\n" % path)
            d = self.start_bridge(conf)
            # ready came before the handshake gave up (it used to wait for it)
            self.assertNotIn("cannot open", d.stderr(),
                             "ready waited for the silent board:\n" + d.stderr())
            c = self.client(d)
            # the simulated sensor is there at once; the board is listed as being opened
            self.assertEqual([x["id"] for x in c.call("devices.list")], ["sim-t"])
            every = {x["id"]: x for x in c.call("devices.list", {"all": True})}
            self.assertIn(every["firmata-mute"]["state"], ("opening", "failed"))
            failed = wait_until(
                lambda: {x["id"]: x for x in c.call("devices.list", {"all": True})}
                .get("firmata-mute", {}).get("state") == "failed" and
                {x["id"]: x for x in c.call("devices.list", {"all": True})}["firmata-mute"],
                timeout=15, what="the silent board listed as failed")
            self.assertIn("no Firmata answer within 4 s", failed["reason"])
            self.assertIn("StandardFirmata", failed["reason"])
            self.assertIsInstance(failed["retry_ms"], int)
            self.assertLessEqual(failed["retry_ms"], 30000)
            out = self.labctl(d, "devices")
            row = [l for l in out.splitlines() if l.startswith("firmata-mute")]
            self.assertEqual(len(row), 1, out)
            self.assertRegex(row[0], r"(failed .*no Firmata answer within 4 s.*retry in \d+ s|"
                                     r"opening again after: .*no Firmata answer)")
        finally:
            os.close(master)
            os.close(slave)


if __name__ == "__main__":
    import unittest
    unittest.main()
