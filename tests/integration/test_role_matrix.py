"""The role x method matrix: PROTOCOL.md's table of every method's least role against the bridge's
own registry (bridge.methods), and every method called as observer, student and teacher.

Roles are arranged as the bridge identifies local programs: root is a teacher; the Unix user
nobody (a pupil's account) gets local_role, a student by default and an observer under an
[access] section saying local_role = observer. Each method is called with empty params: only
the boundary is checked, `forbidden` with "requires the ... role" exactly where the caller's role
is below the table's (an allowed call may still fail for its params, a missing device, a stopped
room...).
"""
import os
import re

from lbtest import BridgeTest, NOBODY, make_conf, requests_as, sensor

HERE = os.path.dirname(os.path.abspath(__file__))
PROTOCOL = os.path.join(HERE, "..", "..", "bridge", "PROTOCOL.md")
RANK = {"observer": 0, "student": 1, "teacher": 2}


def protocol_table():
    """{method: {service, role, lease, upload}} from PROTOCOL.md's role-matrix table."""
    with open(PROTOCOL, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"<!-- role-matrix: begin -->\n(.*?)<!-- role-matrix: end -->", text, re.S)
    if not m:
        raise AssertionError("PROTOCOL.md has no role-matrix table")
    rows = {}
    for line in m.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 5 or not cells[0].startswith("`"):
            continue
        name = cells[0].strip("`")
        if name in rows:
            raise AssertionError("PROTOCOL.md lists %s twice" % name)
        rows[name] = {"service": cells[1], "role": cells[2], "lease": cells[3] == "yes",
                      "upload": cells[4] == "yes"}
    return rows


def refused_by_role(reply):
    e = reply.get("error")
    return bool(e) and e.get("name") == "forbidden" and "requires the" in e.get("message", "")


class RoleMatrixTest(BridgeTest):
    TEST_TIMEOUT = 120

    def start(self, access=None, name="bridge"):
        d = self.start_bridge(make_conf({"t1": sensor()}, access=access), name=name)
        return d, self.client(d)

    def test_the_table_is_the_registry(self):
        table = protocol_table()
        d, c = self.start()
        registry = {m["method"]: m for m in c.call("bridge.methods")}
        documented = {k for k, v in table.items() if v["service"] != "driver"}
        self.assertEqual(sorted(set(registry) - documented), [],
                         "methods the bridge has that PROTOCOL.md's table does not list")
        self.assertEqual(sorted(documented - set(registry)), [],
                         "methods PROTOCOL.md's table lists that the bridge does not have")
        for name, m in registry.items():
            with self.subTest(method=name):
                t = table[name]
                self.assertEqual((m["service"], m["role"], m["lease"], m["upload"]),
                                 (t["service"], t["role"], t["lease"], t["upload"]))
                self.assertTrue(m["allowed"])  # root is a teacher

    def check_as(self, role, replies, table):
        wrong = []
        for (name, t), reply in zip(table.items(), replies):
            want = RANK[role] < RANK[t["role"]]
            if refused_by_role(reply) != want:
                wrong.append("%s as %s: %s, table says %s" % (
                    name, role, "refused" if not want else "not refused (%s)" % reply, t["role"]))
        self.assertEqual(wrong, [])
        self.assertEqual(len(replies), len(table), "a call got no reply: %s" % replies[-1:])

    def test_every_method_as_every_role(self):
        table = protocol_table()
        calls = [[name, {}] for name in table]
        # teacher (root) and student (nobody, local_role's default)
        d, c = self.start()
        self.assertEqual(requests_as(NOBODY, d.rpc, [["whoami", {}]])[0]["result"]["role"],
                         "student")
        self.check_as("student", requests_as(NOBODY, d.rpc, calls, timeout=90), table)
        self.check_as("teacher", [c.request(name, {}) for name in table], table)
        allowed = {m["method"]: m["allowed"]
                   for m in requests_as(NOBODY, d.rpc, [["bridge.methods", {}]])[0]["result"]}
        for name, ok in allowed.items():
            self.assertEqual(ok, RANK["student"] >= RANK[table[name]["role"]], name)
        # observer: nobody under [access] local_role = observer
        d2, c2 = self.start(access={"local_role": "observer"}, name="observers")
        self.assertEqual(requests_as(NOBODY, d2.rpc, [["whoami", {}]])[0]["result"]["role"],
                         "observer")
        self.check_as("observer", requests_as(NOBODY, d2.rpc, calls, timeout=90), table)
