"""Document scanners through SANE: the simulated lab's `test` backend (a private SANE_CONFIG_DIR
written by the bridge) as a `scanner` device: its options, a grey A4 scan streamed as bands with
every row, a cancel mid-scan, absurd option values."""
import struct
import time

from lbtest import BridgeTest, make_conf, seq_gaps, wait_until

DEV = "sane-test_0"
IMAGE = "scanner/%s/image/" % DEV
PROGRESS = "scanner/%s/progress/" % DEV
HDR = struct.Struct("<4sBBBBIiIIII")  # protocols/scanband.h


def band(m):
    """The header fields of a band message and its image bytes."""
    raw = m.frames[2]
    magic, ver, fmt, depth, flags, w, h, first, rows, bpl, page = HDR.unpack_from(raw)
    assert magic == b"LBSB" and ver == 1, raw[:8]
    data = raw[HDR.size:]
    assert len(data) == rows * bpl, (len(data), rows, bpl)
    return dict(format=fmt, depth=depth, last=bool(flags & 1), width=w, height=h, first=first,
                rows=rows, bpl=bpl, page=page), data


class SaneTest(BridgeTest):

    def device(self, c):
        return {d["id"]: d for d in c.call("devices.list")}.get(DEV)

    def start(self, **kw):
        d = self.start_bridge(make_conf({}, bridge={"emulate": "sane"}), **kw)
        c = self.client(d)
        dev = wait_until(lambda: self.device(c), timeout=10, what="the SANE test scanner")
        return d, c, dev

    def test_device_and_options(self):
        d, c, dev = self.start()
        self.assertEqual(dev["kind"], "scanner")
        self.assertEqual(dev["driver"], "sane")
        self.assertTrue(dev["simulated"])
        self.assertIn("actions", dev["capabilities"])
        self.assertIn("halt", dev["capabilities"])
        cfg, lim = dev["config"], dev["limits"]
        for k in ("mode", "depth", "resolution", "tl-x", "tl-y", "br-x", "br-y", "source",
                  "page"):
            self.assertIn(k, cfg)
        self.assertEqual(cfg["page"], "A4")
        self.assertEqual(sorted(lim["mode"]["values"]), ["Color", "Gray"])
        self.assertEqual(lim["resolution"]["unit"], "dpi")
        # the private configuration raised the geometry limit: A3 fits
        self.assertGreaterEqual(lim["br-y"]["max"], 420)
        c.call("device.set", {"device": DEV, "key": "page", "value": "A3"})
        self.assertEqual(c.call("device.get", {"device": DEV, "key": "page"}), "A3")
        self.assertAlmostEqual(c.call("device.get", {"device": DEV, "key": "br-y"}), 420, 1)
        # a mode change re-reads the options (SANE_INFO_RELOAD_OPTIONS)
        c.call("device.set", {"device": DEV, "key": "mode", "value": "Color"})
        self.assertEqual(c.call("device.get", {"device": DEV, "key": "mode"}), "Color")

    def test_absurd_values(self):
        d, c, dev = self.start()
        for key, value, words in (("resolution", 100000, "out of range"),
                                  ("mode", "Infrared", "not one of its values"),
                                  ("page", "A0", "is not A4"),
                                  ("depth", 7, "not one of its values"),
                                  ("nonsense", 1, "no option")):
            e = c.error("device.set", {"device": DEV, "key": key, "value": value})
            self.assertError(e, "invalid_params", -32602)
            self.assertIn(words, e["message"], key)
        e = c.error("device.call", {"device": DEV, "action": "scan",
                                    "args": {"resolution": -5}})
        self.assertError(e, "invalid_params", -32602)
        self.assertEqual(c.call("device.get", {"device": DEV, "key": "resolution"}), 75)

    def test_a4_grey_scan_streams_every_row(self):
        d, c, dev = self.start()
        sub = self.subscriber(d, [IMAGE, PROGRESS])
        r = c.call("device.call", {"device": DEV, "action": "scan",
                                   "args": {"mode": "Gray", "depth": 8, "resolution": 75,
                                            "page": "A4"}})
        self.assertEqual(r["format"], "gray")
        self.assertEqual(r["depth"], 8)
        # 210 x 297 mm at 75 dpi
        self.assertTrue(619 <= r["width"] <= 621 and 876 <= r["height"] <= 878, r)
        msgs = sub.collect(seconds=20, until=lambda got: got and got[-1].topic == PROGRESS and
                           got[-1].data.get("event") in ("done", "error", "cancelled"))
        images = [m for m in msgs if m.topic == IMAGE]
        events = [m.data for m in msgs if m.topic == PROGRESS]
        self.assertEqual(events[-1]["event"], "done", events[-1])
        self.assertEqual(events[0]["event"], "started")
        self.assertEqual(seq_gaps(images), [])
        row = 0
        for i, m in enumerate(images):
            h, data = band(m)
            self.assertEqual((h["width"], h["height"], h["depth"], h["format"]),
                             (r["width"], r["height"], 8, 0))
            self.assertEqual(h["first"], row)
            self.assertEqual(h["last"], i == len(images) - 1)
            row += h["rows"]
        self.assertEqual(row, r["height"])
        pct = [e["percent"] for e in events if e["event"] == "progress"]
        self.assertEqual(pct[-1], 100)
        self.assertEqual(pct, list(range(1, 101)))  # at least every 1%
        self.assertEqual(self.device(c)["config"]["page"], "A4")

    def test_cancel_mid_scan(self):
        # libsane-test (1.2.1) leaks its reader's buffer when a scan is cancelled: checked
        # below, where any other sanitizer report still fails the test
        d, c, dev = self.start(check_exit=False)
        sub = self.subscriber(d, [IMAGE, PROGRESS])
        # a slow scanner: the test backend waits 200 ms after each buffer
        c.call("device.call", {"device": DEV, "action": "scan",
                               "args": {"resolution": 75, "page": "A4", "read-delay": True,
                                        "read-delay-duration": 200000}})
        sub.wait_for(lambda m: m.topic == PROGRESS and m.data.get("event") == "progress",
                     timeout=10, what="a first progress event")
        t0 = time.monotonic()
        self.assertEqual(c.call("device.call", {"device": DEV, "action": "cancel"}),
                         {"cancelled": True})
        end = sub.wait_for(lambda m: m.topic == PROGRESS and
                           m.data.get("event") in ("done", "error", "cancelled"),
                           timeout=5, what="the end of the scan")
        self.assertEqual(end.data["event"], "cancelled")
        self.assertLess(end.data["rows"], end.data["height"])
        self.assertLess(time.monotonic() - t0, 2.0)  # a bound, not a speed claim
        # the scanner takes the next scan
        c.call("device.call", {"device": DEV, "action": "scan",
                               "args": {"read-delay": False, "resolution": 25}})
        end = sub.wait_for(lambda m: m.topic == PROGRESS and
                           m.data.get("event") in ("done", "error", "cancelled"),
                           timeout=10, what="the end of the second scan")
        self.assertEqual(end.data["event"], "done", end.data)
        self.stop_checked(d)


    def test_room_stop_cancels_the_scan(self):
        d, c, dev = self.start(check_exit=False)  # the backend's leak on cancel, as above
        sub = self.subscriber(d, [PROGRESS])
        c.call("device.call", {"device": DEV, "action": "scan",
                               "args": {"resolution": 75, "page": "A4", "read-delay": True,
                                        "read-delay-duration": 200000}})
        sub.wait_for(lambda m: m.data.get("event") == "progress", timeout=10,
                     what="a first progress event")
        self.assertIn(DEV, c.call("room.stop")["halted"])
        end = sub.wait_for(lambda m: m.data.get("event") in ("done", "error", "cancelled"),
                           timeout=5, what="the end of the scan")
        self.assertEqual((end.data["event"], end.data.get("message")),
                         ("cancelled", "room stopped"))
        c.call("room.release")
        self.stop_checked(d)

    def scan_to_end(self, c, sub, args):
        """Start a scan with args; its answer, its bands and its last progress event."""
        r = c.call("device.call", {"device": DEV, "action": "scan", "args": args})
        msgs = sub.collect(seconds=20, until=lambda got: got and got[-1].topic == PROGRESS and
                           got[-1].data.get("event") in ("done", "error", "cancelled"))
        return r, [band(m) for m in msgs if m.topic == IMAGE], msgs[-1].data

    def test_a3_colour(self):
        d, c, dev = self.start()
        sub = self.subscriber(d, [IMAGE, PROGRESS])
        r, bands, end = self.scan_to_end(c, sub, {"mode": "Color", "resolution": 25,
                                                  "page": "A3",
                                                  "test-picture": "Color pattern"})
        self.assertEqual(end["event"], "done", end)
        self.assertEqual(r["format"], "rgb")
        # 297 x 420 mm at 25 dpi
        self.assertTrue(291 <= r["width"] <= 293 and 412 <= r["height"] <= 414, r)
        self.assertEqual(r["bytes_per_line"], 3 * r["width"])
        self.assertEqual(sum(h["rows"] for h, _ in bands), r["height"])
        self.assertTrue(all(h["format"] == 1 and h["bpl"] == 3 * r["width"] for h, _ in bands))
        self.assertGreater(len(set(b"".join(data for _, data in bands))), 2)  # a pattern

    def test_backend_error_status(self):
        d, c, dev = self.start(check_exit=False)  # the backend's leak on cancel, as below
        sub = self.subscriber(d, [IMAGE, PROGRESS])
        r, bands, end = self.scan_to_end(c, sub, {"resolution": 25,
                                                  "read-return-value": "SANE_STATUS_JAMMED"})
        self.assertEqual(end["event"], "error", end)
        self.assertIn("jammed", end["message"].lower())
        self.assertEqual(bands, [])
        # the scanner is usable again
        r, bands, end = self.scan_to_end(c, sub, {"read-return-value": "Default"})
        self.assertEqual(end["event"], "done", end)
        self.stop_checked(d)

    def stop_checked(self, d):
        """Stop the bridge: no sanitizer report but a SANE backend's own leaks."""
        rc = d.stop()
        self.assertEqual(only_backend_leaks(d.stderr()), [])
        self.assertEqual(rc, 1 if "LeakSanitizer" in d.stderr() else 0)

def only_backend_leaks(text):
    """The sanitizer reports in text other than leaks allocated by a SANE backend (a module
    unloaded by sane_exit, shown as <unknown module>): [] when there are none."""
    bad, block = [], []
    for line in text.splitlines() + [""]:
        if "leak of" in line or not line.strip():
            if block and not (len(block) > 2 and "<unknown module>" in block[2]
                              and "malloc" in block[1]):
                bad.append("\n".join(block))
            block = [line] if "leak of" in line else []
        elif block:
            block.append(line)
    other = [l for l in text.splitlines()
             if any(p in l for p in ("AddressSanitizer:", "runtime error"))
             and "leaked in" not in l]
    return bad + other
