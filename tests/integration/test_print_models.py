"""3D models printed from the queue (issue 13): an STL (ASCII and binary), 3MF or OBJ upload is
sliced by Debian's PrusaSlicer (a confined child process) with a preset, then printed on the
Marlin emulator to "done" like any G-code. Models too big for the bed, the teacher's scale,
presets offered to students, cancel and crash mid-slice, a restart mid-slice, 30 uploads at once."""
import base64
import io
import json
import os
import signal
import struct
import time
import zipfile
import zlib

from lbtest import BridgeTest, NOBODY, make_conf, requests_as, wait_until
import test_printer  # its helpers; importing the class by name would run its tests twice
from test_printer import conf

FINAL = ("done", "failed", "cancelled", "interrupted")
WAITING = ("submitted", "approved", "queued", "printing", "done")
FORBIDDEN, INVALID_PARAMS = 1002, -32602


def box(x, y, z):
    """The 12 triangles of an x by y by z mm box, outward facing."""
    v = [(0, 0, 0), (x, 0, 0), (x, y, 0), (0, y, 0), (0, 0, z), (x, 0, z), (x, y, z), (0, y, z)]
    f = [(0, 2, 1), (0, 3, 2), (4, 5, 6), (4, 6, 7), (0, 1, 5), (0, 5, 4), (1, 2, 6), (1, 6, 5),
         (2, 3, 7), (2, 7, 6), (3, 0, 4), (3, 4, 7)]
    return v, f


def stl_binary(x, y, z):
    v, f = box(x, y, z)
    out = bytearray(b"made by test_print_models".ljust(80, b" ") + struct.pack("<I", len(f)))
    for t in f:
        out += struct.pack("<3f", 0, 0, 0)
        for i in t:
            out += struct.pack("<3f", *v[i])
        out += b"\0\0"
    return bytes(out)


def stl_ascii(x, y, z):
    v, f = box(x, y, z)
    lines = ["solid box"]
    for t in f:
        lines += ["facet normal 0 0 0", " outer loop"]
        lines += ["  vertex %g %g %g" % v[i] for i in t]
        lines += [" endloop", "endfacet"]
    return ("\n".join(lines + ["endsolid box"]) + "\n").encode()


def obj(x, y, z):
    v, f = box(x, y, z)
    return ("# box\no box\n" + "".join("v %g %g %g\n" % p for p in v) +
            "".join("f %d %d %d\n" % (a + 1, b + 1, c + 1) for a, b, c in f)).encode()


