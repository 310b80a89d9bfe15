"""The test runner itself (run.py): skipped tests fail the run unless allowed with a reason, and
the tests run in parallel worker processes with readable output. Runs run.py on a few tests
written into a temporary directory (they start no daemon)."""
import os
import sys
import tempfile
import shutil
import unittest

from lbtest import bridge_path, run_program

RUN_PY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "run.py")
PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable

TESTS = {
    "test_a.py": '''
import unittest
class A(unittest.TestCase):
    def test_pass(self):
        pass
    def test_allowed_skip(self):
        self.skipTest("allowed: needs a board on USB")
''',
    "test_b.py": '''
import unittest
class B(unittest.TestCase):
    def test_pass(self):
        pass
    def test_plain_skip(self):
        self.skipTest("umockdev is not installed")
class C(unittest.TestCase):
    def test_pid(self):
        import os
        print("worker pid", os.getpid())
''',
}


class RunnerTest(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="lbrunner-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        for name, text in TESTS.items():
            with open(os.path.join(self.dir, name), "w") as f:
                f.write(text)

    def run_py(self, *args):
        rc, out, err, _ = run_program([PY, RUN_PY, "--bridge", bridge_path(), "--tests-dir",
                                       self.dir] + list(args), 60)
        return rc, out + err

    def test_plain_skip_fails_the_run(self):
        rc, out = self.run_py("-j", "2")
        self.assertEqual(rc, 1, out)
        self.assertIn("SKIPPED (not allowed", out)
        self.assertIn("test_b.B.test_plain_skip: umockdev is not installed", out)
        self.assertIn("SKIPPED (allowed) test_a.A.test_allowed_skip: needs a board on USB", out)
        self.assertIn("RESULT: FAILED", out)
        self.assertIn("2 workers", out)

    def test_allowed_skip_passes(self):
        rc, out = self.run_py("-j", "2", "-k", "test_a.")
        self.assertEqual(rc, 0, out)
        self.assertIn("SKIPPED (allowed) test_a.A.test_allowed_skip", out)
        self.assertIn("RESULT: OK", out)

    def test_workers_share_the_classes(self):
        rc, out = self.run_py("-j", "3", "-k", "pass", "-k", "pid")
        self.assertEqual(rc, 0, out)
        # each class ran once, in its own block, every test reported
        for unit in ("test_a.A", "test_b.B", "test_b.C"):
            self.assertEqual(out.count("----- %s:" % unit), 1, out)
        self.assertIn("3 tests in", out)
        self.assertEqual(out.count("worker pid"), 1, out)
        rc, out1 = self.run_py("-j", "1", "-k", "pass", "-k", "pid")
        self.assertEqual(rc, 0, out1)
        self.assertIn("3 tests in", out1)


if __name__ == "__main__":
    unittest.main()
