"""Document scanners through SANE: the simulated lab's `test` backend (a private SANE_CONFIG_DIR
written by the bridge) as a `scanner` device: its options, and scans as jobs of the scan service
(scan.submit, jobs.*): bands streamed with every row, PDF/PNG results, the document feeder, cancel,
device statuses as clear job errors, a scanner going away, ownership, restarts, the room stop."""
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
import time
import zlib

from lbtest import (BridgeTest, NOBODY, STOP_TIMEOUT, make_conf, requests_as, seq_gaps,
                    wait_until)

DEV = "sane-test_0"
IMAGE = "scanner/%s/image/" % DEV
PROGRESS = "scanner/%s/progress/" % DEV
SCANS = "bridge/scans/"
HDR = struct.Struct("<4sBBBBIiIIII")  # protocols/scanband.h
FORBIDDEN, INVALID_PARAMS = 1002, -32602
OTHER_STUDENT = 65533  # a second pupil beside NOBODY (65534)
ENDED = ("done", "failed", "cancelled", "interrupted")
# a slow scanner: the test backend waits 200 ms after each buffer
SLOW = {"resolution": 75, "page": "A4", "read-delay": True, "read-delay-duration": 200000}


def band(m):
    """The header fields of a band message and its image bytes."""
    raw = m.frames[2]
    magic, ver, fmt, depth, flags, w, h, first, rows, bpl, page = HDR.unpack_from(raw)
    assert magic == b"LBSB" and ver == 1, raw[:8]
    data = raw[HDR.size:]
    assert len(data) == rows * bpl, (len(data), rows, bpl)
    return dict(format=fmt, depth=depth, last=bool(flags & 1), width=w, height=h, first=first,
                rows=rows, bpl=bpl, page=page), data


def pdf_pages(data):
    """The page count of a PDF: pdfinfo's when it is installed, else the page tree's /Count."""
    if shutil.which("pdfinfo"):
        with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
            f.write(data)
            f.flush()
            out = subprocess.run(["pdfinfo", f.name], capture_output=True, timeout=20)
        assert out.returncode == 0, out.stderr
        return int(re.search(rb"Pages:\s+(\d+)", out.stdout).group(1))
    return max(int(n) for n in re.findall(rb"/Count\s+(\d+)", data))


