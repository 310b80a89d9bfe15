"""print.upload without its data (issue 9): a chunk sent without its binary frame is refused with
a clear error, and no upload that sends nothing or fails at its start leaves a .part file."""
import os
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
