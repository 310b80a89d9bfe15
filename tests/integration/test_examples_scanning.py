"""The scanning examples and labctl scan against the simulated lab's SANE test scanner:
scan_to_pdf.py (A3, and the document feeder into one PDF), scan_preview.py (the bands put
together into a PNG preview as they arrive), labctl scan (a progress bar, the results fetched)."""
import os
import struct
import zlib

from lbtest import ROOT, BridgeTest, labctl_path, make_conf, run_program, wait_until
from test_scanner_sane import pdf_pages, png_size

PY = "/usr/bin/python3"
EX = os.path.join(ROOT, "examples", "python")


def png_pixels(data):
    """The decompressed scanlines of a PNG (its IDAT chunks), for a look at its content."""
    pos, idat = 8, b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    return zlib.decompress(idat)


class ScanningExamplesTest(BridgeTest):

    def lab(self):
        d = self.start_bridge(make_conf({}, bridge={"emulate": "sane"}))
        self.env = dict(os.environ, LABBRIDGE_PUB=d.pub, LABBRIDGE_RPC=d.rpc)
        c = self.client(d)
        wait_until(lambda: c.call("devices.list", {"kind": "scanner"}), timeout=10,
                   what="the SANE test scanner")
        return d, c

    def run_ok(self, cmd, timeout=60):
        rc, out, err, _ = run_program(cmd, timeout, env=self.env, cwd=self.tmp)
        self.assertEqual(rc, 0, out + err)
        return out, err

    def test_scan_to_pdf(self):
        self.lab()
        a3 = os.path.join(self.tmp, "a3.pdf")
        out, _ = self.run_ok([PY, os.path.join(EX, "scan_to_pdf.py"), a3, "--dpi", "25"])
        self.assertIn("1 page", out.splitlines()[-1])
        with open(a3, "rb") as f:
            self.assertEqual(pdf_pages(f.read()), 1)
        adf = os.path.join(self.tmp, "adf.pdf")
        out, _ = self.run_ok([PY, os.path.join(EX, "scan_to_pdf.py"), adf, "--adf", "--pages",
                              "3", "--size", "A4", "--dpi", "20", "--mode", "gray"])
        self.assertIn("3 pages", out.splitlines()[-1])
        with open(adf, "rb") as f:
            self.assertEqual(pdf_pages(f.read()), 3)

    def test_scan_preview(self):
        _, c = self.lab()
        path = os.path.join(self.tmp, "preview.png")
        out, _ = self.run_ok([PY, os.path.join(EX, "scan_preview.py"), path, "--scan",
                              "--width", "100"])
        self.assertIn("page complete", out)
        # the example stops at the image's end; the job may still be writing its file: stopping
        # the bridge then would cancel it (libsane-test leaks a buffer on a cancel)
        wait_until(lambda: c.call("jobs.get", {"id": 1})["state"] not in ("queued", "running"),
                   timeout=30, what="the preview's scan job to end")
        with open(path, "rb") as f:
            data = f.read()
        w, h, ctype = png_size(data)
        # A4 at 50 dpi is 413 x 584: one preview pixel per 5 x 5
        self.assertEqual((w, h, ctype), (83, 117, 2))
        px = png_pixels(data)
        self.assertEqual(len(px), h * (1 + 3 * w))
        self.assertGreater(len(set(px)), 3)  # the colour pattern, not grey

    def test_labctl_scan(self):
        d, c = self.lab()
        path = os.path.join(self.tmp, "sheet.pdf")
        out, err = self.run_ok([labctl_path(), "--pub", d.pub, "--rpc", d.rpc, "scan", "-o",
                                path, "--size", "A3", "--dpi", "25", "--mode", "color"])
        self.assertIn("scan 1 on sane-test_0", err)
        with open(path, "rb") as f:
            self.assertEqual(pdf_pages(f.read()), 1)
        self.assertIn(path, out)
        # the feeder as PNG: one file per sheet, FILE's stem + -N
        path = os.path.join(self.tmp, "copies.png")
        self.run_ok([labctl_path(), "--pub", d.pub, "--rpc", d.rpc, "scan", "-o", path,
                     "--source", "adf", "--format", "png", "--dpi", "10"])
        files = sorted((f for f in os.listdir(self.tmp) if f.startswith("copies-")),
                       key=lambda f: int(f[7:-4]))
        n = len(c.call("jobs.results", {"id": 2}))  # the sheets left in the test feeder
        self.assertGreaterEqual(n, 2)
        self.assertEqual(files, ["copies-%d.png" % k for k in range(1, n + 1)])
        with open(os.path.join(self.tmp, "copies-1.png"), "rb") as f:
            self.assertEqual(png_size(f.read())[2], 0)  # grey
        # a scan that fails: status 1 and the scanner's words
        rc, out, err, _ = run_program(
            [labctl_path(), "--pub", d.pub, "--rpc", d.rpc, "scan", "-o",
             os.path.join(self.tmp, "x.pdf"), "--mode", "infrared"], 30, env=self.env)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("not one of its values", err)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "x.pdf")))
        rc, out, err, _ = run_program([labctl_path(), "scan", "--dpi", "x"], 10, env=self.env)
        self.assertEqual(rc, 2)
