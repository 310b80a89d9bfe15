"""print.upload without its data (issue 9): a chunk sent without its binary frame is refused with
a clear error, and no upload that sends nothing or fails at its start leaves a .part file."""
import os
import signal
import zlib

from lbtest import BridgeTest, make_conf, sensor


class UploadFramesTest(BridgeTest):

    def lab(self):
        self.data = os.path.join(self.tmp, "data")
        d = self.start_bridge(make_conf({"v1": sensor(rate=10)},
                                        bridge={"data_dir": self.data},
                                        raw="[print]\napproval = no\n"))
        return self.client(d)

    def parts(self):
        prints = os.path.join(self.data, "prints")
        return sorted(f for f in os.listdir(prints) if f.endswith(".part")) \
            if os.path.isdir(prints) else []

    def test_chunk_without_binary_frame(self):
        c = self.lab()
        base = {"request_id": "no-frame-1", "name": "a.gcode", "offset": 0}
        err = c.error("print.upload", base)
        self.assertError(err, "invalid_params", -32602)
        self.assertIn("binary frame", err["message"])
        self.assertEqual(self.parts(), [], "a refused chunk left a part file")
        # an empty frame only asks how much arrived: nothing, and no file either
        r = c.request("print.upload", base, frames=[b""])
        self.assertEqual(r.get("result"), {"received": 0})
        self.assertEqual(self.parts(), [])
        # an empty final commit of nothing: an empty file, refused, no file
        r = c.request("print.upload", dict(base, final=True), frames=[])
        self.assertIn("error", r)
        self.assertEqual(self.parts(), [])
        # a real upload still works, its last chunk without data (a commit)
        text = b"G28\nG1 X10\n"
        r = c.request("print.upload", base, frames=[text])
        self.assertEqual(r.get("result"), {"received": len(text)})
        self.assertEqual(len(self.parts()), 1)
        job = c.call("print.upload", dict(base, offset=len(text), final=True,
                                          crc32=zlib.crc32(text)))
        self.assertEqual(job["size"], len(text))
        self.assertEqual(self.parts(), [])


class UploadResumeTest(BridgeTest):
    """Generic uploads (issue 10, item 3) through print.upload: a client that lost its connection
    asks upload.status where to go on; chunks carry their own checksum; the method's limit is
    enforced before anything is written."""

    def lab(self, raw=""):
        self.data = os.path.join(self.tmp, "data")
        d = self.start_bridge(make_conf({"v1": sensor(rate=10)},
                                        bridge={"data_dir": self.data},
                                        raw="[print]\napproval = no\n" + raw))
        return d

    def test_resume_after_dropped_connection(self):
        d = self.lab()
        text = b"G28\n" + b"".join(b"G1 X%d Y%d\n" % (i % 200, i % 150) for i in range(3000))
        half = len(text) // 2
        c = self.client(d)
        st = c.call("upload.status", {"method": "print.upload", "upload": "res-1"})
        self.assertEqual(st, {"upload": "res-1", "offset": 0})
        base = {"request_id": "res-1", "name": "r.gcode"}
        r = c.call("print.upload", dict(base, offset=0, chunk_crc32=zlib.crc32(text[:half])),
                   frames=[text[:half]])
        self.assertEqual(r, {"received": half})
        c.close()
        # a new connection (the same user) asks where the upload stands and goes on from there
        c2 = self.client(d)
        st = c2.call("upload.status", {"method": "print.upload", "upload": "res-1"})
        self.assertEqual(st["offset"], half)
        job = c2.call("print.upload", dict(base, offset=st["offset"], final=True,
                                           crc32=zlib.crc32(text),
                                           chunk_crc32=zlib.crc32(text[half:])),
                      frames=[text[half:]])
        self.assertEqual(job["size"], len(text))
        self.assertEqual(job["meta"]["lines"], 3001)
        # the part file became the job's: nothing more to resume
        st = c2.call("upload.status", {"method": "print.upload", "upload": "res-1"})
        self.assertEqual(st["offset"], 0)

    def test_resume_after_the_bridge_was_killed(self):
        # the part file is on disk: a bridge killed with SIGKILL and started again knows how
        # much arrived, and the upload goes on to one job
        self.data = os.path.join(self.tmp, "data")
        cf = make_conf({"v1": sensor(rate=10)}, bridge={"data_dir": self.data},
                       raw="[print]\napproval = no\n")
        d = self.start_bridge(cf, check_exit=False)
        text = b"G28\n" + b"".join(b"G1 X%d\n" % (i % 100) for i in range(5000))
        cut = 20000
        c = self.client(d)
        base = {"request_id": "kill-1", "name": "k.gcode"}
        self.assertEqual(c.call("print.upload", dict(base, offset=0), frames=[text[:cut]]),
                         {"received": cut})
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait(timeout=5)
        d2 = self.start_bridge(cf, name="again")
        c2 = self.client(d2)
        st = c2.call("upload.status", {"method": "print.upload", "upload": "kill-1"})
        self.assertEqual(st["offset"], cut)
        job = c2.call("print.upload", dict(base, offset=cut, final=True,
                                           crc32=zlib.crc32(text)), frames=[text[cut:]])
        self.assertEqual((job["size"], job["meta"]["lines"]), (len(text), 5001))
        self.assertEqual(len(c2.call("print.queue")), 1)

    def test_chunk_checksum_and_errors(self):
        c = self.client(self.lab())
        base = {"request_id": "crc-1", "name": "c.gcode", "offset": 0}
        chunk = b"G28\nG1 X1\n"
        err = c.error("print.upload", dict(base, chunk_crc32=zlib.crc32(chunk) ^ 1),
                      frames=[chunk])
        self.assertError(err, "invalid_params", -32602)
        self.assertIn("chunk checksum mismatch", err["message"])
        st = c.call("upload.status", {"method": "print.upload", "upload": "crc-1"})
        self.assertEqual(st["offset"], 0, "a chunk with a bad checksum was written")
        r = c.call("print.upload", dict(base, chunk_crc32=zlib.crc32(chunk)), frames=[chunk])
        self.assertEqual(r, {"received": len(chunk)})
        # a method without uploads: refused, for status and for binary frames alike
        err = c.error("upload.status", {"method": "device.call", "upload": "x"})
        self.assertError(err, "invalid_params", -32602)
        err = c.error("devices.list", {}, frames=[b"xx"])
        self.assertError(err, "invalid_params", -32602)
        self.assertIn("takes no binary frames", err["message"])
        err = c.error("upload.status", {"method": "print.upload", "upload": ""})
        self.assertError(err, "invalid_params", -32602)

    def test_limit_refused_before_writing(self):
        c = self.client(self.lab("max_mb = 1\n"))
        base = {"request_id": "big-1", "name": "b.gcode"}
        chunk = b"G1 X1\n" * 100000  # 600 000 bytes
        r = c.call("print.upload", dict(base, offset=0), frames=[chunk])
        self.assertEqual(r, {"received": len(chunk)})
        err = c.error("print.upload", dict(base, offset=len(chunk)), frames=[chunk])
        self.assertError(err, "too_large", 1008)
        st = c.call("upload.status", {"method": "print.upload", "upload": "big-1"})
        self.assertEqual(st["offset"], 0, "the refused upload's part file is kept")
