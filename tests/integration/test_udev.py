"""udev/brltty-ch340: brltty's rule for CH340 adapters is overridden with only that line
commented out; nothing is written when the line is absent or already overridden."""
import os
import subprocess
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "udev", "brltty-ch340")
CH340 = 'ENV{PRODUCT}=="1a86/7523/*", ENV{BRLTTY_BRAILLE_DRIVER}="bm", GOTO="brltty_usb_run"'
OTHER = 'ENV{PRODUCT}=="0403/6001/*", ENV{BRLTTY_BRAILLE_DRIVER}="at", GOTO="brltty_usb_run"'


class BrlttyTest(unittest.TestCase):

    def setUp(self):
        import tempfile
        self.tmp = tempfile.mkdtemp(prefix="lb-udev-")
        self.rules = os.path.join(self.tmp, "85-brltty.rules")
        self.dest = os.path.join(self.tmp, "root", "etc", "udev", "rules.d", "85-brltty.rules")

    def tearDown(self):
        import shutil
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run_script(self, text):
        with open(self.rules, "w") as f:
            f.write(text)
        return subprocess.run(["sh", SCRIPT, os.path.join(self.tmp, "root")], timeout=30,
                              env=dict(os.environ, BRLTTY_RULES=self.rules),
                              capture_output=True, text=True, check=True)

    def test_only_the_ch340_line_is_commented_out(self):
        self.run_script("# head\n%s\n%s\nLABEL=\"end\"\n" % (OTHER, CH340))
        with open(self.dest) as f:
            lines = f.read().splitlines()
        self.assertIn(OTHER, lines)                 # other displays still work
        self.assertIn("# " + CH340, lines)
        self.assertNotIn(CH340, lines)
        self.assertIn('LABEL="end"', lines)

    def test_nothing_written_without_the_line(self):
        self.run_script("%s\n# %s\n" % (OTHER, CH340))
        self.assertFalse(os.path.exists(self.dest))

    def test_an_existing_override_is_kept(self):
        os.makedirs(os.path.dirname(self.dest))
        with open(self.dest, "w") as f:
            f.write("mine\n")
        r = self.run_script(CH340 + "\n")
        self.assertIn("exists already", r.stderr)
        with open(self.dest) as f:
            self.assertEqual(f.read(), "mine\n")
