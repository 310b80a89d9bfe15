"""The printing example against the simulated lab's Marlin printer: print_file.py uploads a file,
follows the job to the end, and exits 0; a file the safety policy rejects makes it fail."""
import os

from lbtest import ROOT, BridgeTest, make_conf, run_program, wait_until

PY = "/usr/bin/python3"
EX = os.path.join(ROOT, "examples", "python")


class PrintingExamplesTest(BridgeTest):

    def lab(self):
        d = self.start_bridge(make_conf(
            {}, bridge={"data_dir": os.path.join(self.tmp, "data"), "emulate": "marlin"},
            raw="[print]\napproval = no\nconfirm_bed = no\n"))
        self.env = dict(os.environ, LABBRIDGE_PUB=d.pub, LABBRIDGE_RPC=d.rpc)
        c = self.client(d)
        wait_until(lambda: c.call("devices.list", {"kind": "printer"}), timeout=10,
                   what="the simulated printer")
        return d

    def test_print_file(self):
        self.lab()
        # the example file of examples/gcode/, at the simulated printer's 115200 baud
        path = os.path.join(ROOT, "examples", "gcode", "cube.gcode")
        rc, out, err, _ = run_program([PY, os.path.join(EX, "print_file.py"), path,
                                       "--name", "group 3"], 60, env=self.env, cwd=self.tmp)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("job 1: cube.gcode, 2265 lines, PrusaSlicer 2.6.0, estimated 6 min", out)
        self.assertTrue(out.rstrip().endswith("job 1: done"), out)

    def test_rejected_file(self):
        self.lab()
        path = os.path.join(self.tmp, "hot.gcode")
        with open(path, "w") as f:
            f.write("G28\nM104 S400\n")
        rc, out, err, _ = run_program([PY, os.path.join(EX, "print_file.py"), path], 30,
                                      env=self.env, cwd=self.tmp)
        self.assertEqual(rc, 1)
        self.assertIn("line 2", err)
