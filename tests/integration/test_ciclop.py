"""The 3D scanner through the real driver and the scan service: the simulated lab's Ciclop board
emulator on a pseudo-terminal, its camera the renderer of a known concave figure. A scan job gives a
PLY whose points lie on the figure; point batches stream per step; cancel, a silent board, garbage,
an alarm, the camera's faults, room.stop and the roles."""
import json
import math
import os
import shutil
import struct

import subprocess

from lbtest import BridgeTest, bridge_path, make_conf, program, wait_until

DEV = "ciclop-sim-1"
FAST = {"steps": 12, "speed": 30000, "settle_ms": 0, "laser_ms": 0}
# the laser stays lit 3 s at each step: a cancel or a stop lands while it is on
LIT = {"steps": 40, "speed": 30000, "settle_ms": 0, "laser_ms": 3000}


def conf(**bridge):
    b = {"emulate": "ciclop"}
    b.update(bridge)
    return make_conf({}, bridge=b, raw="[sim.idle]\nrate = 1\nautostart = 0\n")


def device(c, dev=DEV):
    return {d["id"]: d for d in c.call("devices.list")}.get(dev)


def probe(c):
    return c.call("ciclop.emulator", {"probe": True})


def job(c, jid):
    return c.call("jobs.get", {"id": jid})


def wait_job(c, jid, states, timeout=40):
    return wait_until(lambda: job(c, jid) if job(c, jid)["state"] in states else None,
                      timeout=timeout, what="job %d %s" % (jid, "/".join(states)))


def read_ply(path):
    """The points of a binary little-endian PLY (float x y z, uchar r g b)."""
    with open(path, "rb") as f:
        data = f.read()
    end = data.index(b"end_header\n") + len(b"end_header\n")
    header = data[:end].decode()
    assert "format binary_little_endian 1.0" in header, header
    n = int(header.split("element vertex ")[1].split()[0])
    assert len(data) - end == 15 * n, (len(data) - end, n)
    return [struct.unpack_from("<fffBBB", data, end + 15 * i) for i in range(n)]


def sdf(shape, p):
    """Signed distance from p to one solid (as drivers/ciclop/render.c's shape_sdf)."""
    x, y, z = p
    dy = abs(y - shape["h"] / 2) - shape["h"] / 2
    if shape["kind"] == "cylinder":
        dx, dz = math.hypot(x - shape["x"], z - shape["z"]) - shape["r"], -math.inf
    else:
        dx, dz = abs(x - shape["x"]) - shape["hx"], abs(z - shape["z"]) - shape["hz"]
    inside = max(dx, dy, dz)
    if inside <= 0:
        return inside
    return math.sqrt(max(dx, 0) ** 2 + max(dy, 0) ** 2 + max(dz, 0) ** 2)


def distance(shapes, p):
    return abs(min(sdf(s, p) for s in shapes))


