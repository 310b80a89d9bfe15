"""labctl and the example programs against a running daemon.

labctl: `labctl --pub EP --rpc EP COMMAND`, commands devices [--json], watch PREFIX --count N
[--csv | --json], snapshot, call METHOD [PARAMS], info; an error reply exits with status 1 and
the error on stderr. The examples take the endpoints from LABBRIDGE_PUB / LABBRIDGE_RPC and accept
--count N. Each test is skipped (saying why) when its program does not exist.
"""
import csv
import io
import json
import os
import re
import sys
import unittest

from lbtest import (BridgeTest, ROOT, make_conf, sensor, labctl_path, watch_path, run_program,
                    san_env, sanitizer_errors, wait_until)

PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
EXAMPLES = os.environ.get("LB_EXAMPLES") or os.path.join(ROOT, "examples")
RUN_TIMEOUT = 20  # seconds, for one client run


def lines_of(text):
    return [l for l in text.splitlines() if l.strip()]


def contains_ids(obj, ids):
    """Whether every id appears as a string somewhere in the JSON value."""
    text = json.dumps(obj)
    return all('"%s"' % i in text for i in ids)


def parse_json_output(text):
    """Stdout as JSON: one document, or one per line (NDJSON). A list of values."""
    try:
        v = json.loads(text)
        return v if isinstance(v, list) else [v]
    except ValueError:
        return [json.loads(l) for l in lines_of(text)]


