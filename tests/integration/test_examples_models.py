"""The classroom models of examples/models/ and examples/python/print_model.py.

ModelFilesTest: make_models.py writes the committed files byte for byte; its mesh check refuses
a broken mesh; PrusaSlicer reads each model as manifold with its size and slices it.
PrintModelFakeBridgeTest: print_model.py against a small stand-in of the model-job API (a ROUTER
and an XPUB in this process, in bridge/PROTOCOL.md's frames): its lines, exit statuses, the saved
G-code and Ctrl-C, without the daemon. ModelPrintingTest: print_model.py on each model against the
simulated lab's Marlin printer to "done"; skipped (allowed) only while the bridge answers
print.presets with "unknown method" (a bridge without model jobs).
"""
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import zlib

import zmq

from lbtest import (ROOT, BridgeTest, RPCError, make_conf, run_program, wait_until)
import test_printer  # its emulator and config helpers (its test class is not imported by name)

PY = "/usr/bin/python3"
MODELS_DIR = os.path.join(ROOT, "examples", "models")
EXAMPLE = os.path.join(ROOT, "examples", "python", "print_model.py")
# size in mm (x, y, z) of each model as PrusaSlicer reports it
MODELS = {"calibration_cube.stl": (20.0, 20.0, 20.0), "name_tag.3mf": (60.0, 20.0, 3.0),
          "phone_stand.obj": (80.0, 70.0, 71.9731)}
# what the bridge writes for the generic 220 x 220 printer and the "normal" preset (profile.c)
INI = """bed_shape = 0x0,220x0,220x220,0x220
max_print_height = 250
nozzle_diameter = 0.4
filament_diameter = 1.75
gcode_flavor = marlin2
temperature = 205
first_layer_temperature = 205
bed_temperature = 60
first_layer_bed_temperature = 60
layer_height = 0.2
first_layer_height = 0.2
fill_density = 15%
perimeters = 2
support_material = 1
support_material_auto = 1
support_material_buildplate_only = 1
brim_width = 0
skirts = 1
thumbnails =
"""


