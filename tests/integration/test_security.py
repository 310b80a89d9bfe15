"""What a pupil can reach: identities the client cannot choose (the Unix user of a local program),
roles by Unix user, driver actions declared with their roles (a service's action is never
client-reachable), job ownership, and classroom limits on settings."""
import base64
import os
import zlib

import zmq

from lbtest import BridgeTest, NOBODY, make_conf, requests_as, sensor, wait_until
import test_printer  # its helpers; importing the class by name would run its tests twice
from test_printer import PRINTER, gcode


FORBIDDEN, NOT_SUPPORTED = 1002, 1005
LAB = {"t1": sensor(rate=20)}


def result(reply):
    assert "result" in reply, reply
    return reply["result"]


def error(reply):
    assert "error" in reply, reply
    return reply["error"]


class IdentityTest(BridgeTest):

    def test_the_bridges_user_and_root_are_teachers_other_users_students(self):
        # no [access] section: the user running the bridge (root here) is a teacher, other
        # users of this computer are students, over ipc:// and over TCP on the loopback
        conf = make_conf(LAB)
        ipc = self.start_bridge(conf, name="ipc")
        tcp = self.start_bridge(conf, name="tcp", rpc="tcp://127.0.0.1:0")
        for d in (ipc, tcp):
            ep = d.ready_endpoint("requests")
            with self.subTest(endpoint=ep):
                me = self.client(ep).call("whoami")
                self.assertEqual((me["user"], me["role"]), ("unix:root", "teacher"))
                r = requests_as(NOBODY, ep, [
                    ["whoami", {}],
                    # a display name is a label: it changes neither identity nor role
                    ["session.hello", {"name": "root"}],
                    ["session.hello", {"role": "teacher"}],
                    ["sim.unplug", {"device": "sim-t1"}],
                    ["device.set", {"device": "sim-t1", "key": "rate", "value": 30}],
                ])
                self.assertEqual(result(r[0]), {"user": "unix:nobody", "role": "student",
                                                "name": ""})
                self.assertEqual(result(r[1]), {"user": "unix:nobody", "role": "student",
                                                "name": "root"})
                self.assertEqual(error(r[2])["code"], FORBIDDEN)
                self.assertEqual(error(r[3])["code"], FORBIDDEN)
                self.assertEqual(result(r[4]), 30)

    def test_teachers_are_listed_users_and_groups(self):
        # root is not listed: root's programs are students; nobody is a teacher by name, and
        # by group (nogroup is nobody's group)
        for teachers in ("nobody", "@nogroup"):
            with self.subTest(teachers=teachers):
                d = self.start_bridge(make_conf(LAB, access={"teachers": teachers,
                                                             "local_role": "observer"}),
                                      name="b-" + teachers.strip("@"))
                self.assertEqual(self.client(d).call("whoami")["role"], "observer")
                r = requests_as(NOBODY, d.rpc, [["whoami", {}]])
                self.assertEqual(result(r[0])["role"], "teacher")

    def test_an_unknown_teacher_is_a_configuration_error(self):
        d = self.start_bridge(make_conf(LAB, access={"teachers": "root, nosuchuser"}),
                              ready=False, check_exit=False)
        self.assertEqual(d.wait_exit(10), 1)
        self.assertRegex(d.stderr(), r"bridge\.conf:\d+: \[access\] teachers: 'nosuchuser' "
                                     r"is not a user of this computer")

    def test_legacy_default_role_still_applies_to_every_local_program(self):
        d = self.start_bridge(make_conf(LAB, access={"default_role": "observer"}))
        self.assertEqual(self.client(d).call("whoami")["role"], "observer")
        self.assertIn("default_role = observer gives every program", d.stderr())

    def test_student_rates_and_batches_are_bounded(self):
        d = self.start_bridge(make_conf(LAB, access={"student_max_rate": 2000}))
        r = requests_as(NOBODY, d.rpc, [
            ["device.set", {"device": "sim-t1", "key": "rate", "value": 1e9}],
            ["device.set", {"device": "sim-t1", "key": "rate", "value": 2001}],
            ["device.set", {"device": "sim-t1", "key": "rate", "value": 2000}],
            ["device.set", {"device": "sim-t1", "key": "batch", "value": 65536}],
        ])
        self.assertEqual(error(r[0])["code"], FORBIDDEN)
        self.assertIn("teacher's decision", error(r[0])["message"])
        self.assertEqual(error(r[1])["code"], FORBIDDEN)
        self.assertEqual(result(r[2]), 2000)
        self.assertEqual(error(r[3])["code"], FORBIDDEN)
        c = self.client(d)  # root: a teacher
        self.assertEqual(c.call("device.set", {"device": "sim-t1", "key": "rate",
                                               "value": 5000}), 5000)
        self.assertEqual(c.call("device.get", {"device": "sim-t1", "key": "rate"}), 5000)

    def test_driver_actions_are_declared_with_their_roles(self):
        d = self.start_bridge(make_conf({"h": sensor(rate=20, thread="own")}))
        r = requests_as(NOBODY, d.rpc, [
            ["device.call", {"device": "sim-h", "action": "hang", "args": {"ms": 1}}],
            ["device.call", {"device": "sim-h", "action": "format_disk"}],
        ])
        self.assertEqual(error(r[0])["code"], FORBIDDEN)
        self.assertIn("teacher", error(r[0])["message"])
        self.assertEqual(error(r[1])["code"], NOT_SUPPORTED)
        self.assertIn("actions: hang", error(r[1])["message"])
        self.assertEqual(self.client(d).call("device.call", {"device": "sim-h",
                                                             "action": "hang",
                                                             "args": {"ms": 1}}),
                         {"slept_ms": 1})


