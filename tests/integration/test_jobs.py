"""The generic job requests (jobs.list, jobs.get, jobs.cancel, jobs.results, jobs.fetch) on the
print jobs that live in the job store, with ownership checked against the Unix user."""
import base64
import json
import os
import zlib

from lbtest import BridgeTest, NOBODY, requests_as, wait_until
import test_printer  # its helpers; importing the class by name would run its tests twice
from test_printer import conf, gcode

FORBIDDEN, INVALID_PARAMS = 1002, -32602


def result(reply):
    assert "result" in reply, reply
    return reply["result"]


def error(reply):
    assert "error" in reply, reply
    return reply["error"]


class JobsTest(BridgeTest):
    """The printer tests' emulator and helpers, without their tests."""

    _P = test_printer.PrinterTest  # not at module level: the loader would run its tests here
    TEST_TIMEOUT = _P.TEST_TIMEOUT
    emulator, printer, submit, wait_job = _P.emulator, _P.printer, _P.submit, _P.wait_job

    def upload_as_nobody(self, d, rid, text):
        data = text.encode()
        r = requests_as(NOBODY, d.rpc, [
            ["print.upload", {"request_id": rid, "name": "n.gcode", "offset": 0,
                              "final": True, "crc32": zlib.crc32(data)},
             base64.b64encode(data).decode()]])
        return result(r[0])

    def test_print_jobs_through_the_generic_requests(self):
        # approval on: a pupil's (nobody's) jobs wait; the generic requests see them as the
        # store keeps them (kind print, store state names), print.* as before
        e = self.emulator("--baud", "115200")
        cf = conf(self.tmp, e.path, {"approval": "yes"}, emu_baud=115200)
        d = self.start_bridge(cf, check_exit=False)
        c = self.client(d)
        wait_until(lambda: self.printer(c), timeout=10, what="the printer")
        a = self.upload_as_nobody(d, "n-1", gcode(10))
        b = self.upload_as_nobody(d, "n-2", gcode(3000))
        self.assertEqual((a["state"], a["owner"]), ("submitted", "unix:nobody"))
        # a teacher's job, approved at once, for a printer that is not there: it stays queued
        mine = self.submit(c, gcode(8), request_id="root-1", printer="nowhere")["result"]
        self.assertEqual(mine["state"], "approved")

        g = c.call("jobs.get", {"id": a["id"]})
        self.assertEqual((g["id"], g["kind"], g["owner"], g["label"], g["state"]),
                         (a["id"], "print", "unix:nobody", "n.gcode", "waiting_approval"))
        self.assertEqual(g["params"]["size"], a["size"])
        self.assertEqual(g["meta"]["lines"], a["meta"]["lines"])
        self.assertEqual(g["position"], a["position"])
        lst = c.call("jobs.list", {"kind": "print"})
        self.assertEqual({j["id"] for j in lst}, {a["id"], b["id"], mine["id"]})
        self.assertEqual(c.call("jobs.list", {"kind": "scan"}), [])
        self.assertEqual(c.call("jobs.list", {"history": True}), [])
        self.assertEqual(c.error("jobs.get", {"id": 99999})["message"], "no job 99999")
        self.assertEqual(c.error("jobs.get", {"id": a["id"], "x": 1})["code"], INVALID_PARAMS)

        # ownership: nobody may not cancel root's job, nor read its results; a student under
        # root's uid with another label is still root (the kernel's identity), so the other
        # user here is nobody
        r = requests_as(NOBODY, d.rpc, [
            ["jobs.cancel", {"id": mine["id"]}],
            ["jobs.results", {"id": mine["id"]}],
            ["jobs.fetch", {"id": mine["id"], "file": "log.txt"}],
            ["jobs.get", {"id": mine["id"]}],
            ["jobs.cancel", {"id": a["id"]}],
            ["jobs.fetch", {"id": a["id"], "file": "log.txt", "max": 2 * 1024 * 1024}],
        ])
        for i, what in ((0, "cancel"), (1, "see the results of"), (2, "fetch from")):
            with self.subTest(what=what):
                err = error(r[i])
                self.assertEqual(err["code"], FORBIDDEN, err)
                self.assertIn("only its owner (unix:root) or a teacher may %s" % what,
                              err["message"])
        self.assertEqual(result(r[3])["state"], "queued")  # observers and up may look
        # its owner cancels its own waiting job: the print queue sees it cancelled
        self.assertEqual(result(r[4])["state"], "cancelled")
        self.assertEqual(c.call("print.job", {"id": a["id"]})["state"], "cancelled")
        # a range over 1 MiB is refused before anything is read
        self.assertEqual(error(r[5])["code"], INVALID_PARAMS)
        self.assertIn("max", error(r[5])["message"])
        self.assertEqual([j["id"] for j in c.call("jobs.list", {"history": True})], [a["id"]])

        # a teacher may cancel anyone's job; a printing job is ended by its printer
        c.call("print.approve", {"id": b["id"]})
        self.wait_job(c, b["id"], ("printing",))
        got = c.call("jobs.cancel", {"id": b["id"]})
        self.assertEqual(got["id"], b["id"])
        self.assertEqual(self.wait_job(c, b["id"])["state"], "cancelled")
        self.assertEqual(c.call("jobs.get", {"id": b["id"]})["state"], "cancelled")
        self.assertEqual(c.call("jobs.get", {"id": b["id"]})["assigned"], "printer-t")
        self.assertEqual(c.call("jobs.results", {"id": b["id"]}), [])

        # results: a file a service left in a job's folder is recorded at the next start
        d.stop()
        data = os.path.join(self.tmp, "data")
        blob = bytes(range(256)) * 5000  # 1.28 MB: more than one fetch
        for jid in (mine["id"], b["id"]):
            with open(os.path.join(data, "jobs", str(jid), "log.txt"), "wb") as f:
                f.write(blob)
        d2 = self.start_bridge(cf, name="again", check_exit=False)
        c2 = self.client(d2)
        res = c2.call("jobs.results", {"id": mine["id"]})
        self.assertEqual([(x["name"], x["size"]) for x in res], [("log.txt", len(blob))])
        got, offset = b"", 0
        while True:
            c2.send("jobs.fetch", {"id": mine["id"], "file": "log.txt", "offset": offset})
            frames = c2.recv_frames()
            self.assertEqual(len(frames), 2)
            r = json.loads(frames[0])["result"]
            self.assertEqual(r["size"], len(frames[1]))
            self.assertLessEqual(r["size"], 1024 * 1024)
            self.assertEqual(r["total"], len(blob))
            got += frames[1]
            offset += r["size"]
            if r["eof"]:
                break
        self.assertEqual(got, blob)
        self.assertIn("no result", c2.error("jobs.fetch", {"id": mine["id"],
                                                           "file": "../jobs.db"})["message"])
        self.assertIn("no result", c2.error("jobs.fetch", {"id": mine["id"],
                                                           "file": "input"})["message"])
        # the owner reads the results of its own job; another user may not
        r = requests_as(NOBODY, d2.rpc, [
            ["jobs.results", {"id": b["id"]}],
            ["jobs.results", {"id": mine["id"]}],
        ])
        self.assertEqual([x["name"] for x in result(r[0])], ["log.txt"])
        self.assertEqual(error(r[1])["code"], FORBIDDEN)