def slicer_info(path):
    """prusa-slicer --info of path as a dict of its key = value lines."""
    r = subprocess.run(["prusa-slicer", "--info", path], capture_output=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr.decode("utf-8", "replace")[-2000:]
    info = {}
    for line in r.stdout.decode().splitlines():
        k, sep, v = line.partition("=")
        if sep:
            info[k.strip()] = v.strip()
    return info


def load_generator():
    """examples/models/make_models.py as a module."""
    spec = importlib.util.spec_from_file_location("make_models",
                                                  os.path.join(MODELS_DIR, "make_models.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def model_jobs_or_skip(test, client):
    """Skip test (allowed) when the bridge has no model jobs: it answers print.presets with
    "unknown method". Any other answer goes on (an error other than that fails the test)."""
    try:
        return client.call("print.presets", {})
    except RPCError as e:
        if "unknown method" in e.error.get("message", ""):
            test.skipTest("allowed: this bridge has no model jobs yet (print.presets: unknown "
                          "method); the test runs once the model-job API is merged")
        raise


class ModelFilesTest(BridgeTest):

    def test_generator_is_deterministic(self):
        out = os.path.join(self.tmp, "models")
        rc, so, se, _ = run_program([PY, os.path.join(MODELS_DIR, "make_models.py"), "--out",
                                     out], 60)
        self.assertEqual(rc, 0, so + se)
        for name in MODELS:
            with open(os.path.join(out, name), "rb") as f, \
                    open(os.path.join(MODELS_DIR, name), "rb") as g:
                self.assertTrue(f.read() == g.read(),
                                "%s differs from the committed file: run make_models.py" % name)
            self.assertLess(os.path.getsize(os.path.join(out, name)), 300 * 1024)
        self.assertIn("name_tag.3mf: 60 x 20 x 3 mm", so)

    def test_generator_name(self):
        # another name: accents dropped, a different tag of the same size; a character the font
        # lacks and a name too long are usage errors
        out = os.path.join(self.tmp, "zoe")
        rc, so, se, _ = run_program([PY, os.path.join(MODELS_DIR, "make_models.py"), "--out",
                                     out, "--name", "Zoé-3"], 60)
        self.assertEqual(rc, 0, so + se)
        with open(os.path.join(out, "name_tag.3mf"), "rb") as f, \
                open(os.path.join(MODELS_DIR, "name_tag.3mf"), "rb") as g:
            self.assertNotEqual(f.read(), g.read())
        info = slicer_info(os.path.join(out, "name_tag.3mf"))
        self.assertEqual(info["manifold"], "yes")
        self.assertEqual((float(info["size_x"]), float(info["size_y"]), float(info["size_z"])),
                         (60.0, 20.0, 3.0))
        for bad, why in (("a@b", "no letter for '@'"), ("X" * 40, "too long")):
            rc, so, se, _ = run_program([PY, os.path.join(MODELS_DIR, "make_models.py"), "--out",
                                         out, "--name", bad], 60)
            self.assertEqual(rc, 2, so + se)
            self.assertIn(why, se)

    def test_mesh_check_refuses_broken_meshes(self):
        m = load_generator()
        verts, tris = m.calibration_cube()
        self.assertGreater(m.check_mesh("cube", verts, tris), 7900)
        with self.assertRaisesRegex(ValueError, "edge"):
            m.check_mesh("cube", verts, tris[:-1])  # a hole
        a, b, c = tris[0]
        with self.assertRaisesRegex(ValueError, "edge"):
            m.check_mesh("cube", verts, [(a, c, b)] + tris[1:])  # one triangle turned over
        with self.assertRaisesRegex(ValueError, "inwards"):
            m.check_mesh("cube", verts, [(a, c, b) for a, b, c in tris])
        # two boxes touching by an edge only: four triangles on that edge
        xs = ys = zs = [0.0, 1.0, 2.0]
        v, t = m.box_mesh(xs, ys, zs, lambda i, j, k: k == 0 and i == j)
        with self.assertRaisesRegex(ValueError, "edge"):
            m.check_mesh("diagonal", v, t)

    def test_models_are_manifold(self):
        for name, size in MODELS.items():
            info = slicer_info(os.path.join(MODELS_DIR, name))
            self.assertEqual(info.get("manifold"), "yes", (name, info))
            self.assertEqual(info.get("number_of_parts"), "1", (name, info))
            got = tuple(float(info["size_" + k]) for k in "xyz")
            for g, want in zip(got, size):
                self.assertAlmostEqual(g, want, delta=0.001, msg="%s: %s" % (name, got))

    def test_models_slice(self):
        ini = os.path.join(self.tmp, "generic-220-normal.ini")
        with open(ini, "w") as f:
            f.write(INI)
        for name in MODELS:
            out = os.path.join(self.tmp, name + ".gcode")
            r = subprocess.run(["prusa-slicer", "--export-gcode", "--load", ini, "--output", out,
                                os.path.join(MODELS_DIR, name)], capture_output=True,
                               timeout=120, stdin=subprocess.DEVNULL)
            self.assertEqual(r.returncode, 0, r.stderr.decode("utf-8", "replace")[-2000:])
            with open(out) as f:
                text = f.read()
            self.assertRegex(text, r"; estimated printing time \(normal mode\) = \d", name)
            self.assertRegex(text, r"; filament used \[mm\] = [1-9]", name)

    def test_example_usage(self):
        # bad usage exits 2 before any connection
        for argv, why in (([], "a model file is needed"),
                          ([os.path.join(ROOT, "examples", "gcode", "cube.gcode")],
                           "print_file.py"),
                          ([os.path.join(self.tmp, "none.stl")], "no such file"),
                          ([os.path.join(MODELS_DIR, "name_tag.3mf"), "--scale", "0"], "--scale")):
            rc, so, se, _ = run_program([PY, EXAMPLE] + argv, 30)
            self.assertEqual(rc, 2, (argv, so, se))
            self.assertIn(why, se)


# ------------------------------------------------------------------ a stand-in of the model-job API

PRESETS = {"presets": [
    {"name": "brouillon", "layer_mm": 0.28, "infill": 10, "perimeters": 2, "supports": "none",
     "brim_mm": 0},
    {"name": "normal", "layer_mm": 0.2, "infill": 15, "perimeters": 2, "supports": "buildplate",
     "brim_mm": 0},
    {"name": "fin", "layer_mm": 0.12, "infill": 20, "perimeters": 3, "supports": "auto",
     "brim_mm": 5}], "default": "normal", "profiles": {"*": "generic-220"}}
GCODE = b"".join(b"G1 X%d Y%d E0.1 ; line %d\n" % (i % 200, i % 190, i) for i in range(3000))


class FakeBridge:
    """The model-job API of a bridge, enough for print_model.py: print.presets, session.hello,
    print.upload, print.job, print.cancel, jobs.fetch (in 16 KiB pieces), and the bridge/queue/
    events of one job, published once the client has subscribed (XPUB). scenario: "done" (slicing
    events, sliced, queued, printing, done), "failed" (the slicer refuses the model), "hold"
    (printing until cancelled), "old" (print.presets: unknown method)."""

    def __init__(self, tmp, scenario):
        self.ctx = ctx = zmq.Context()  # its own: BridgeTest's is destroyed before cleanups
        self.rpc = "ipc://%s/fake-rpc" % tmp
        self.pub = "ipc://%s/fake-pub" % tmp
        self.router = ctx.socket(zmq.ROUTER)
        self.router.setsockopt(zmq.LINGER, 0)
        self.router.bind(self.rpc)
        self.xpub = ctx.socket(zmq.XPUB)
        self.xpub.setsockopt(zmq.LINGER, 0)
        self.xpub.bind(self.pub)
        self.scenario = scenario
        self.upload = b""
        self.params = None
        self.job = None
        self.calls = []
        self.subscribed = False
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def close(self):
        self.stop.set()
        self.thread.join(5)
        self.router.close(0)
        self.xpub.close(0)
        self.ctx.term()

    def publish(self, event):
        self.xpub.send_multipart([b"bridge/queue/", json.dumps(
            {"type": "json", "data": {"event": event, "id": 1, "job": self.job}}).encode()])

    def advance(self, events):
        """Publish the job's changes (a list of (event, changes)) in order."""
        for event, changes in events:
            self.job = dict(self.job, **changes)
            self.publish(event)

    def answer(self, method, p, frames):
        """(result, frames) or raises KeyError(error object)."""
        if method == "print.presets":
            if self.scenario == "old":
                raise KeyError({"code": -32601, "name": "method_not_found",
                                "message": "unknown method 'print.presets'"})
            return PRESETS, []
        if method == "session.hello":
            return {"name": p["name"]}, []
        if method == "print.upload":
            assert p["offset"] == len(self.upload)
            self.upload += frames[0]
            if not p["final"]:
                return {"received": len(self.upload)}, []
            assert p["crc32"] == zlib.crc32(self.upload)
            self.params = p
            self.job = {"id": 1, "name": p["name"], "state": "slicing", "error": None,
                        "model": {"format": "stl-binary", "faces": 12}, "preset": p["preset"],
                        "slicing": {"percent": 0, "stage": "Loading the model"}, "meta": None,
                        "position": None}
            return self.job, []
        if method == "print.job":
            return self.job, []
        if method == "print.cancel":
            self.advance([("cancelled", {"state": "cancelled", "error": "cancelled by its owner"})])
            return self.job, []
        if method == "jobs.fetch":
            assert (p["id"], p["file"]) == (1, "print.gcode")
            piece = GCODE[p["offset"]:p["offset"] + 16384]
            return {"id": 1, "file": "print.gcode", "offset": p["offset"], "size": len(piece),
                    "total": len(GCODE), "eof": p["offset"] + len(piece) >= len(GCODE)}, [piece]
        raise KeyError({"code": -32601, "name": "method_not_found",
                        "message": "unknown method '%s'" % method})

    def run(self):
        poller = zmq.Poller()
        poller.register(self.router, zmq.POLLIN)
        poller.register(self.xpub, zmq.POLLIN)
        played = False
        while not self.stop.is_set():
            ready = dict(poller.poll(50))
            if self.xpub in ready:
                if self.xpub.recv().startswith(b"\x01bridge/queue/"):
                    self.subscribed = True
            if self.router in ready:
                ident, *frames = self.router.recv_multipart()
                if frames and frames[0] == b"":
                    frames = frames[1:]
                req = json.loads(frames[0])
                self.calls.append(req["method"])
                try:
                    result, out = self.answer(req["method"], req.get("params") or {}, frames[1:])
                    body = {"id": req["id"], "result": result}
                except KeyError as e:
                    body, out = {"id": req["id"], "error": e.args[0]}, []
                self.router.send_multipart([ident, json.dumps(body).encode()] + out)
            if self.job and self.subscribed and not played:
                played = True
                self.play()

    def play(self):
        """The job's life after its upload, as the bridge's events."""
        slicing = [("slicing", {"slicing": {"percent": pc, "stage": st}})
                   for pc, st in ((10, "Processing triangulated mesh"),
                                  (40, "Generating perimeters"), (70, "Infilling layers"))]
        if self.scenario == "failed":
            self.advance(slicing[:1] + [("failed", {
                "state": "failed", "slicing": None,
                "error": "the slicer refused the model: Objects could not fit on the bed"})])
            return
        meta = {"time_s": 754, "filament_mm": 1234.5, "filament_g": 3.68, "lines": 3000,
                "layer_count": 100}
        self.advance(slicing + [("sliced", {"state": "approved", "slicing": None, "meta": meta,
                                            "position": 1}),
                                ("queued", {"state": "queued", "position": None}),
                                ("printing", {"state": "printing",
                                              "assigned": "printer-sim-1"})])
        if self.scenario == "done":
            self.xpub.send_multipart([b"printer/printer-sim-1/status/", json.dumps(
                {"type": "json", "data": {
                    "job": {"id": 1, "percent": 50.0, "line": 1500, "lines": 3000, "eta_s": 300},
                    "hotend": {"actual": 205.2}, "bed": {"actual": 59.9}}}).encode()])
            self.advance([("done", {"state": "done"})])


class PrintModelFakeBridgeTest(BridgeTest):

    def fake(self, scenario):
        f = FakeBridge(self.tmp, scenario)
        self.addCleanup(f.close)
        self.env = dict(os.environ, LABBRIDGE_PUB=f.pub, LABBRIDGE_RPC=f.rpc)
        self.model = os.path.join(self.tmp, "cube.stl")
        shutil.copy(os.path.join(MODELS_DIR, "calibration_cube.stl"), self.model)
        return f

    def test_done(self):
        f = self.fake("done")
        rc, out, err, _ = run_program([PY, EXAMPLE, self.model, "--preset", "fin", "--name",
                                       "group 3", "--save-gcode"], 30, env=self.env)
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(f.params["preset"], "fin")
        self.assertNotIn("scale", f.params)
        with open(self.model, "rb") as m:
            self.assertEqual(f.upload, m.read())  # 150 KB: one chunk
        lines = out.splitlines()
        self.assertEqual(lines[0], "job 1: cube.stl, stl-binary, 12 faces, preset fin "
                         "(0.12 mm layers, 20% infill)")
        self.assertEqual([l for l in lines if l.startswith("slicing")],
                         ["slicing 0% Loading the model",
                          "slicing 10% Processing triangulated mesh",
                          "slicing 40% Generating perimeters", "slicing 70% Infilling layers"])
        self.assertIn("job 1: sliced: estimated 13 min, 1.23 m of filament (3.7 g)", lines)
        self.assertIn("job 1: G-code saved to %s (%d bytes)" % (
            os.path.join(self.tmp, "cube.gcode"), len(GCODE)), lines)
        with open(os.path.join(self.tmp, "cube.gcode"), "rb") as g:
            self.assertEqual(g.read(), GCODE)
        self.assertIn("\r 50.0%  line 1500/3000  hotend 205°C  bed 60°C  ETA 300 s", out)
        self.assertEqual(lines[-1], "job 1: done")
        self.assertEqual(f.calls.count("jobs.fetch"), -(-len(GCODE) // 16384))

    def test_failed(self):
        self.fake("failed")
        rc, out, err, _ = run_program([PY, EXAMPLE, self.model, "--save-gcode"], 30,
                                      env=self.env)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("job 1: failed: the slicer refused the model: Objects could not fit on "
                      "the bed", err)
        self.assertNotIn("sliced", out)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "cube.gcode")))

    def test_unknown_preset_and_old_bridge(self):
        self.fake("done")
        rc, out, err, _ = run_program([PY, EXAMPLE, self.model, "--preset", "ultra"], 30,
                                      env=self.env)
        self.assertEqual(rc, 2, out + err)
        self.assertIn("unknown preset 'ultra': choose brouillon, normal, fin", err)
        rc, out, err, _ = run_program([PY, EXAMPLE, "--list-presets"], 30, env=self.env)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("normal     0.20 mm layers, 15% infill, 2 perimeters", out)

    def test_bridge_without_model_jobs(self):
        f = self.fake("old")
        rc, out, err, _ = run_program([PY, EXAMPLE, self.model], 30, env=self.env)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("unknown method 'print.presets': this bridge does not slice models", err)
        self.assertNotIn("print.upload", f.calls)

    def test_ctrl_c_cancels(self):
        f = self.fake("hold")
        p = subprocess.Popen([PY, EXAMPLE, self.model], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=self.env, text=True)
        self.addCleanup(p.kill)
        seen = []
        for line in p.stdout:  # bounded by the test's alarm; the job waits "printing"
            seen.append(line)
            if line.startswith("job 1: sliced"):
                break
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=20)
        self.assertEqual(p.returncode, 130, "".join(seen) + out + err)
        self.assertEqual(f.calls[-1], "print.cancel")
        self.assertIn("job 1: cancel asked (cancelled)", err)


# ------------------------------------------------------------------ against the real bridge

class ModelPrintingTest(BridgeTest):

    TEST_TIMEOUT = 300  # prints on the fast emulator; a cancel during a real-time heat-up

    def lab(self, fast=False):
        """The simulated lab's printer (real time: heat-ups take a minute), or (fast) the
        standalone Marlin emulator at 1/100 of its times, written to without pacing."""
        if fast:
            e = test_printer.Emulator(self.tmp, "--time-scale", "0.01")
            self.addCleanup(e.close)
            cf = test_printer.conf(self.tmp, e.path)
        else:
            cf = make_conf({}, bridge={"data_dir": os.path.join(self.tmp, "data"),
                                       "emulate": "marlin"},
                           raw="[print]\napproval = no\nconfirm_bed = no\n")
        d = self.start_bridge(cf)
        self.env = dict(os.environ, LABBRIDGE_PUB=d.pub, LABBRIDGE_RPC=d.rpc)
        c = self.client(d)
        presets = model_jobs_or_skip(self, c)
        self.assertEqual([p["name"] for p in presets["presets"]][:3],
                         ["brouillon", "normal", "fin"])
        wait_until(lambda: c.call("devices.list", {"kind": "printer"}), timeout=10,
                   what="the printer")
        return c

    def copy(self, name):
        path = os.path.join(self.tmp, name)
        shutil.copy(os.path.join(MODELS_DIR, name), path)
        return path

    def test_print_each_model(self):
        c = self.lab(fast=True)
        formats = {"calibration_cube.stl": "stl-binary", "name_tag.3mf": "3mf",
                   "phone_stand.obj": "obj"}
        for n, name in enumerate(MODELS, 1):
            # the phone stand at half size (a teacher's --scale): a shorter print
            extra = ["--scale", "50"] if name == "phone_stand.obj" else []
            rc, out, err, _ = run_program([PY, EXAMPLE, self.copy(name), "--preset", "brouillon",
                                           "--name", "group 3", "--save-gcode"] + extra, 300,
                                          env=self.env, cwd=self.tmp)
            self.assertEqual(rc, 0, out + err)
            lines = out.splitlines()
            self.assertTrue(lines[0].startswith("job %d: %s, %s, " % (n, name, formats[name])),
                            out)
            pcs = [int(m.group(1)) for m in re.finditer(r"^slicing (\d+)%", out, re.M)]
            self.assertEqual(pcs, sorted(pcs), out)  # progress never goes back
            self.assertRegex(out, r"job %d: sliced: estimated (\d+ h )?\d+ min, "
                             r"\d+\.\d\d m of filament" % n)
            self.assertEqual(lines[-1], "job %d: done" % n, out)
            job = c.call("print.job", {"id": n})
            self.assertEqual((job["state"], job["preset"], job["model"]["format"]),
                             ("done", "brouillon", formats[name]))
            gcode = os.path.join(self.tmp, os.path.splitext(name)[0] + ".gcode")
            with open(gcode, "rb") as f:
                data = f.read()
            self.assertIn(b"; generated by PrusaSlicer", data[:4096])
            files = {f["name"]: f["size"] for f in c.call("jobs.results", {"id": n})}
            self.assertEqual(files.get("print.gcode"), len(data), files)
            self.assertIn("model." + os.path.splitext(name)[1][1:], files)

    def test_too_big_and_ctrl_c(self):
        c = self.lab()
        # 4 x the stand is 320 mm wide: failed with the reason, exit status 1
        rc, out, err, _ = run_program([PY, EXAMPLE, self.copy("phone_stand.obj"), "--scale",
                                       "400"], 120, env=self.env, cwd=self.tmp)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("job 1: failed: ", err)
        self.assertIn("larger than the bed", err)
        # Ctrl-C once sliced (the printer heats up for a minute): the job is cancelled
        p = subprocess.Popen([PY, EXAMPLE, self.copy("calibration_cube.stl")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env,
                             text=True, cwd=self.tmp)
        self.addCleanup(p.kill)
        seen = []
        for line in p.stdout:  # bounded by the test's alarm
            seen.append(line)
            if line.startswith("job 2: sliced"):
                break
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 130, "".join(seen) + out + err)
        self.assertIn("job 2: cancel asked", err)
        # M108 breaks each heating wait (M190, then M109) while the cancel drains: seconds,
        # not the minute of a heat-up
        wait_until(lambda: c.call("print.job", {"id": 2})["state"] == "cancelled", timeout=20,
                   what="job 2 cancelled")


if __name__ == "__main__":
    sys.exit("run through tests/integration/run.py")