def threemf(x, y, z):
    v, f = box(x, y, z)
    model = ('<?xml version="1.0" encoding="UTF-8"?>\n'
             '<model unit="millimeter" xmlns="http://schemas.microsoft.com/3dmanufacturing/'
             'core/2015/02"><resources><object id="1" type="model"><mesh><vertices>' +
             "".join('<vertex x="%g" y="%g" z="%g"/>' % p for p in v) + "</vertices><triangles>" +
             "".join('<triangle v1="%d" v2="%d" v3="%d"/>' % t for t in f) +
             '</triangles></mesh></object></resources><build><item objectid="1"/></build>'
             "</model>")
    types = ('<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats'
             '.org/package/2006/content-types"><Default Extension="rels" ContentType="application/'
             'vnd.openxmlformats-package.relationships+xml"/><Default Extension="model" '
             'ContentType="application/vnd.ms-package.3dmanufacturing-3dmodel+xml"/></Types>')
    rels = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
            'openxmlformats.org/package/2006/relationships"><Relationship Target="/3D/3dmodel.'
            'model" Id="rel0" Type="http://schemas.microsoft.com/3dmanufacturing/2013/01/'
            '3dmodel"/></Relationships>')
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in (("[Content_Types].xml", types), ("_rels/.rels", rels),
                           ("3D/3dmodel.model", model)):
            info = zipfile.ZipInfo(name, date_time=(2026, 12, 3, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, text)
    return buf.getvalue()


# A slicer standing for prusa-slicer where the test needs one that hangs: its mode file (beside
# it) says what to do; --info answers like PrusaSlicer for a 10 x 10 x 2 mm model.
FAKE_SLICER = r"""#!/bin/sh
here=$(dirname "$0")
for a in "$@"; do
	if [ "$a" = --info ]; then
		printf '[model.stl]\nsize_x = 10.000000\nsize_y = 10.000000\nsize_z = 2.000000\n'
		printf 'number_of_facets = 12\nmanifold = yes\n'
		exit 0
	fi
done
case "$(cat "$here/mode")" in
slow)
	echo "10 => Processing triangulated mesh"
	echo $$ >"$here/pid"
	exec sleep 60 ;;
*)
	exec prusa-slicer "$@" ;;
esac
"""


class ModelPrintTest(BridgeTest):
    """The printer tests' emulator and helpers, with models."""

    _P = test_printer.PrinterTest  # not at module level: the loader would run its tests here
    TEST_TIMEOUT = 300
    emulator, printer, wait_job = _P.emulator, _P.printer, _P.wait_job

    def start(self, print_opts=None, printer=True):
        """The bridge with the Marlin emulator (printer=True) or no printer at all."""
        opts = dict(print_opts or {})
        if printer:
            e = self.emulator()
            cf = conf(self.tmp, e.path, opts)
        else:
            opts.setdefault("approval", "no")
            raw = "[print]\n" + "".join("%s = %s\n" % kv for kv in opts.items())
            cf = make_conf({}, bridge={"data_dir": os.path.join(self.tmp, "data"),
                                       "request_timeout_ms": 3000}, raw=raw)
        self.d = self.start_bridge(cf)
        c = self.client(self.d)
        if printer:
            wait_until(lambda: self.printer(c), timeout=10, what="the printer")
        return c

    def upload(self, c, data, name, **params):
        """Upload a file in one chunk: the reply (result or error)."""
        p = {"request_id": "m-%d" % time.monotonic_ns(), "name": name, "offset": 0,
             "final": True, "crc32": zlib.crc32(data)}
        p.update(params)
        return c.request("print.upload", p, frames=[data])

    def job(self, c, data, name, **params):
        r = self.upload(c, data, name, **params)
        self.assertIn("result", r, r)
        return r["result"]

    def fake_slicer(self, mode):
        folder = os.path.join(self.tmp, "fake-%d" % time.monotonic_ns())
        os.makedirs(folder)
        path = os.path.join(folder, "prusa-slicer")
        with open(path, "w") as f:
            f.write(FAKE_SLICER)
        os.chmod(path, 0o755)
        with open(os.path.join(folder, "mode"), "w") as f:
            f.write(mode)
        os.chmod(folder, 0o755)
        return path

    def test_each_format_printed_to_done(self):
        c = self.start()
        files = [("box.stl", stl_binary(10, 8, 1.2), "stl-binary"),
                 ("box-ascii.stl", stl_ascii(10, 8, 1.2), "stl"),
                 ("box.3mf", threemf(10, 8, 1.2), "3mf"),
                 ("box.obj", obj(10, 8, 1.2), "obj")]
        for name, data, fmt in files:
            with self.subTest(name):
                job = self.job(c, data, name, preset="brouillon")
                self.assertEqual(job["state"], "slicing", job)
                self.assertEqual(job["model"]["format"], fmt)
                self.assertEqual(job["preset"], "brouillon")
                end = self.wait_job(c, job["id"], timeout=120)
                self.assertEqual(end["state"], "done", end)
                meta = end["meta"]
                self.assertGreater(meta["time_s"], 0)
                self.assertGreater(meta["filament_mm"], 0)
                # PLA at 1.24 g/cm3 of 1.75 mm filament: 2.98 mg a millimetre
                self.assertAlmostEqual(meta["filament_g"], meta["filament_mm"] * 0.00298,
                                       delta=meta["filament_g"] * 0.05 + 0.02)
                self.assertGreater(meta["layer_count"], 1)
                self.assertEqual(meta["size_mm"], [10.0, 8.0, 1.2])
                self.assertEqual(end["size"], meta["gcode_size"])
                names = {r["name"] for r in c.call("jobs.results", {"id": job["id"]})}
                self.assertIn("print.gcode", names)
                # the G-code printed is the one kept with the job
                c.send("jobs.fetch", {"id": job["id"], "file": "print.gcode", "max": 4096})
                frames = c.recv_frames()
                self.assertIn("result", json.loads(frames[0]), frames[0])
                self.assertTrue(frames[1].startswith(b"; generated by PrusaSlicer"),
                                frames[1][:80])
        # the slicing folders are gone: only the model, the G-code (and results) stay
        jobs = os.path.join(self.tmp, "data", "jobs")
        for j in os.listdir(jobs):
            self.assertNotIn(".slice", os.listdir(os.path.join(jobs, j)))

    def test_model_larger_than_the_bed_and_the_teachers_scale(self):
        c = self.start(printer=False)
        job = self.job(c, stl_binary(300, 40, 20), "long.stl")
        end = self.wait_job(c, job["id"], timeout=60)
        self.assertEqual(end["state"], "failed")
        self.assertIn("the model is 300.0 x 40.0 x 20.0 mm: larger than the bed", end["error"])
        # a model drawn in inches: the size and the guess
        tiny = self.wait_job(c, self.job(c, stl_binary(0.8, 0.8, 0.8), "inch.stl")["id"],
                             timeout=60)
        self.assertEqual(tiny["state"], "failed")
        self.assertIn("inches", tiny["error"])
        # a student may not scale; a teacher (root) retries the first at 50 %
        r = requests_as(NOBODY, self.d.rpc, [["print.retry", {"id": job["id"], "scale": 50}]])
        self.assertEqual(r[0]["error"]["code"], FORBIDDEN, r)
        again = c.call("print.retry", {"id": job["id"], "scale": 50})
        self.assertEqual(again["state"], "slicing")
        self.assertEqual(again["scale"], 50)
        end = self.wait_job(c, job["id"], states=WAITING + FINAL, timeout=60)
        self.assertEqual(end["state"], "approved", end)
        self.assertEqual(end["meta"]["size_mm"], [150.0, 20.0, 10.0])
        # a bar longer than the bed fits it on its diagonal: the teacher turns it by 45 degrees
        bar = self.job(c, stl_binary(290, 10, 5), "bar.stl", preset="brouillon")
        self.assertEqual(self.wait_job(c, bar["id"], timeout=60)["state"], "failed")
        c.call("print.retry", {"id": bar["id"], "rotate": 45})
        end = self.wait_job(c, bar["id"], states=WAITING + FINAL, timeout=60)
        self.assertEqual(end["state"], "approved", end)
        self.assertEqual(end["meta"]["size_mm"], [212.1, 212.1, 5.0])

    def test_presets_offered_and_students_jobs(self):
        c = self.start(print_opts={"approval": "yes", "presets": "brouillon normal"},
                       printer=False)
        offered = requests_as(NOBODY, self.d.rpc, [["print.presets", {}]])[0]["result"]
        self.assertEqual([p["name"] for p in offered["presets"]], ["brouillon", "normal"])
        self.assertEqual(offered["default"], "normal")
        everything = c.call("print.presets", {})
        self.assertEqual([p["name"] for p in everything["presets"]],
                         ["brouillon", "normal", "fin"])
        data = stl_binary(10, 10, 2)
        b64 = base64.b64encode(data).decode()

        def student_upload(rid, **extra):
            p = {"request_id": rid, "name": "s.stl", "offset": 0, "final": True,
                 "crc32": zlib.crc32(data)}
            p.update(extra)
            return requests_as(NOBODY, self.d.rpc, [["print.upload", p, b64]])[0]

        r = student_upload("s1", preset="fin")
        self.assertEqual(r["error"]["code"], FORBIDDEN, r)
        self.assertIn("not one of those offered: brouillon, normal", r["error"]["message"])
        r = student_upload("s1b", preset="ultra")
        self.assertEqual(r["error"]["code"], INVALID_PARAMS, r)
        r = student_upload("s2", scale=200)
        self.assertEqual(r["error"]["code"], FORBIDDEN, r)
        r = student_upload("s3")
        job = r["result"]
        self.assertEqual((job["state"], job["preset"], job["owner"]),
                         ("slicing", "normal", "unix:nobody"))
        # sliced, it waits for the teacher with its estimates
        end = self.wait_job(c, job["id"], states=("submitted",) + FINAL, timeout=60)
        self.assertEqual(end["state"], "submitted", end)
        self.assertGreater(end["meta"]["time_s"], 0)
        self.assertEqual(c.call("print.approve", {"id": job["id"]})["state"], "approved")
        # the teacher may use any preset
        self.assertEqual(self.job(c, data, "t.stl", preset="fin")["preset"], "fin")

    def test_cancel_crash_and_timeout_mid_slice(self):
        slicer = self.fake_slicer("slow")
        pidfile = os.path.join(os.path.dirname(slicer), "pid")
        c = self.start(print_opts={"slicer": slicer, "slice_time_s": 20}, printer=False)
        data = stl_binary(10, 10, 2)
        # cancelled by its owner while slicing: the slicer is killed
        job = self.job(c, data, "a.stl")
        wait_until(lambda: os.path.exists(pidfile), timeout=30, what="the slicer")
        with open(pidfile) as f:
            pid = int(f.read())
        os.unlink(pidfile)
        self.assertEqual(c.call("print.cancel", {"id": job["id"]})["state"], "cancelled")
        wait_until(lambda: not os.path.exists("/proc/%d" % pid) or
                   open("/proc/%d/stat" % pid).read().split()[2] == "Z",
                   timeout=10, what="the slicer killed")
        # a slicer killed by someone else: the job fails with the reason
        job = self.job(c, data, "b.stl")
        wait_until(lambda: os.path.exists(pidfile), timeout=30, what="the slicer")
        with open(pidfile) as f:
            os.kill(int(f.read()), signal.SIGKILL)
        end = self.wait_job(c, job["id"], timeout=30)
        self.assertEqual(end["state"], "failed")
        self.assertIn("the slicer crashed (SIGKILL)", end["error"])
        # the bridge answers throughout
        self.assertIsInstance(c.call("print.queue", {}), list)

    def test_timeout_mid_slice(self):
        slicer = self.fake_slicer("slow")
        c = self.start(print_opts={"slicer": slicer, "slice_time_s": 1}, printer=False)
        job = self.job(c, stl_binary(10, 10, 2), "a.stl")
        end = self.wait_job(c, job["id"], timeout=30)
        self.assertEqual(end["state"], "failed")
        self.assertIn("the slicer took longer than 1 s", end["error"])

    def test_restart_mid_slice(self):
        slicer = self.fake_slicer("slow")
        pidfile = os.path.join(os.path.dirname(slicer), "pid")
        c = self.start(print_opts={"slicer": slicer}, printer=False)
        job = self.job(c, stl_binary(10, 10, 2), "a.stl", preset="brouillon")
        wait_until(lambda: os.path.exists(pidfile), timeout=30, what="the slicer")
        self.d.stop()
        # the same data, a slicer that works: the job is sliced again from its model
        with open(os.path.join(os.path.dirname(slicer), "mode"), "w") as f:
            f.write("real")
        c = self.start(print_opts={"slicer": slicer}, printer=False)
        end = self.wait_job(c, job["id"], states=WAITING + FINAL, timeout=60)
        self.assertEqual(end["state"], "approved", end)

    def upload_chunked(self, c, data, name, chunk=1 << 20):
        """Upload in 1 MiB chunks: the final reply (result or error)."""
        rid = "big-%d" % time.monotonic_ns()
        off = 0
        while True:
            piece = data[off:off + chunk]
            final = off + len(piece) >= len(data)
            p = {"request_id": rid, "name": name, "offset": off, "final": final}
            if final:
                p["crc32"] = zlib.crc32(data)
            r = c.request("print.upload", p, frames=[piece], timeout=60)
            if final or "error" in r:
                return r
            off += len(piece)

    def test_bad_models_refused_at_upload(self):
        c = self.start(printer=False)
        # a facet of two vertices: the line that is wrong
        bad = stl_ascii(10, 10, 2).replace(b"  vertex 10 10 0\n", b"", 1)
        r = self.upload(c, bad, "bad.stl")
        self.assertEqual(r["error"]["code"], INVALID_PARAMS, r)
        self.assertIn("line", r["error"]["message"])
        # a binary STL cut short
        r = self.upload(c, stl_binary(10, 10, 2)[:-20], "cut.stl")
        self.assertEqual(r["error"]["code"], INVALID_PARAMS, r)
        self.assertIn("cut short", r["error"]["message"])
        # a 3MF that inflates to 600 MiB of zeros (compressed: under 1 MiB)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
            with z.open("3D/3dmodel.model", "w", force_zip64=True) as f:
                block = b"\0" * (1 << 20)
                for _ in range(600):
                    f.write(block)
        t = time.monotonic()
        r = self.upload_chunked(c, buf.getvalue(), "bomb.3mf")
        self.assertEqual(r["error"]["code"], INVALID_PARAMS, r)
        self.assertIn("zip bomb", r["error"]["message"])
        print("3MF bomb (%d KiB) refused in %.2f s" % (len(buf.getvalue()) >> 10,
                                                        time.monotonic() - t))
        # an OBJ of 10 million faces (80 MB): refused with the limit, told what to do
        big = b"v 0 0 0\nv 1 0 0\nv 0 1 0\n" + b"f 1 2 3\n" * 10000000
        t = time.monotonic()
        r = self.upload_chunked(c, big, "huge.obj")
        self.assertEqual(r["error"]["code"], INVALID_PARAMS, r)
        self.assertIn("more than 2000000 triangles", r["error"]["message"])
        print("10-million-face OBJ (%d MB) uploaded and refused in %.2f s"
              % (len(big) >> 20, time.monotonic() - t))
        # none made a job; the bridge serves on
        self.assertEqual(c.call("print.queue", {}), [])
        self.assertEqual(c.call("print.queue", {"history": True}), [])

    def test_thirty_pupils_at_once(self):
        c = self.start(printer=False)
        data = stl_binary(12, 12, 3)
        ids = []
        for i in range(30):
            ids.append(self.job(c, data, "pupil-%02d.stl" % i, preset="brouillon")["id"])
        # the bridge answers while they are sliced; every one is sliced, none lost
        lat = []
        for i in range(20):
            t = time.monotonic()
            c.call("print.queue", {})
            lat.append(time.monotonic() - t)
        ends = [self.wait_job(c, j, states=WAITING + FINAL, timeout=240) for j in ids]
        self.assertEqual([e["state"] for e in ends], ["approved"] * 30)
        for e in ends:  # each with its G-code and estimates
            self.assertGreater(e["meta"]["gcode_size"], 1000)
            self.assertGreater(e["meta"]["time_s"], 0)
        # and its picture, drawn after it was queued (event "thumbnail")
        for j in ids:
            meta = wait_until(lambda: (lambda m: m if m.get("thumbnail") else None)(
                c.call("print.job", {"id": j})["meta"]), timeout=60, what="job %d's picture" % j)
            self.assertEqual(meta["thumbnail"], {"width": 220, "height": 124})
        th = c.call("print.thumbnail", {"id": ids[0]})
        png = base64.b64decode(th["base64"])
        self.assertEqual(png[:8], b"\x89PNG\r\n\x1a\n")
        self.assertEqual((th["width"], th["height"]), (220, 124))
        self.assertEqual(struct.unpack(">II", png[16:24]), (220, 124))
        lat.sort()
        print("print.queue while 30 models are sliced: median %.1f ms, max %.1f ms"
              % (lat[len(lat) // 2] * 1e3, lat[-1] * 1e3))