def near(a, b, tol=1e-6):
    """a and b the same JSON, numbers within tol (the wire shortens doubles, files do not)."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(near(a[k], b[k], tol)
                                                                   for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(near(x, y, tol)
                                                                for x, y in zip(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return abs(a - b) <= tol * max(1, abs(a))
    return a == b


def decode_batch(b):
    """protocols/pointbatch.h: (step, steps, flags, [(x, y, z, r, g, b)])."""
    assert b[:4] == b"LBPB" and b[4] == 1, b[:8]
    flags = b[5]
    step, steps, count = struct.unpack_from("<III", b, 8)
    assert len(b) == 20 + 15 * count, (len(b), count)
    return step, steps, flags, [struct.unpack_from("<fffBBB", b, 20 + 15 * i)
                                for i in range(count)]


class CiclopTest(BridgeTest):
    # the calibration turns the table 13 times at horus-fw's real top speed (180 deg/s, with its
    # ramps) then scans: ~15-55 s on a loaded machine (a safety net; every wait has its own)
    TEST_TIMEOUT = 150

    def open_scanner(self, d, ac=None):
        c = self.client(d)
        wait_until(lambda: device(c), timeout=15, what="the simulated 3D scanner")
        return c

    def folder(self, d, jid):
        return os.path.join(self.tmp, d.name + "-data", "jobs", str(jid))

    def test_scan_job_gives_the_object(self):
        d = self.start_bridge(conf())
        c = self.open_scanner(d)
        dev = device(c)
        self.assertEqual((dev["kind"], dev["driver"]), ("scanner3d", "ciclop"))
        self.assertTrue(dev["simulated"])
        self.assertEqual(dev["config"]["firmware"], "Horus 0.2")
        self.assertTrue(dev["config"]["calibrated"])
        self.assertEqual({s["name"] for s in dev["streams"]}, {"points", "progress"})
        kind = dev["scanner3d"]
        self.assertEqual((kind["formats"], kind["lasers"], kind["frame_size"]),
                         (["ply"], 1, [640, 480]))
        self.assertEqual((kind["settings"]["steps"]["default"], kind["settings"]["steps"]["max"],
                          kind["settings"]["lasers"]["max"]), (64, 3600, 1))
        # the simulated lab's calibration is stored from the renderer's geometry
        cal = c.call("device.call", {"device": DEV, "action": "calibration.get"})
        self.assertEqual((cal["calibration"]["width"], cal["calibration"]["height"]), (640, 480))
        self.assertTrue(os.path.exists(cal["file"]), cal["file"])
        sub = self.subscriber(d, ["scanner3d/%s/" % DEV])
        j = c.call("scan.submit", {"device": DEV, "settings": FAST, "label": "figure"})
        self.assertIn(j["state"], ("queued", "starting", "running"))
        done = wait_job(c, j["id"], ("done", "failed", "cancelled"))
        self.assertEqual(done["state"], "done", done)
        msgs = sub.collect(seconds=5, until=lambda ms: any(
            m.topic.endswith("/progress/") and m.data and m.data.get("event") == "done"
            for m in ms))
        batches = [decode_batch(m.frames[2]) for m in msgs if m.topic.endswith("/points/")]
        self.assertEqual([b[0] for b in batches], list(range(FAST["steps"])))
        self.assertTrue(all(b[1] == FAST["steps"] for b in batches))
        self.assertEqual([b[2] for b in batches], [0] * (FAST["steps"] - 1) + [1])
        steps = [m.data for m in msgs if m.topic.endswith("/progress/") and m.data
                 and m.data.get("event") == "step"]
        self.assertEqual([s["step"] for s in steps], list(range(FAST["steps"])))
        self.assertAlmostEqual(steps[-1]["fraction"], 1.0)
        # the result: scan.ply in the job's folder, no partial file left
        self.assertEqual([r["name"] for r in c.call("jobs.results", {"id": j["id"]})],
                         ["scan.ply"])
        folder = self.folder(d, j["id"])
        self.assertFalse(os.path.exists(os.path.join(folder, ".scan.ply.part")))
        pts = read_ply(os.path.join(folder, "scan.ply"))
        streamed = [p for b in batches for p in b[3]]
        self.assertEqual(len(pts), len(streamed))
        self.assertGreater(len(pts), 1000)
        shapes = probe(c)["object"]
        self.assertEqual(len(shapes), 2)
        rms = math.sqrt(sum(distance(shapes, p[:3]) ** 2 for p in pts) / len(pts))
        print("  %d points, RMS %.3f mm" % (len(pts), rms))
        self.assertLess(rms, 0.3)
        # every side of the figure: points in all four quadrants around the axis
        quads = {(p[0] > 0, p[2] > 0) for p in pts}
        self.assertEqual(len(quads), 4)
        # the board is left safe
        st = probe(c)
        self.assertEqual((st["lasers"], st["motors"]), (0, False))
        cfg = device(c)["config"]
        self.assertEqual((cfg["lasers"], cfg["motor"], cfg["scan"]), ([False], False, None))
        self.assertEqual((cfg["link"]["stray"], cfg["link"]["garbage"]), (0, 0), cfg["link"])

    def test_cancel_mid_scan_turns_the_lasers_off(self):
        d = self.start_bridge(conf())
        c = self.open_scanner(d)
        j = c.call("scan.submit", {"device": DEV, "settings": LIT})
        wait_until(lambda: probe(c)["lasers"] == 1, timeout=10, what="the laser on")
        wait_until(lambda: device(c)["config"]["lasers"] == [True], timeout=5,
                   what="the driver telling the laser on")
        c.call("jobs.cancel", {"id": j["id"]})
        end = wait_job(c, j["id"], ("cancelled", "failed", "done"), timeout=10)
        self.assertEqual(end["state"], "cancelled", end)
        self.assertEqual(probe(c)["lasers"], 0)
        cfg = device(c)["config"]
        self.assertEqual((cfg["lasers"], cfg["motor"], cfg["scan"]), ([False], False, None))
        self.assertEqual(os.listdir(self.folder(d, j["id"])), [])
        # the scanner takes the next job
        j2 = c.call("scan.submit", {"device": DEV, "settings": FAST})
        self.assertEqual(wait_job(c, j2["id"], ("done", "failed"))["state"], "done")

    def test_board_unplugged_mid_scan(self):
        d = self.start_bridge(conf())
        c = self.open_scanner(d)
        j = c.call("scan.submit", {"device": DEV, "settings": LIT})
        wait_until(lambda: probe(c)["lasers"] == 1, timeout=10, what="the laser on")
        c.call("ciclop.emulator", {"fault": "unplug"})
        end = wait_job(c, j["id"], ("failed", "cancelled", "done"), timeout=10)
        self.assertEqual(end["state"], "failed")
        self.assertIn("went away during the scan", end["error"])
        self.assertEqual(os.listdir(self.folder(d, j["id"])), [])
        wait_until(lambda: device(c) is None, timeout=10, what="the scanner removed")
        # plugged back: found again, and it scans
        c.call("ciclop.emulator", {"fault": "plug"})
        wait_until(lambda: device(c), timeout=15, what="the scanner back")
        j2 = c.call("scan.submit", {"device": DEV, "settings": FAST})
        self.assertEqual(wait_job(c, j2["id"], ("done", "failed"))["state"], "done")

    def test_silent_board_fails_the_job(self):
        d = self.start_bridge(conf())
        c = self.open_scanner(d)
        c.call("ciclop.emulator", {"fault": "silent"})
        j = c.call("scan.submit", {"device": DEV, "settings": FAST})
        end = wait_job(c, j["id"], ("failed", "done", "cancelled"), timeout=15)
        self.assertEqual(end["state"], "failed")
        self.assertIn("turntable not answering", end["error"])
        self.assertEqual(os.listdir(self.folder(d, j["id"])), [])
        # back to normal: the next job runs
        c.call("ciclop.emulator", {"fault": "ok"})
        j2 = c.call("scan.submit", {"device": DEV, "settings": FAST})
        self.assertEqual(wait_job(c, j2["id"], ("done", "failed"))["state"], "done")

    def test_garbage_alarm_and_camera_faults_are_clear_errors(self):
        d = self.start_bridge(conf())
        c = self.open_scanner(d)
        for fault, words in (({"fault": "garbage"}, "answers garbage"),
                             ({"fault": "alarm"}, "raised an alarm: Hard limit"),
                             ({"camera": "missing"}, "camera missing"),
                             ({"camera": "wrong_size"}, "camera frame of the wrong size")):
            with self.subTest(fault=fault):
                c.call("ciclop.emulator", fault)
                j = c.call("scan.submit", {"device": DEV, "settings": FAST})
                end = wait_job(c, j["id"], ("failed", "done", "cancelled"), timeout=15)
                self.assertEqual(end["state"], "failed")
                self.assertIn(words, end["error"])
                self.assertEqual(os.listdir(self.folder(d, j["id"])), [])
                c.call("ciclop.emulator", {"fault": "ok"} if "fault" in fault
                       else {"camera": "ok"})
        # a laser line too faint for the threshold: no step finds a point
        j = c.call("scan.submit", {"device": DEV, "settings": dict(FAST, threshold=255)})
        end = wait_job(c, j["id"], ("failed", "done"), timeout=15)
        self.assertIn("no laser line found", end["error"])
        self.assertEqual(os.listdir(self.folder(d, j["id"])), [])
        # absurd settings: refused at submit, or by the driver at start
        self.assertIn("steps", c.error("scan.submit", {"device": DEV, "settings": {
            "steps": [1, 2, 3]}})["message"])
        j = c.call("scan.submit", {"device": DEV, "settings": {"steps": 0}})
        end = wait_job(c, j["id"], ("failed", "done"), timeout=10)
        self.assertIn("steps", end["error"])
        j = c.call("scan.submit", {"device": DEV, "settings": {"lasers": 2}})
        self.assertIn("lasers", wait_job(c, j["id"], ("failed", "done"), timeout=10)["error"])
        self.assertTrue(d.running())

    def test_room_stop_halts_a_scan_and_the_latch_refuses_the_next(self):
        d = self.start_bridge(conf())
        c = self.open_scanner(d)
        j = c.call("scan.submit", {"device": DEV, "settings": LIT})
        wait_until(lambda: probe(c)["lasers"] == 1, timeout=10, what="the laser on")
        c.call("room.stop")
        end = wait_job(c, j["id"], ("failed", "cancelled", "done"), timeout=10)
        self.assertEqual(end["state"], "cancelled", end)
        wait_until(lambda: probe(c)["lasers"] == 0 and not probe(c)["motors"], timeout=5,
                   what="lasers and motor off")
        self.assertEqual(os.listdir(self.folder(d, j["id"])), [])
        # latched: a new scan waits, the board untouched, until a teacher releases the room
        executed = probe(c)["executed"]
        j2 = c.call("scan.submit", {"device": DEV, "settings": FAST})
        self.assertEqual(j2["state"], "queued")
        self.assertEqual(job(c, j2["id"])["state"], "queued")
        self.assertEqual(probe(c)["executed"], executed)
        c.call("room.release")
        self.assertEqual(wait_job(c, j2["id"], ("done", "failed"))["state"], "done")

    def test_students_cannot_reach_the_service_actions(self):
        d = self.start_bridge(conf())
        c = self.open_scanner(d)
        c.call("session.hello", {"role": "student"})
        for action in ("scan.start", "scan.cancel"):
            with self.subTest(action=action):
                e = c.error("device.call", {"device": DEV, "action": action,
                                            "args": {"job": 1, "folder": "/tmp"}})
                self.assertEqual(e["name"], "forbidden", e)
                self.assertIn("bridge's own", e["message"])
        # calibration: readable, but only a teacher sets it
        cal = c.call("device.call", {"device": DEV, "action": "calibration.get"})["calibration"]
        e = c.error("device.call", {"device": DEV, "action": "calibration.set",
                                    "args": {"calibration": cal}})
        self.assertEqual(e["name"], "forbidden", e)

    def test_teacher_sets_the_calibration_strictly(self):
        d = self.start_bridge(conf())
        c = self.open_scanner(d)
        cal = c.call("device.call", {"device": DEV, "action": "calibration.get"})
        good = cal["calibration"]
        bad = json.loads(json.dumps(good))
        bad["turntable"]["rotation"][0] = 0.5  # no longer a rotation
        e = c.error("device.call", {"device": DEV, "action": "calibration.set",
                                    "args": {"calibration": bad}})
        self.assertIn("rotation", e["message"])
        bad = json.loads(json.dumps(good))
        bad["lasers"] = []
        self.assertIn("lasers", c.error("device.call", {
            "device": DEV, "action": "calibration.set",
            "args": {"calibration": bad}})["message"])
        bad = json.loads(json.dumps(good))
        bad["distortion"] = [0, 0, 0, 0]
        self.assertIn("distortion", c.error("device.call", {
            "device": DEV, "action": "calibration.set",
            "args": {"calibration": bad}})["message"])
        # a changed one is stored in the file and read back
        good["intrinsics"]["fx"] = 716.0
        c.call("device.call", {"device": DEV, "action": "calibration.set",
                               "args": {"calibration": good}})
        with open(cal["file"]) as f:
            self.assertEqual(json.load(f)["intrinsics"]["fx"], 716.0)
        got = c.call("device.call", {"device": DEV, "action": "calibration.get"})
        self.assertEqual(got["calibration"]["intrinsics"]["fx"], 716.0)

    def test_calibration_module_missing_is_a_clear_error(self):
        """The calibration (OpenCV) is a module loaded on first use: a bridge installed without
        it scans with its stored calibration and says what is missing when asked to calibrate."""
        alone = os.path.join(self.tmp, "alone")
        os.makedirs(alone)
        binary = os.path.join(alone, "labbridge")
        shutil.copy(os.path.realpath(bridge_path()), binary)
        d = self.start_bridge(conf(), binary=binary,
                              env={"LABBRIDGE_LIBDIR": os.path.join(self.tmp, "nowhere")})
        c = self.open_scanner(d)
        if os.path.exists("/usr/local/lib/labbridge/labbridge-calibrate.so"):
            self.skipTest("allowed: a calibration module is installed on this machine")
        e = c.error("device.call", {"device": DEV, "action": "calibration.run",
                                    "args": {"speed": 30000}})
        self.assertIn("labbridge-calibrate.so is not installed", e["message"])
        job = c.call("scan.submit", {"device": DEV, "settings": FAST})
        end = wait_until(lambda: (lambda j: j if j["state"] in ("done", "failed") else None)(
            c.call("jobs.get", {"id": job["id"]})), timeout=60, what="the scan's end")
        self.assertEqual(end["state"], "done", end)

    def test_teacher_calibrates_from_the_chessboard(self):
        """calibration.run: the plate on the simulated table, the fit against the renderer's
        geometry (the lab's first calibration), stored; a scan with it gives the figure; a
        failed run keeps the calibration; students are refused."""
        # the device answers between frames of a search; one frame's search (OpenCV under
        # ASan) can take over the usual 1 s on a loaded machine: a wider request timeout
        d = self.start_bridge(conf(request_timeout_ms=10000))
        c = self.open_scanner(d)
        truth = c.call("device.call", {"device": DEV, "action": "calibration.get"})
        self.assertIsNone(truth.get("last_run"))
        s = self.client(d)
        s.call("session.hello", {"role": "student"})
        for action in ("calibration.run", "calibration.cancel"):
            e = s.error("device.call", {"device": DEV, "action": action})
            self.assertEqual(e["name"], "forbidden", e)
        # a wrong calibration first: the run must replace it
        wrong = json.loads(json.dumps(truth["calibration"]))
        wrong["intrinsics"]["fx"] = wrong["intrinsics"]["fy"] = 760.0
        wrong["lasers"][0]["distance"] += 5
        c.call("device.call", {"device": DEV, "action": "calibration.set",
                               "args": {"calibration": wrong}})
        self.assertIn("'cols' = 2 is out of range", c.error("device.call", {
            "device": DEV, "action": "calibration.run",
            "args": {"pattern": {"cols": 2}}})["message"])
        self.assertIn("pattern must be", c.error("device.call", {
            "device": DEV, "action": "calibration.run", "args": {"pattern": 11}})["message"])
        sub = self.subscriber(d, ["scanner3d/%s/progress" % DEV])
        started = c.call("device.call", {"device": DEV, "action": "calibration.run",
                                         "args": {"speed": 30000}})
        self.assertEqual((started["state"], started["views"], started["pattern"]["cols"],
                          started["pattern"]["rows"]), ("running", 13, 11, 6))
        # busy meanwhile: a second run and a scan are refused
        self.assertIn("already being calibrated", c.error("device.call", {
            "device": DEV, "action": "calibration.run"})["message"])
        last = wait_until(lambda: (lambda r: r if r and r["state"] != "running" else None)(
            c.call("device.call", {"device": DEV, "action": "calibration.get"})["last_run"]),
            timeout=90, what="the calibration's end")
        self.assertEqual(last["state"], "done", last)
        msgs = sub.collect(seconds=5, until=lambda ms: any(
            m.data and m.data.get("state") == "done" for m in ms))
        views = [m.data for m in msgs if m.data and m.data.get("event") == "calibration"
                 and m.data.get("state") == "running"]
        self.assertEqual([v["view"] for v in views], list(range(13)))
        self.assertEqual([v["angle"] for v in views], [-60 + 10 * i for i in range(13)])
        self.assertTrue(all(v["found"] == v["checked"] <= v["view"] + 1 for v in views), views)
        self.assertEqual(last["found"], 13)
        got, want = last["calibration"], truth["calibration"]
        rep = last["report"]
        print("  calibrated in %.1f s: reprojection %.3f px, fx %.2f fy %.2f cx %.2f cy %.2f, "
              "laser plane RMS %.3f mm, table circle RMS %.3f mm" % (
                  last["seconds"], rep["reprojection_px"], got["intrinsics"]["fx"],
                  got["intrinsics"]["fy"], got["intrinsics"]["cx"], got["intrinsics"]["cy"],
                  rep["lasers"][0]["rms_mm"], rep["turntable"]["rms_mm"]))
        self.assertEqual((rep["views"], rep["found"]), (13, 13))
        self.assertLess(rep["reprojection_px"], 0.5)
        for k in ("fx", "fy"):
            self.assertLess(abs(got["intrinsics"][k] / want["intrinsics"][k] - 1), 0.01)
        for k in ("cx", "cy"):
            self.assertLess(abs(got["intrinsics"][k] - want["intrinsics"][k]), 3)
        n, m = got["lasers"][0]["normal"], want["lasers"][0]["normal"]
        dot = sum(a * b for a, b in zip(n, m))
        self.assertLess(math.degrees(math.acos(min(1, abs(dot)))), 0.5)
        self.assertLess(abs(got["lasers"][0]["distance"] - math.copysign(1, dot) *
                            want["lasers"][0]["distance"]), 0.5)
        self.assertLess(math.dist(got["turntable"]["translation"],
                                  want["turntable"]["translation"]), 1.0)
        # stored and in effect: the file, calibration.get, the board left safe
        now = c.call("device.call", {"device": DEV, "action": "calibration.get"})
        self.assertTrue(near(now["calibration"], got))
        with open(truth["file"]) as f:
            self.assertTrue(near(json.load(f), got))
        st = probe(c)
        self.assertEqual((st["lasers"], st["motors"]), (0, False))
        self.assertIsNone(device(c)["config"]["scan"])
        # a scan with the computed calibration gives the figure
        j = c.call("scan.submit", {"device": DEV, "settings": FAST})
        done = wait_job(c, j["id"], ("done", "failed", "cancelled"))
        self.assertEqual(done["state"], "done", done)
        pts = read_ply(os.path.join(self.folder(d, j["id"]), "scan.ply"))
        shapes = probe(c)["object"]
        rms = math.sqrt(sum(distance(shapes, p[:3]) ** 2 for p in pts) / len(pts))
        print("  scan with the computed calibration: %d points, RMS %.3f mm" % (len(pts), rms))
        self.assertGreater(len(pts), 1000)
        self.assertLess(rms, 0.3)
        # the plate forgotten: a clear error, the calibration kept
        c.call("ciclop.emulator", {"plate": False})
        c.call("device.call", {"device": DEV, "action": "calibration.run", "args": {
            "speed": 30000}})
        last = wait_until(lambda: (lambda r: r if r and r["state"] != "running" else None)(
            c.call("device.call", {"device": DEV, "action": "calibration.get"})["last_run"]),
            timeout=90, what="the failed calibration's end")
        self.assertEqual(last["state"], "failed", last)
        self.assertIn("no chessboard found in 13 of 13 frames (light, focus, pattern in view?",
                      last["error"])
        self.assertTrue(near(c.call("device.call", {"device": DEV, "action": "calibration.get"})[
            "calibration"], got))
        self.assertFalse(near(got, truth["calibration"]))  # near() can tell
        with open(truth["file"]) as f:
            self.assertTrue(near(json.load(f), got))
        st = probe(c)
        self.assertEqual((st["lasers"], st["motors"]), (0, False))
        # a pattern that is not the one on the table (the search fails slowly: the device
        # answers meanwhile)
        c.call("ciclop.emulator", {"plate": True})
        c.call("device.call", {"device": DEV, "action": "calibration.run", "args": {
            "speed": 30000, "pattern": {"cols": 9, "rows": 6, "square_mm": 13}}})
        last = wait_until(lambda: (lambda r: r if r and r["state"] != "running" else None)(
            c.call("device.call", {"device": DEV, "action": "calibration.get"})["last_run"]),
            timeout=120, what="the failed calibration's end")
        self.assertEqual(last["state"], "failed", last)
        self.assertIn("no chessboard found in 13 of 13 frames", last["error"])
        self.assertIn("a 9x6 inner-corner pattern?", last["error"])
        self.assertTrue(near(c.call("device.call", {"device": DEV, "action": "calibration.get"})[
            "calibration"], got))

    def test_calibration_cancelled_keeps_the_calibration(self):
        d = self.start_bridge(conf())
        c = self.open_scanner(d)
        before = c.call("device.call", {"device": DEV, "action": "calibration.get"})
        self.assertFalse(c.call("device.call", {"device": DEV, "action": "calibration.cancel"}))
        c.call("device.call", {"device": DEV, "action": "calibration.run"})  # 1200 deg/min
        wait_until(lambda: probe(c)["motors"], timeout=10, what="the table turning")
        self.assertTrue(c.call("device.call", {"device": DEV, "action": "calibration.cancel"}))
        last = wait_until(lambda: (lambda r: r if r and r["state"] != "running" else None)(
            c.call("device.call", {"device": DEV, "action": "calibration.get"})["last_run"]),
            timeout=20, what="the cancel")
        self.assertEqual(last["state"], "cancelled", last)
        self.assertEqual(c.call("device.call", {"device": DEV, "action": "calibration.get"})[
            "calibration"], before["calibration"])
        wait_until(lambda: probe(c)["lasers"] == 0 and not probe(c)["motors"], timeout=5,
                   what="lasers and motor off")
        # room.stop during a run: cancelled as well
        c.call("device.call", {"device": DEV, "action": "calibration.run"})
        wait_until(lambda: probe(c)["motors"], timeout=10, what="the table turning")
        c.call("room.stop")
        last = wait_until(lambda: (lambda r: r if r and r["state"] != "running" else None)(
            c.call("device.call", {"device": DEV, "action": "calibration.get"})["last_run"]),
            timeout=20, what="the stop")
        self.assertEqual(last["state"], "cancelled", last)
        wait_until(lambda: probe(c)["lasers"] == 0 and not probe(c)["motors"], timeout=5,
                   what="lasers and motor off")
        # latched: no new run until the room is released
        executed = probe(c)["executed"]
        e = c.error("device.call", {"device": DEV, "action": "calibration.run"})
        self.assertEqual(e["name"], "room_stopped", e)
        self.assertEqual(probe(c)["executed"], executed)
        self.assertTrue(near(c.call("device.call", {"device": DEV, "action": "calibration.get"})[
            "calibration"], before["calibration"]))
        self.assertTrue(d.running())


class Scan3dExampleTest(BridgeTest):
    """examples/python/scan3d_to_ply.py against the simulated lab."""

    def test_scan3d_to_ply(self):
        from lbtest import ROOT, run_program
        d = self.start_bridge(conf())
        c = self.client(d)
        wait_until(lambda: device(c), timeout=15, what="the simulated 3D scanner")
        env = dict(os.environ, LABBRIDGE_PUB=d.pub, LABBRIDGE_RPC=d.rpc)
        out = os.path.join(self.tmp, "figure.ply")
        rc, so, se, _ = run_program(["/usr/bin/python3", os.path.join(
            ROOT, "examples", "python", "scan3d_to_ply.py"), out, "--steps", "8", "--speed",
            "30000"], 60, env=env, cwd=self.tmp)
        self.assertEqual(rc, 0, so + se)
        self.assertIn("job 1: done", so)
        pts = read_ply(out)
        self.assertGreater(len(pts), 500)
        self.assertIn("%d points in %s" % (len(pts), out), so)
        self.assertIn("in 8 steps streamed", so)
        shapes = probe(c)["object"]
        rms = math.sqrt(sum(distance(shapes, p[:3]) ** 2 for p in pts) / len(pts))
        self.assertLess(rms, 0.3)


class ConfiguredCiclopTest(BridgeTest):
    """A [ciclop.NAME] section (real mode): the standalone board emulator (build/asan/ciclop-emu)
    on its pty, a camera path that is not there; no calibration until a teacher sets one."""

    def emu(self):
        p = subprocess.Popen([program("LB_CICLOP_EMU", "build/asan/ciclop-emu")],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.addCleanup(p.wait, 10)
        self.addCleanup(p.stdin.close)
        return p, p.stdout.readline().split()[1]

    def test_not_calibrated_then_camera_missing(self):
        emu, path = self.emu()
        d = self.start_bridge(make_conf({}, bridge={"simulate": "no"}, raw=(
            "[ciclop.lab1]\nport = %s\ncamera = %s/video-none\nwidth = 640\nheight = 480\n"
            % (path, self.tmp))))
        c = self.client(d)
        dev = wait_until(lambda: device(c, "ciclop-lab1"), timeout=15, what="the configured scanner")
        self.assertFalse(dev["simulated"])
        self.assertFalse(dev["config"]["calibrated"])
        j = c.call("scan.submit", {"device": "ciclop-lab1"})
        end = wait_job(c, j["id"], ("failed", "done"), timeout=10)
        self.assertIn("not calibrated", end["error"])
        # a teacher's calibration (here the simulated lab's geometry), stored and in effect
        cal = {"width": 640, "height": 480,
               "intrinsics": {"fx": 715, "fy": 715, "cx": 319.5, "cy": 239.5},
               "distortion": [0, 0, 0, 0, 0],
               "turntable": {"rotation": [1, 0, 0, 0, -1, 0, 0, 0, 1],
                             "translation": [0, 45, 290]},
               "lasers": [{"normal": [0.866, 0, -0.5], "distance": -145}]}
        e = c.error("device.call", {"device": "ciclop-lab1", "action": "calibration.set",
                                    "args": {"calibration": dict(cal, width=1280)}})
        self.assertIn("640x480", e["message"])
        c.call("device.call", {"device": "ciclop-lab1", "action": "calibration.set",
                               "args": {"calibration": cal}})
        got = c.call("device.call", {"device": "ciclop-lab1", "action": "calibration.get"})
        self.assertTrue(got["file"].endswith("/calibration/ciclop-lab1.json"), got["file"])
        self.assertTrue(os.path.exists(got["file"]))
        j = c.call("scan.submit", {"device": "ciclop-lab1"})
        end = wait_job(c, j["id"], ("failed", "done"), timeout=10)
        self.assertIn("camera missing", end["error"])
        self.assertIn("video-none does not exist", end["error"])
        # the board was never told to light a laser
        emu.stdin.write("state\n")
        emu.stdin.flush()
        self.assertIn("lasers 0 motors 0", emu.stdout.readline())