class PrinterSecurityTest(BridgeTest):
    """The printer tests' emulator and helpers, without their tests."""

    _P = test_printer.PrinterTest  # not at module level: the loader would run its tests here
    TEST_TIMEOUT = _P.TEST_TIMEOUT
    emulator, printer, submit, wait_job, start = _P.emulator, _P.printer, _P.submit, \
        _P.wait_job, _P.start

    def test_print_action_is_not_client_reachable(self):
        # the queue's "print" would skip the queue, the approval and the policy, and open any
        # file the daemon can read: no client reaches it, whatever its role
        e, d, c = self.start()
        secret = os.path.join(self.tmp, "root-only.gcode")
        with open(secret, "w") as f:
            f.write("M104 S300\n")
        os.chmod(secret, 0o600)
        call = {"device": PRINTER, "action": "print", "args": {"job": 999, "path": secret}}
        sub = self.subscriber(d, ["printer/%s/console/" % PRINTER])
        for who, reply in (("teacher", c.request("device.call", call)),
                           ("student", requests_as(NOBODY, d.rpc, [["device.call", call]])[0])):
            with self.subTest(who=who):
                self.assertEqual(error(reply)["code"], FORBIDDEN)
                self.assertIn("print.upload", error(reply)["message"] + " print.upload")
        # nothing of the file reached the printer or its console
        self.assertEqual(self.printer(c)["config"]["state"], "idle")
        self.assertFalse([m for m in sub.collect(0.3) if "M104" in m.data.get("line", "")])
        self.assertNotIn("M104 S300", e.executed())

    def test_jobs_belong_to_the_unix_user_not_to_the_display_name(self):
        # nobody (a pupil's account) submits a job as "group 3"; root, acting as a student under
        # the same label, may not touch it; nobody may, from another connection
        e, d, c = self.start("--baud", "115200")
        text = gcode(5000).encode()
        r = requests_as(NOBODY, d.rpc, [
            ["session.hello", {"name": "group 3"}],
            ["print.upload", {"request_id": "nobody-1", "name": "n.gcode", "offset": 0,
                              "final": True, "crc32": zlib.crc32(text)},
             base64.b64encode(text).decode()],
        ])
        job = result(r[1])
        self.assertEqual(job["owner"], "unix:nobody")
        self.wait_job(c, job["id"], ("printing",))
        other = self.client(d)
        other.call("session.hello", {"name": "group 3", "role": "student"})
        self.assertEqual(other.error("print.cancel", {"id": job["id"]})["code"], FORBIDDEN)
        self.assertEqual(other.error("print.pause", {"id": job["id"]})["code"], FORBIDDEN)
        for action in ("pause", "resume", "cancel", "gcode"):
            with self.subTest(action=action):
                args = {"lines": "M104 S0"} if action == "gcode" else {}
                err = other.error("device.call", {"device": PRINTER, "action": action,
                                                  "args": args})
                self.assertEqual(err["code"], FORBIDDEN, err)
                self.assertIn("unix:nobody", err["message"])
        self.assertEqual(c.call("print.job", {"id": job["id"]})["state"], "printing")
        # its owner may, from another connection, through device.call as well
        r = requests_as(NOBODY, d.rpc, [["device.call", {"device": PRINTER,
                                                         "action": "pause"}]])
        self.assertIn("result", r[0], r)
        self.wait_job(c, job["id"], ("paused",))
        r = requests_as(NOBODY, d.rpc, [["print.cancel", {"id": job["id"]}]])
        self.assertIn("result", r[0], r)
        self.assertEqual(self.wait_job(c, job["id"])["state"], "cancelled")

    def test_anyone_may_stop_a_printer_in_an_emergency(self):
        e, d, c = self.start()
        r = requests_as(NOBODY, d.rpc, [["device.call", {"device": PRINTER,
                                                         "action": "estop"}]])
        self.assertIn("result", r[0], r)
        st = wait_until(lambda: (lambda s: s if s["estop_ns"] else None)(e.stats()),
                        what="M112 on the wire")
        self.assertTrue(st["halted"])

    def test_request_ids_belong_to_their_submitter(self):
        # a pupil who knows (or guesses) another's request id neither writes into that upload
        # nor is handed that job
        e, d, c = self.start(print_opts={"approval": "yes"})
        text = gcode(20).encode()
        mine = self.submit(c, gcode(30), request_id="shared-id")["result"]
        r = requests_as(NOBODY, d.rpc, [
            ["print.upload", {"request_id": "shared-id", "name": "n.gcode", "offset": 0,
                              "final": True, "crc32": zlib.crc32(text)},
             base64.b64encode(text).decode()],
            ["print.upload", {"request_id": "shared-id", "name": "n.gcode", "offset": 0,
                              "final": True, "crc32": zlib.crc32(text)},
             base64.b64encode(text).decode()],
        ])
        theirs, again = result(r[0]), result(r[1])
        self.assertNotEqual(theirs["id"], mine["id"])
        self.assertEqual(theirs["owner"], "unix:nobody")
        self.assertNotIn("duplicate", theirs)
        self.assertEqual((again["id"], again.get("duplicate")), (theirs["id"], True))
        self.assertEqual(c.call("print.job", {"id": mine["id"]})["owner"], "unix:root")

    def test_upload_status_shows_only_the_callers_uploads(self):
        # where another pupil's upload stands is none of a pupil's business: upload.status
        # answers about the caller's own id, and a pupil's same id is another upload
        e, d, c = self.start()
        text = gcode(50).encode()
        r = c.request("print.upload", {"request_id": "part-1", "name": "p.gcode", "offset": 0},
                      frames=[text[:100]])
        self.assertEqual(r.get("result"), {"received": 100}, r)
        status = {"method": "print.upload", "upload": "part-1"}
        self.assertEqual(c.call("upload.status", status)["offset"], 100)
        r = requests_as(NOBODY, d.rpc, [["upload.status", status]])
        self.assertEqual(result(r[0]), {"upload": "part-1", "offset": 0})


class MetadataTest(BridgeTest):

    def test_a_client_cannot_claim_a_role_in_its_handshake_metadata(self):
        # ZMTP lets a client send X- properties of its own (ZMQ_METADATA): those of the
        # bridge's authenticator must win
        d = self.start_bridge(make_conf(LAB, access={"teachers": "nobody",
                                                     "local_role": "observer"}))
        s = self.ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.METADATA, b"X-Role:teacher")
        s.setsockopt(zmq.METADATA, b"X-Local:0")
        s.connect(d.rpc)
        s.send_json({"id": 1, "method": "whoami"})
        self.assertTrue(s.poll(5000), "no reply")
        self.assertEqual(s.recv_json()["result"]["role"], "observer")
        s.close()
