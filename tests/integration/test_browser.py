"""The tablet page (www/) in a real browser: Debian's chromium driven headless by Playwright
(tests/browser/run.mjs) against a bridge serving the simulated lab: the page loads with no console
error and nothing fetched from elsewhere, a student pairs and sees only what a student may, a live
plot updates, a teacher approves the student's print, STOP ALL reaches the emulated robots."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

from lbtest import BridgeTest, make_conf, sensor, wait_until

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BROWSER_DIR = os.path.join(ROOT, "tests", "browser")
CHROMIUM = os.environ.get("LB_CHROMIUM", "/usr/bin/chromium")
NODE = shutil.which("node")
JOB_NAME = "browser-test.gcode"


class BrowserTest(BridgeTest):

    TEST_TIMEOUT = 150

    def setUp(self):
        if not os.access(CHROMIUM, os.X_OK):
            self.skipTest("allowed: Debian's chromium is not installed (%s; make test-deps)" % CHROMIUM)
        if not NODE:
            self.skipTest("allowed: node is not installed (make test-deps)")
        if not os.path.isdir(os.path.join(BROWSER_DIR, "node_modules", "playwright-core")):
            self.skipTest("allowed: playwright-core is not installed (make tests/browser/node_modules)")
        super().setUp()
        # the screenshots go to a folder of their own that outlives the test's tmp dir (removed
        # at tearDown), or under LB_TEST_OUT when set; their paths are printed
        out = os.environ.get("LB_TEST_OUT")
        if out:
            os.makedirs(out, exist_ok=True)
        self.out = tempfile.mkdtemp(prefix="lbtest-browser-", dir=out)

    def run_browser(self, url, scenarios, timeout=100):
        """The verdicts of run.mjs for scenarios, by scenario name."""
        cmd = [NODE, os.path.join(BROWSER_DIR, "run.mjs"), "--url", url, "--out", self.out,
               "--chromium", CHROMIUM, "--job", JOB_NAME] + scenarios
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=BROWSER_DIR)
        verdicts = {}
        for line in p.stdout.splitlines():
            if line.startswith("{"):
                v = json.loads(line)
                verdicts[v["scenario"]] = v
        self.assertEqual(sorted(verdicts), sorted(s.split(":")[0] for s in scenarios),
                         "run.mjs gave no verdict for every scenario (status %d):\n%s\n%s"
                         % (p.returncode, p.stdout, p.stderr[-4000:]))
        for v in verdicts.values():
            for f in v.get("screenshots", []):
                sys.stderr.write("screenshot: %s\n" % f)
            if v.get("measures"):
                sys.stderr.write("measured (%s): %s\n" % (v["scenario"], json.dumps(v["measures"])))
        return verdicts

    def assertVerdict(self, v):
        self.assertTrue(v.get("ok"), json.dumps(v, indent=1, ensure_ascii=False))

    def test_page_in_a_real_browser(self):
        conf = make_conf({"t1": sensor(rate=100, quantity="temperature", unit="°C"),
                          "t2": sensor(rate=50)},
                         bridge={"emulate": "mbot,micropython,marlin",
                                 "request_timeout_ms": 5000})
        d = self.start_bridge(conf, http="127.0.0.1:0")
        url = d.web_url()
        self.assertIsNotNone(url, "no 'web page on' line:\n" + d.log())
        c = self.client(d)  # root: a teacher
        wait_until(lambda: len(c.call("robot.list")) >= 2, timeout=30, what="the emulated robots")
        wait_until(lambda: any(x["kind"] == "printer" for x in c.call("devices.list")),
                   timeout=30, what="the emulated printer")
        student = c.call("pair.new", {"role": "student", "name": "5B groupe 3"})
        teacher = c.call("pair.new", {"role": "teacher", "name": "Mme Martin"})
        self.assertTrue(student["url"].endswith("#pair=" + student["code"]), student)
        base = url if url.endswith("/") else url + "/"

        v = self.run_browser(base, ["load", "student:" + student["code"],
                                    "teacher:" + teacher["code"]])
        for name in ("load", "student", "teacher"):
            self.assertVerdict(v[name])

        # the student's upload made a job of the student's session, the teacher approved it
        jobs = [j for j in c.call("print.queue") + c.call("print.queue", {"history": True})
                if j["name"] == JOB_NAME]
        self.assertEqual(len(jobs), 1, jobs)
        job = c.call("print.job", {"id": jobs[0]["id"]})
        self.assertEqual(job["id"], v["teacher"]["job"])
        self.assertEqual(job["owner"], "web:" + student["id"], job)
        self.assertEqual(job["role"], "student", job)
        self.assertNotEqual(job["state"], "submitted", job)
        self.assertTrue(job["approved_by"], job)
        # STOP ALL from the teacher's page: the room is stopped, every robot stopped
        room = c.call("room.state")
        self.assertTrue(room["stopped"], room)
        self.assertEqual(room["name"], "Mme Martin", room)
        for r in c.call("robot.list"):
            self.assertIn(r["state"], ("stopped", "idle"), r)
            e = c.request("robot.move", {"device": r["device"], "left": 0.1, "right": 0.1})
            self.assertIn("error", e, e)
        c.call("room.release")