class CliTest(BridgeTest):

    def lab(self):
        d = self.start_bridge(make_conf({
            "t1": sensor(rate=50, quantity="temperature", unit="°C", wave="sine", offset=20.5,
                         amplitude=2, frequency=1),
            "t2": sensor(rate=50, quantity="voltage", unit="V", wave="sine", offset=1.25,
                         amplitude=0.5)}))
        self.d = d
        return d

    def env(self, d=None):
        d = d or self.d
        return san_env({"LABBRIDGE_PUB": d.pub, "LABBRIDGE_RPC": d.rpc})

    def check_clean(self, what, err):
        self.assertEqual(sanitizer_errors(err), [], "%s: sanitizer report:\n%s" % (what, err))

    # ------------------------------------------------------------------ labctl

    def setUp(self):
        # skip before starting anything when the program under test is missing
        if self._testMethodName.startswith("test_labctl"):
            path = labctl_path()
            if not os.access(path, os.X_OK):
                self.skipTest("%s is not built (bridge/labctl/ not built yet?)" % path)
        super().setUp()

    def labctl(self, *args, expect=0, pub=None, rpc=None, timeout=RUN_TIMEOUT):
        path = labctl_path()
        d = getattr(self, "d", None)
        cmd = [path, "--pub", pub or d.pub, "--rpc", rpc or d.rpc] + list(args)
        rc, out, err, secs = run_program(cmd, timeout, env=san_env())
        self.check_clean("labctl " + " ".join(args), err)
        if expect is not None:
            self.assertEqual(rc, expect, "labctl %s: status %s\nstdout: %s\nstderr: %s" %
                             (" ".join(args), rc, out[-2000:], err[-2000:]))
        return rc, out, err, secs

    def test_labctl_devices(self):
        self.lab()
        _, out, _, _ = self.labctl("devices")
        self.assertIn("sim-t1", out)
        self.assertIn("sim-t2", out)

    def test_labctl_devices_json(self):
        self.lab()
        _, out, _, _ = self.labctl("devices", "--json")
        v = json.loads(out)
        self.assertTrue(contains_ids(v, ["sim-t1", "sim-t2"]), out[:500])
        devs = v if isinstance(v, list) else v.get("devices", v.get("result"))
        self.assertIsInstance(devs, list, "devices --json: a list of devices")
        self.assertEqual(sorted(x["id"] for x in devs), ["sim-t1", "sim-t2"])

    def test_labctl_watch(self):
        self.lab()
        _, out, _, secs = self.labctl("watch", "sensor/", "--count", "20")
        rows = lines_of(out)
        self.assertTrue(20 <= len(rows) <= 25, "watch --count 20 printed %d lines:\n%s" %
                        (len(rows), out[:2000]))
        self.assertIn("sim-t", out)
        self.assertLess(secs, 10)

    def test_labctl_watch_csv(self):
        self.lab()
        _, out, _, _ = self.labctl("watch", "sensor/sim-t1/", "--count", "20", "--csv")
        rows = list(csv.reader(io.StringIO(out)))
        rows = [r for r in rows if r]
        self.assertTrue(20 <= len(rows) <= 25, "watch --csv --count 20: %d rows:\n%s" %
                        (len(rows), out[:2000]))
        self.assertGreater(len(rows[0]), 1, "CSV with several columns")
        self.assertEqual({len(r) for r in rows}, {len(rows[0])}, "ragged CSV")
        numbers = [f for r in rows[1:] for f in r if re.fullmatch(r"-?\d+\.\d+", f)]
        self.assertTrue(numbers, "no decimal values in the CSV")
        values = [float(f) for f in numbers if 18 <= float(f) <= 23]
        self.assertTrue(values, "no sample of the 20.5 +- 2 sine in the CSV")

    def test_labctl_watch_json(self):
        self.lab()
        _, out, _, _ = self.labctl("watch", "sensor/sim-t2/", "--count", "20", "--json")
        docs = parse_json_output(out)
        self.assertTrue(20 <= len(docs) <= 25, "watch --json --count 20: %d documents" %
                        len(docs))
        self.assertTrue(all(isinstance(x, dict) for x in docs))
        self.assertIn("sensor/sim-t2/voltage/", json.dumps(docs))

    def test_labctl_snapshot(self):
        self.lab()
        # right after start a stream may not have sent its first sample yet: ask until it has
        out = wait_until(lambda: (lambda o: o if "sensor/sim-t2/voltage/" in o and
                                  "sensor/sim-t1/temperature/" in o else None)(
                                      self.labctl("snapshot")[1]), what="streams in the snapshot")
        self.assertIn("sensor/sim-t1/temperature/", out)
        self.assertIn("sensor/sim-t2/voltage/", out)

    def test_labctl_snapshot_numbers_readable(self):
        # constant values: the table shows them as a person writes them, never "2e+01"
        values = {"warm": ("20", "°C", 20), "half": ("20.5", "°C", 20.5),
                  "tiny": ("0.00123", "V", 0.00123), "big": ("123456.7", "Pa", 123456.7),
                  "minus": ("-40", "°C", -40)}
        self.d = self.start_bridge(make_conf({
            name: sensor(rate=20, quantity="x", unit=unit, wave="constant", offset=v,
                         amplitude=0, noise=0, min=-1e6, max=1e6)
            for name, (_, unit, v) in values.items()}))

        def table():
            o = self.labctl("snapshot")[1]
            return o if all("sensor/sim-%s/x/" % n in o for n in values) else None
        out = wait_until(table, what="every stream in the snapshot")
        rows = {l.split()[0]: l.split()[2:] for l in lines_of(out)[1:]}
        for name, (text, unit, _) in values.items():
            self.assertEqual(rows["sensor/sim-%s/x/" % name], [text, unit], out)
        self.assertNotRegex(out, r"\de[+-]\d", "no exponent in the normal range:\n" + out)

    def test_labctl_call_and_info(self):
        d = self.lab()
        _, out, _, _ = self.labctl("call", "bridge.info")
        info = json.loads(out)
        info = info.get("result", info)
        self.assertEqual(info["protocol"], 1)
        self.assertEqual(info["endpoints"]["rpc"], d.rpc)
        _, out, _, _ = self.labctl("call", "device.set",
                                   '{"device": "sim-t2", "key": "rate", "value": 20}')
        self.assertEqual(self.client(d).call("device.get", {"device": "sim-t2", "key": "rate"}),
                         20)
        _, out, _, _ = self.labctl("info")
        self.assertIn(info["epoch"], out)

    def test_labctl_call_unknown_method(self):
        self.lab()
        rc, out, err, _ = self.labctl("call", "nosuch.method", expect=1)
        self.assertTrue("method_not_found" in err or "-32601" in err, err)
        self.assertNotIn("method_not_found", out, "the error goes to stderr")

    def test_labctl_dead_endpoint(self):
        dead = "ipc://%s/nobody-here" % self.tmp
        rc, out, err, secs = self.labctl("devices", expect=1, pub=dead, rpc=dead)
        self.assertTrue(err.strip(), "no message on stderr")
        self.assertTrue(dead in err or re.search(r"(?i)time|answer|respond|reach|connect", err),
                        "unclear message: %r" % err)
        self.assertLess(secs, RUN_TIMEOUT)

    # ------------------------------------------------------------------ examples

    def example(self, rel):
        path = os.path.join(EXAMPLES, rel)
        if not os.path.exists(path):
            self.skipTest("examples/%s does not exist yet" % rel)
        return path

    def test_example_watch_sensor_py(self):
        path = self.example("python/watch_sensor.py")
        self.lab()
        rc, out, err, _ = run_program([PY, path, "--count", "10"], RUN_TIMEOUT, env=self.env())
        self.assertEqual(rc, 0, "status %s\nstdout: %s\nstderr: %s" % (rc, out, err))
        self.assertTrue(lines_of(out), "watch_sensor.py printed nothing")

    def run_csv_example(self, *extra):
        path = self.example("python/stream_to_csv.py")
        self.lab()
        out_path = os.path.join(self.tmp, "out.csv")
        rc, out, err, _ = run_program([PY, path, "--count", "30", "--out", out_path] +
                                      list(extra), RUN_TIMEOUT, env=self.env())
        self.assertEqual(rc, 0, "status %s\nstdout: %s\nstderr: %s" % (rc, out, err))
        self.assertTrue(os.path.exists(out_path), "--out file not written")
        with open(out_path, encoding="utf-8-sig") as f:
            text = f.read()
        rows = [l for l in text.splitlines() if l.strip()]
        self.assertGreaterEqual(len(rows), 2, "header and rows expected:\n%s" % text[:1000])
        return rows

    def test_example_stream_to_csv(self):
        rows = self.run_csv_example()
        table = list(csv.reader(rows))
        self.assertGreater(len(table[0]), 1)
        self.assertEqual({len(r) for r in table}, {len(table[0])}, "ragged CSV")
        fields = [f for r in table[1:] for f in r]
        self.assertTrue([f for f in fields if re.fullmatch(r"-?\d+\.\d+", f)],
                        "no decimal point values")

    def test_example_stream_to_csv_french(self):
        rows = self.run_csv_example("--sep", ";", "--decimal-comma")
        table = list(csv.reader(rows, delimiter=";"))
        self.assertGreater(len(table[0]), 1, "';' separated columns expected")
        self.assertEqual({len(r) for r in table}, {len(table[0])}, "ragged CSV")
        fields = [f.strip('"') for r in table[1:] for f in r]
        self.assertTrue([f for f in fields if re.fullmatch(r"-?\d+,\d+", f)],
                        "no decimal-comma values")
        self.assertEqual([f for f in fields if re.fullmatch(r"-?\d+\.\d+", f)], [],
                         "decimal points left with --decimal-comma")

    def test_example_c_watch(self):
        path = watch_path()
        if not os.access(path, os.X_OK):
            self.skipTest("%s is not built (examples/c/watch.c not written yet?)" % path)
        self.lab()
        rc, out, err, _ = run_program([path, "--count", "20"], RUN_TIMEOUT, env=self.env())
        self.check_clean("watch", err)
        self.assertEqual(rc, 0, "status %s\nstdout: %s\nstderr: %s" % (rc, out, err))
        self.assertTrue(lines_of(out), "watch printed nothing")
        self.assertIn("sim-t", out)


if __name__ == "__main__":
    unittest.main()