def png_size(data):
    """(width, height, colour type) of a PNG, its signature and IHDR checked."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:8]
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    w, h, depth, ctype = struct.unpack(">IIBB", data[16:26])
    return w, h, ctype


def result(reply):
    assert "result" in reply, reply
    return reply["result"]


def error(reply):
    assert "error" in reply, reply
    return reply["error"]


class SaneTest(BridgeTest):

    def device(self, c):
        return {d["id"]: d for d in c.call("devices.list")}.get(DEV)

    def start(self, name="bridge", **kw):
        d = self.start_bridge(make_conf({}, bridge={"emulate": "sane"}), name=name, **kw)
        c = self.client(d)
        dev = wait_until(lambda: self.device(c), timeout=10, what="the SANE test scanner")
        return d, c, dev

    def test_simulated_after_a_real_discovery(self):
        """simulate = auto: the machine's scanners are looked for first (here through a SANE
        configuration of no backend), then the simulated lab's scanner is served: SANE reads
        SANE_CONFIG_DIR once per process, so the first discovery must not keep the simulated
        lab's configuration out."""
        system = os.path.join(self.tmp, "sane-system")
        os.makedirs(os.path.join(system, "dll.d"))
        with open(os.path.join(system, "dll.conf"), "w") as f:
            f.write("# no backend\n")
        conf = make_conf({}, bridge={"emulate": "sane", "simulate": "auto"}).replace(
            "discover = no", "discover = yes")
        d = self.start_bridge(conf, env={"SANE_CONFIG_DIR": system})
        c = self.client(d)
        wait_until(lambda: self.device(c), timeout=15, what="the SANE test scanner")
        j = self.submit(c, {"resolution": 25})
        self.assertEqual(self.wait_job(c, j["id"])["state"], "done")
        self.stop_checked(d)

    def submit(self, c, settings=None, fmt=None, **more):
        p = dict({"device": DEV}, **more)
        if settings is not None:
            p["settings"] = settings
        if fmt:
            p["format"] = fmt
        return c.call("scan.submit", p)

    def wait_job(self, c, jid, states=ENDED, timeout=30):
        return wait_until(lambda: (lambda j: j if j["state"] in states else None)(
            c.call("jobs.get", {"id": jid})), timeout=timeout,
            what="job %d in %s" % (jid, "/".join(states)))

    def fetch(self, c, jid, name):
        got, offset = b"", 0
        while True:
            c.send("jobs.fetch", {"id": jid, "file": name, "offset": offset})
            frames = c.recv_frames()
            r = json.loads(frames[0])
            assert "result" in r, r
            got += frames[1]
            offset += r["result"]["size"]
            if r["result"]["eof"]:
                return got

    def folder_files(self, d, jid):
        path = os.path.join(d.tmpdir, d.name + "-data", "jobs", str(jid))
        return sorted(os.listdir(path)) if os.path.isdir(path) else []

    def stop_checked(self, d):
        """Stop the bridge: no sanitizer report but a SANE backend's own leaks."""
        rc = d.stop()
        self.assertEqual(only_backend_leaks(d.stderr()), [])
        self.assertEqual(rc, 1 if "LeakSanitizer" in d.stderr() else 0,
                         "the bridge did not stop within %.0f s; it was doing:\n%s"
                         % (STOP_TIMEOUT, d.hang_report) if d.killed else "exit status")

    # ------------------------------------------------------------------ the device

    def test_device_and_options(self):
        d, c, dev = self.start()
        self.assertEqual(dev["kind"], "scanner")
        self.assertEqual(dev["driver"], "sane")
        self.assertTrue(dev["simulated"])
        self.assertIn("job", dev["capabilities"])
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
        # a mode change re-reads the options (SANE_INFO_RELOAD_OPTIONS); names in any case
        c.call("device.set", {"device": DEV, "key": "mode", "value": "color"})
        self.assertEqual(c.call("device.get", {"device": DEV, "key": "mode"}), "Color")
        c.call("device.set", {"device": DEV, "key": "source", "value": "adf"})
        self.assertEqual(c.call("device.get", {"device": DEV, "key": "source"}),
                         "Automatic Document Feeder")

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
        # refused at submit: no job is made
        for params, words in (({"format": "gif"}, "pdf, png, jpeg, tiff or pnm"),
                              ({"format": "ply"}, "not 'ply'"),
                              ({"settings": {"resolution": "x" * 65}}, "settings.resolution"),
                              ({"settings": {"page": [1, 2, 3]}}, "settings.page"),
                              ({"settings": {"mode": {"a": 1}}}, "settings.mode"),
                              ({"settings": {"k%d" % i: 1 for i in range(33)}}, "at most 32"),
                              ({"settings": [1]}, "an object"),
                              ({"label": "x" * 101}, "label")):
            e = c.error("scan.submit", dict({"device": DEV}, **params))
            self.assertError(e, "invalid_params", -32602)
            self.assertIn(words, e["message"])
        self.assertEqual(c.error("scan.submit", {"device": "nowhere"})["name"],
                         "unknown_device")
        self.assertEqual(c.call("jobs.list", {"kind": "scan"}), [])
        # the driver's actions are the service's: no client reaches them
        for action in ("scan.start", "scan.cancel", "scan"):
            e = c.error("device.call", {"device": DEV, "action": action,
                                        "args": {"job": 1, "folder": "/tmp"}})
            self.assertIn(e["name"], ("forbidden", "not_supported"), e)
        # a value the scanner refuses: the job fails with the driver's words, nothing kept
        j = self.submit(c, {"resolution": -5})
        end = self.wait_job(c, j["id"])
        self.assertEqual(end["state"], "failed")
        self.assertIn("resolution", end["error"])
        self.assertIn("out of range", end["error"])
        self.assertEqual(c.call("jobs.results", {"id": j["id"]}), [])
        j = self.submit(c, {"pages": 3})
        self.assertIn("document feeder", self.wait_job(c, j["id"])["error"])
        self.assertEqual(c.call("device.get", {"device": DEV, "key": "resolution"}), 75)

    # ------------------------------------------------------------------ scans

    def test_a4_grey_png_streams_every_row(self):
        d, c, dev = self.start()
        sub = self.subscriber(d, [IMAGE, PROGRESS, SCANS])
        j = self.submit(c, {"mode": "Gray", "depth": 8, "resolution": 75, "page": "A4"}, "png",
                        label="worksheet")
        self.assertEqual((j["kind"], j["owner"], j["device"], j["label"]),
                         ("scan", "unix:root", DEV, "worksheet"))
        self.assertEqual(j["params"]["format"], "png")
        msgs = sub.collect(seconds=20, until=lambda got: got and got[-1].topic == SCANS and
                           got[-1].data["event"] in ENDED)
        end = self.wait_job(c, j["id"])
        self.assertEqual(end["state"], "done", end)
        images = [m for m in msgs if m.topic == IMAGE]
        events = [m.data for m in msgs if m.topic == PROGRESS]
        scans = [m.data["event"] for m in msgs if m.topic == SCANS]
        self.assertEqual(scans[0], "submitted")
        self.assertEqual([e for e in scans if e != "progress"][-3:],
                         ["starting", "running", "done"])
        self.assertTrue(all(e["job"] == j["id"] for e in events))
        self.assertEqual(events[0]["event"], "started")
        self.assertEqual(events[-1]["event"], "done")
        self.assertEqual(seq_gaps(images), [])
        w, h = events[0]["width"], events[0]["height"]
        # 210 x 297 mm at 75 dpi
        self.assertTrue(619 <= w <= 621 and 876 <= h <= 878, events[0])
        row = 0
        for i, m in enumerate(images):
            hd, data = band(m)
            self.assertEqual((hd["width"], hd["height"], hd["depth"], hd["format"], hd["page"]),
                             (w, h, 8, 0, 0))
            self.assertEqual(hd["first"], row)
            self.assertEqual(hd["last"], i == len(images) - 1)
            row += hd["rows"]
        self.assertEqual(row, h)
        pct = [e["percent"] for e in events if e["event"] == "progress"]
        self.assertEqual(pct, list(range(1, 101)))  # at least every 1%
        self.assertEqual(end["progress"]["fraction"], 1.0)
        res = c.call("jobs.results", {"id": j["id"]})
        self.assertEqual([r["name"] for r in res], ["scan-1.png"])
        png = self.fetch(c, j["id"], "scan-1.png")
        self.assertEqual(len(png), res[0]["size"])
        self.assertEqual(png_size(png), (w, h, 0))
        self.assertEqual(self.folder_files(d, j["id"]), ["scan-1.png"])  # no temporary left
        self.assertEqual(self.device(c)["config"]["page"], "A4")

    def test_a3_colour_pdf(self):
        d, c, dev = self.start()
        sub = self.subscriber(d, [IMAGE])
        j = self.submit(c, {"mode": "Color", "resolution": 25, "page": "A3",
                            "test-picture": "Color pattern"})
        self.assertEqual(j["params"]["format"], "pdf")  # the default
        end = self.wait_job(c, j["id"])
        self.assertEqual(end["state"], "done", end)
        bands = [band(m) for m in sub.collect(seconds=2, until=lambda got: got and
                                              band(got[-1])[0]["last"])]
        h0 = bands[0][0]
        # 297 x 420 mm at 25 dpi
        self.assertTrue(291 <= h0["width"] <= 293 and 412 <= h0["height"] <= 414, h0)
        self.assertEqual(h0["bpl"], 3 * h0["width"])
        self.assertEqual(sum(h["rows"] for h, _ in bands), h0["height"])
        self.assertGreater(len(set(b"".join(data for _, data in bands))), 2)  # a pattern
        self.assertEqual([r["name"] for r in c.call("jobs.results", {"id": j["id"]})],
                         ["scan.pdf"])
        pdf = self.fetch(c, j["id"], "scan.pdf")
        self.assertEqual(pdf[:5], b"%PDF-")
        self.assertEqual(pdf_pages(pdf), 1)
        # the job's settings were the job's: the scanner is back to its own
        self.assertEqual(self.device(c)["config"]["mode"], "Gray")

    def test_adf_sheets_one_pdf(self):
        d, c, dev = self.start()
        sub = self.subscriber(d, [IMAGE])
        j = self.submit(c, {"source": "adf", "pages": 3, "resolution": 20})
        end = self.wait_job(c, j["id"])
        self.assertEqual(end["state"], "done", end)
        self.assertEqual(end["progress"]["fraction"], 1.0)
        pages = {band(m)[0]["page"] for m in sub.collect(seconds=1)}
        self.assertEqual(pages, {0, 1, 2})  # the page counter in the band header
        self.assertEqual(pdf_pages(self.fetch(c, j["id"], "scan.pdf")), 3)
        # no number of sheets: the feeder is read until it is empty (the test backend's holds
        # 10 sheets, 3 taken already); the count is what the scanner delivered
        sub.drain()
        j = self.submit(c, {"source": "adf", "resolution": 20}, "tiff")
        end = self.wait_job(c, j["id"])
        self.assertEqual(end["state"], "done", end)
        pages = {band(m)[0]["page"] for m in sub.collect(seconds=1)}
        self.assertEqual(pages, set(range(7)))
        self.assertEqual([r["name"] for r in c.call("jobs.results", {"id": j["id"]})],
                         ["scan.tif"])
        # PNG: one file per sheet
        j = self.submit(c, {"source": "adf", "pages": 2, "resolution": 20}, "png")
        self.assertEqual(self.wait_job(c, j["id"])["state"], "done")
        self.assertEqual([r["name"] for r in c.call("jobs.results", {"id": j["id"]})],
                         ["scan-1.png", "scan-2.png"])

    def test_cancel_mid_scan(self):
        # libsane-test (1.2.1) leaks its reader's buffer when a scan is cancelled: checked
        # below, where any other sanitizer report still fails the test
        d, c, dev = self.start(check_exit=False)
        sub = self.subscriber(d, [PROGRESS, SCANS])
        j = self.submit(c, SLOW)
        waiting = self.submit(c, {"resolution": 25})  # queued behind it
        self.assertEqual(waiting["state"], "queued")
        sub.wait_for(lambda m: m.topic == PROGRESS and m.data.get("event") == "progress",
                     timeout=10, what="a first progress event")
        t0 = time.monotonic()
        c.call("jobs.cancel", {"id": j["id"]})
        end = sub.wait_for(lambda m: m.topic == SCANS and m.data["id"] == j["id"] and
                           m.data["event"] in ENDED, timeout=5, what="the end of the job")
        print("\ncancel: job cancelled %.1f ms after jobs.cancel was sent"
              % ((time.monotonic() - t0) * 1000))
        self.assertEqual(end.data["event"], "cancelled")
        self.assertEqual(end.data["job"]["state"], "cancelled")
        self.assertEqual(c.call("jobs.results", {"id": j["id"]}), [])
        self.assertEqual(self.folder_files(d, j["id"]), [])  # no partial file
        # the scanner takes the next job
        self.assertEqual(self.wait_job(c, waiting["id"])["state"], "done")
        # a finished job cannot be cancelled; one never started is cancelled by the store
        self.assertIn("nothing to cancel", c.error("jobs.cancel", {"id": j["id"]})["message"])
        self.stop_checked(d)

    def test_device_statuses_are_clear_job_errors(self):
        d, c, dev = self.start(check_exit=False)  # the backend's leak on cancel, as above
        for status, words in (("SANE_STATUS_JAMMED", "the scanner reports: document feeder "
                               "jammed (clear the paper path"),
                              ("SANE_STATUS_COVER_OPEN", "cover is open (close it"),
                              ("SANE_STATUS_NO_DOCS", "out of documents (put the sheets"),
                              ("SANE_STATUS_DEVICE_BUSY", "busy (another program")):
            with self.subTest(status=status):
                j = self.submit(c, {"resolution": 25, "read-return-value": status})
                end = self.wait_job(c, j["id"])
                self.assertEqual(end["state"], "failed", end)
                self.assertIn(words, end["error"].lower())
                self.assertEqual(c.call("jobs.results", {"id": j["id"]}), [])
                self.assertEqual(self.folder_files(d, j["id"]), [])
        # then a good scan: the forced status was that job's only
        j = self.submit(c, {"resolution": 25})
        self.assertEqual(self.wait_job(c, j["id"])["state"], "done")
        self.stop_checked(d)

    def test_scanner_going_away_mid_scan(self):
        d, c, dev = self.start(check_exit=False)
        sub = self.subscriber(d, ["bridge/devices/"])
        j = self.submit(c, {"resolution": 25, "read-return-value": "SANE_STATUS_IO_ERROR"})
        end = self.wait_job(c, j["id"])
        self.assertEqual(end["state"], "failed")
        self.assertIn("went away", end["error"])
        self.assertEqual(self.folder_files(d, j["id"]), [])
        sub.wait_for(lambda m: m.data.get("event") == "removed", timeout=10,
                     what="the scanner removed")
        # still there for SANE: found again by the next discovery, and it scans
        wait_until(lambda: self.device(c), timeout=10, what="the scanner back")
        j = self.submit(c, {"resolution": 25})
        self.assertEqual(self.wait_job(c, j["id"])["state"], "done")
        self.stop_checked(d)

    def test_job_survives_its_client_and_a_restart(self):
        d, c, dev = self.start()
        other = self.client(d)
        j = self.submit(other, {"resolution": 50, "read-delay": True,
                                "read-delay-duration": 20000}, "png")
        other.close()  # the submitting client is gone: the scan goes on
        end = self.wait_job(c, j["id"])
        self.assertEqual(end["state"], "done", end)
        before = self.fetch(c, j["id"], "scan-1.png")
        data = os.path.join(d.tmpdir, d.name + "-data")
        self.stop_checked(d)
        d2 = self.start_bridge(make_conf({}, bridge={"emulate": "sane"}), name="again",
                               env={"STATE_DIRECTORY": data})
        c2 = self.client(d2)
        self.assertEqual([r["name"] for r in c2.call("jobs.results", {"id": j["id"]})],
                         ["scan-1.png"])
        self.assertEqual(c2.call("jobs.get", {"id": j["id"]})["state"], "done")
        self.assertEqual(self.fetch(c2, j["id"], "scan-1.png"), before)
        self.assertIn(j["id"], [x["id"] for x in c2.call("jobs.list", {"history": True})])

    def test_scan_cut_short_by_a_stop_comes_back_interrupted(self):
        d, c, dev = self.start(check_exit=False)  # the backend's leak on cancel, as above
        j = self.submit(c, SLOW, "png")
        self.wait_job(c, j["id"], ("running",))
        data = os.path.join(d.tmpdir, d.name + "-data")
        self.stop_checked(d)
        d2 = self.start_bridge(make_conf({}, bridge={"emulate": "sane"}), name="again",
                               env={"STATE_DIRECTORY": data})
        c2 = self.client(d2)
        end = c2.call("jobs.get", {"id": j["id"]})
        self.assertEqual((end["state"], end["error"]),
                         ("interrupted", "the bridge stopped while the job was running"))
        self.assertEqual(c2.call("jobs.results", {"id": j["id"]}), [])
        self.assertEqual(os.listdir(os.path.join(data, "jobs", str(j["id"]))), [])
        # never run again by itself; the scanner takes new jobs
        wait_until(lambda: self.device(c2), timeout=10, what="the scanner")
        j2 = self.submit(c2, {"resolution": 25})
        self.assertEqual(self.wait_job(c2, j2["id"])["state"], "done")
        self.assertEqual(c2.call("jobs.get", {"id": j["id"]})["state"], "interrupted")

    def test_students_own_their_scans(self):
        d, c, dev = self.start(check_exit=False)  # the backend's leak on cancel, as above
        r = requests_as(NOBODY, d.rpc, [["scan.submit", {"device": DEV, "format": "png",
                                                         "settings": {"resolution": 25}}]])
        mine = result(r[0])
        self.assertEqual(mine["owner"], "unix:nobody")
        self.assertEqual(self.wait_job(c, mine["id"])["state"], "done")
        r = requests_as(OTHER_STUDENT, d.rpc, [
            ["jobs.cancel", {"id": mine["id"]}],
            ["jobs.delete", {"id": mine["id"]}],
            ["jobs.fetch", {"id": mine["id"], "file": "scan-1.png"}],
            ["jobs.results", {"id": mine["id"]}],
            ["jobs.get", {"id": mine["id"]}],
        ])
        for i, what in ((0, "cancel"), (1, "delete"), (2, "fetch from"),
                        (3, "see the results of")):
            with self.subTest(what=what):
                err = error(r[i])
                self.assertEqual(err["code"], FORBIDDEN, err)
                self.assertIn("only its owner (unix:nobody) or a teacher may %s" % what,
                              err["message"])
        self.assertEqual(result(r[4])["state"], "done")  # looking is allowed
        # its owner fetches and deletes it; then it is gone with its files
        r = requests_as(NOBODY, d.rpc, [
            ["jobs.results", {"id": mine["id"]}],
            ["jobs.delete", {"id": mine["id"]}],
            ["jobs.get", {"id": mine["id"]}],
        ])
        self.assertEqual([x["name"] for x in result(r[0])], ["scan-1.png"])
        self.assertIsNone(result(r[1]))
        self.assertIn("no job", error(r[2])["message"])
        self.assertEqual(self.folder_files(d, mine["id"]), [])
        # a running job is not deleted; a teacher cancels anyone's
        j = result(requests_as(NOBODY, d.rpc, [["scan.submit",
                                                 {"device": DEV, "settings": SLOW}]])[0])
        self.wait_job(c, j["id"], ("running",))
        self.assertIn("running: stop it", c.error("jobs.delete", {"id": j["id"]})["message"])
        c.call("jobs.cancel", {"id": j["id"]})
        self.assertEqual(self.wait_job(c, j["id"])["state"], "cancelled")
        c.call("jobs.delete", {"id": j["id"]})
        # a pupil cannot fill the queue: 20 scans waiting or running at most
        r = requests_as(NOBODY, d.rpc, [["scan.submit", {"device": DEV, "settings": SLOW}]] * 21)
        ids = [result(x)["id"] for x in r[:20]]
        self.assertEqual(error(r[20])["name"], "too_large")
        self.assertIn("20 scans waiting or running", error(r[20])["message"])
        self.submit(c, {"resolution": 25})  # a teacher's are not counted
        for i in ids:
            c.call("jobs.cancel", {"id": i})
        self.stop_checked(d)

    def test_room_stop_cancels_the_scan(self):
        d, c, dev = self.start(check_exit=False)  # the backend's leak on cancel, as above
        sub = self.subscriber(d, [PROGRESS])
        j = self.submit(c, SLOW)
        sub.wait_for(lambda m: m.data.get("event") == "progress", timeout=10,
                     what="a first progress event")
        self.assertIn(DEV, c.call("room.stop")["halted"])
        end = sub.wait_for(lambda m: m.data.get("event") in ("done", "error", "cancelled"),
                           timeout=5, what="the end of the scan")
        self.assertEqual((end.data["event"], end.data.get("message")),
                         ("cancelled", "room stopped"))
        self.assertEqual(self.wait_job(c, j["id"])["state"], "cancelled")
        c.call("room.release")
        self.stop_checked(d)


def only_backend_leaks(text):
    """The sanitizer reports in text other than leaks allocated by a SANE backend (a module
    unloaded by sane_exit: its frame has no symbol, shown as <unknown module> or as an
    address the symbolizer pins on whatever is mapped there now): [] when there are none."""
    bad, block = [], []
    for line in text.splitlines() + [""]:
        if "leak of" in line or not line.strip():
            if block and not (len(block) > 2 and "malloc" in block[1]
                              and ("<unknown module>" in block[2]
                                   or re.match(r"\s*#1 0x[0-9a-f]+\s+\(", block[2]))):
                bad.append("\n".join(block))
            block = [line] if "leak of" in line else []
        elif block:
            block.append(line)
    other = [l for l in text.splitlines()
             if any(p in l for p in ("AddressSanitizer:", "runtime error"))
             and "leaked in" not in l]
    return bad + other
