#!/usr/bin/python3
"""Modbus against a third-party peer: the real driver (libmodbus) talking to pymodbus's reference
server (Debian's python3-pymodbus), over TCP on a free loopback port and over RTU through a pair
of pseudo-terminals linked by socat. The values the streams carry must be the ones this test puts
in the server's datastore: registers of every table, coils and discrete inputs, a coil written
through device.call, a register the server refuses (exception 2: an error event on its stream and
in device.info while the other channels keep streaming, cleared when it answers), and a counter
changing in the server showing up in device.info.

Standalone: /usr/bin/python3 tests/integration/test_modbus_peer.py --bridge build/asan/labbridge
"""
import asyncio
import logging
import os
import shutil
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if __name__ == "__main__":
    args = sys.argv[1:]
    if "--bridge" in args:
        i = args.index("--bridge")
        os.environ["LB_BRIDGE"] = os.path.abspath(args[i + 1])
        del args[i:i + 2]
    sys.argv[1:] = args
sys.path.insert(0, HERE)

from lbtest import (BridgeTest, labctl_path, make_conf, run_program, san_env,  # noqa: E402
                    sanitizer_errors, seq_gaps, wait_until)

from pymodbus.datastore import (ModbusSequentialDataBlock, ModbusServerContext,  # noqa: E402
                                ModbusSlaveContext)
from pymodbus.server.async_io import ModbusSerialServer, ModbusTcpServer  # noqa: E402
from pymodbus.transaction import ModbusRtuFramer  # noqa: E402

logging.getLogger("pymodbus").setLevel(logging.CRITICAL)

DEV = "modbus-peer"
UNIT = 3
# The server's datastore (0-based addresses, as on the wire), and the map that reads it.
INPUTS = [0x41AC, 0x0000,   # 0-1: 21.5f
          456,              # 2: 45.6 at scale 0.1
          0xE240, 0x0001]   # 3-4: 123456, low word first; input 5 does not exist
HOLDINGS = [225, 0, 0, 0, 0, 7]  # 0: 22.5 at scale 0.1; 5: a counter
DISCRETES = [1, 0, 0, 0, 0, 0, 0, 0]
COILS = [0, 1, 0, 0, 0, 0, 0, 0]
MAP = {
    "temperature": "input 0 float32 quantity=temperature unit=°C",
    "humidity": "input 2 int16 scale=0.1 quantity=humidity unit=%",
    "total": "input 3 int32 order=cdab",
    "missing": "input 5 uint16",  # next to 3-4: read with them until the server refuses it
    "setpoint": "holding 0 uint16 scale=0.1 quantity=temperature unit=°C",
    "counter": "holding 5 uint16",
    "door": "discrete 0 bool",
    "window": "discrete 1 bool quantity=open",
    "relay": "coil 0 bool",
    "lamp": "coil 1 bool",
}
MISSING_MSG = "unit %d refused input register 5 (exception 2: illegal data address)" % UNIT


def topic(stream):
    return "sensor/%s/%s/" % (DEV, stream)


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


class PeerServer:
    """pymodbus's asyncio server in a thread of its own: TCP on 127.0.0.1 port 0 (the port is read
    back), or RTU on a serial port path. set()/get() touch the datastore in the server's thread,
    so a request never sees half of a change."""

    def __init__(self, rtu_path=None):
        self.slave = ModbusSlaveContext(di=ModbusSequentialDataBlock(0, list(DISCRETES)),
                                        co=ModbusSequentialDataBlock(0, list(COILS)),
                                        hr=ModbusSequentialDataBlock(0, list(HOLDINGS)),
                                        ir=ModbusSequentialDataBlock(0, list(INPUTS)),
                                        zero_mode=True)
        self.context = ModbusServerContext(slaves={UNIT: self.slave}, single=False)
        self.rtu_path = rtu_path
        self.port = 0
        self.error = None
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        if not self.ready.wait(10):
            raise AssertionError("the pymodbus server did not start within 10 s")
        if self.error:
            raise AssertionError("the pymodbus server failed: %r" % self.error)

    def _run(self):
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._main())
        except Exception as e:  # reported to the test by __init__ or close()
            self.error = e
            self.ready.set()

    async def _main(self):
        self.halt = asyncio.Event()
        if self.rtu_path:
            server = ModbusSerialServer(self.context, framer=ModbusRtuFramer,
                                        port=self.rtu_path, baudrate=19200, parity="N")
            await server.start()
            self.ready.set()
            await self.halt.wait()
            await server.shutdown()
            await self._cancel_tasks()
            return
        server = ModbusTcpServer(self.context, address=("127.0.0.1", 0), loop=self.loop)
        task = asyncio.ensure_future(server.serve_forever())
        await asyncio.wait_for(server.serving, 10)
        self.port = server.server.sockets[0].getsockname()[1]
        self.ready.set()
        await self.halt.wait()
        await server.server_close()
        await self._cancel_tasks()

    async def _cancel_tasks(self):
        """End the connection handlers still waiting for requests."""
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _in_loop(self, fn):
        async def call():
            return fn()
        return asyncio.run_coroutine_threadsafe(call(), self.loop).result(5)

    def set(self, fc, address, values):
        """Change the datastore: fc 1 coils, 2 discrete inputs, 3 holding, 4 input registers."""
        self._in_loop(lambda: self.slave.setValues(fc, address, values))

    def get(self, fc, address, count=1):
        return self._in_loop(lambda: self.slave.getValues(fc, address, count))

    def grow_inputs(self, values):
        """Replace the input registers by a longer block (a register that starts answering)."""
        def grow():
            self.slave.store["i"] = ModbusSequentialDataBlock(0, list(values))
        self._in_loop(grow)

    def close(self):
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.halt.set)
        self.thread.join(5)


class PtyPair:
    """Two pseudo-terminals joined by socat (Debian's socat): what one side writes the other reads,
    as on a serial cable. Their paths are links in the test's directory."""

    def __init__(self, tmp):
        if not shutil.which("socat"):
            raise AssertionError("socat is not installed (make test-deps installs TEST_PKGS)")
        self.a, self.b = os.path.join(tmp, "ttyA"), os.path.join(tmp, "ttyB")
        self.proc = subprocess.Popen(["socat", "pty,raw,echo=0,link=" + self.a,
                                      "pty,raw,echo=0,link=" + self.b],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_until(lambda: os.path.exists(self.a) and os.path.exists(self.b), timeout=10,
                   what="socat's two pseudo-terminals")

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class ModbusPeerTest(BridgeTest):

    def peer(self, rtu=False):
        """The pymodbus server and the bridge configured for it: (server, daemon, client)."""
        if rtu:
            pair = PtyPair(self.tmp)
            self.addCleanup(pair.close)
            server = PeerServer(rtu_path=pair.a)
            # 8N1: pyserial cannot set parity on socat's pseudo-terminals (EINVAL)
            link = "port = %s\nbaud = 19200\nparity = N\n" % pair.b
        else:
            server = PeerServer()
            link = "tcp = 127.0.0.1:%d\n" % server.port
        self.addCleanup(server.close)
        raw = ("[modbus.peer]\n" + link + "unit = %d\nperiod_ms = 100\ntimeout_ms = 2000\n" % UNIT +
               "".join("channel.%s = %s\n" % kv for kv in MAP.items()) +
               "[sim.idle]\nrate = 1\nautostart = 0\n")
        d = self.start_bridge(make_conf({}, bridge={"emulate": "none"}, raw=raw))
        c = self.client(d)
        wait_until(lambda: self.info(c), timeout=10,
                   what="the Modbus device on the pymodbus server")
        return server, d, c

    def info(self, c):
        return {x["id"]: x for x in c.call("devices.list")}.get(DEV)

    def values_match_the_server(self, rtu):
        server, d, c = self.peer(rtu)
        dev = self.info(c)
        streams = {s["name"]: s for s in dev["streams"]}
        self.assertEqual(list(streams), list(MAP))
        for name in ("door", "window", "relay", "lamp"):
            self.assertEqual((streams[name]["type"], streams[name]["min"], streams[name]["max"]),
                             ("u8", 0, 1), name)
        self.assertEqual(streams["door"]["quantity"], "state")  # the default of a bit
        self.assertEqual(streams["window"]["quantity"], "open")
        self.assertEqual(dev["config"]["channels"]["door"], "discrete 0 bool")
        want = {"temperature": f32(21.5), "humidity": f32(45.6), "total": 123456.0,
                "setpoint": f32(22.5), "counter": 7.0, "door": 1, "window": 0, "relay": 0,
                "lamp": 1}
        sub = self.subscriber(d, ["sensor/%s/" % DEV])
        msgs = sub.collect(until=lambda got: set(want) <= {m.topic.split("/")[2] for m in got
                                                           if m.samples}, seconds=10)
        got = {}
        for m in msgs:
            if m.samples:
                got.setdefault(m.topic.split("/")[2], m.samples[0])
        self.assertEqual(got, want)
        # the server changes: the streams follow
        server.set(2, 0, [0])          # the door opens
        server.set(3, 0, [300])        # 30.0
        server.set(4, 3, [0x0001, 0])  # 1
        for name, value in (("door", 0), ("setpoint", 30.0), ("total", 1.0)):
            sub.wait_for(lambda m: m.topic == topic(name) and m.samples == (value,),
                         timeout=5, what="%s = %r from the server" % (name, value))
        # coils are written through device.call (function 5), read back by the server
        self.assertEqual(c.call("device.call", {"device": DEV, "action": "write",
                                                "args": {"channel": "relay", "value": True}}), 1)
        self.assertEqual([bool(x) for x in server.get(1, 0, 2)], [True, True])
        sub.wait_for(lambda m: m.topic == topic("relay") and m.samples == (1,), timeout=5,
                     what="the relay stream at 1")
        self.assertEqual(c.call("device.call", {"device": DEV, "action": "write",
                                                "args": {"channel": "lamp", "value": 0}}), 0)
        self.assertEqual([bool(x) for x in server.get(1, 1)], [False])
        err = c.error("device.call", {"device": DEV, "action": "write",
                                      "args": {"channel": "lamp", "value": 2}})
        self.assertEqual(err["name"], "invalid_params")
        self.assertIn("0 or 1", err["message"])
        err = c.error("device.call", {"device": DEV, "action": "write",
                                      "args": {"channel": "door", "value": 1}})
        self.assertIn("discrete input: read-only", err["message"])
        self.assertEqual(c.call("device.call", {"device": DEV, "action": "read", "args": {
            "table": "discrete", "address": 0, "count": 3}}), [0, 0, 0])
        self.assertEqual(c.call("device.call", {"device": DEV, "action": "read", "args": {
            "table": "coil", "address": 0, "count": 2}}), [1, 0])
        # a coil write is a command: another client's lease refuses it, as for device.set
        other = self.client(d)
        other.call("lease.acquire", {"device": DEV})
        err = c.error("device.call", {"device": DEV, "action": "write",
                                      "args": {"channel": "relay", "value": 0}})
        self.assertEqual(err["name"], "leased")
        self.assertEqual([bool(x) for x in server.get(1, 0)], [True])
        other.call("lease.release", {"device": DEV})

    def test_tcp_values_match_the_server(self):
        self.values_match_the_server(rtu=False)

    def test_rtu_values_match_the_server(self):
        self.values_match_the_server(rtu=True)

    def refused_register(self, rtu):
        server, d, c = self.peer(rtu)
        # the Clone pattern: subscribed first, then the snapshot; the error is said once, so it
        # is in the snapshot if it came before the subscription, else it is still to come
        sub = self.subscriber(d, ["sensor/%s/" % DEV])
        snap = {s["topic"]: s for s in c.call("snapshot", {"prefix": topic("missing")})["streams"]}
        if topic("missing") in snap:
            ev = snap[topic("missing")]["header"]
            self.assertEqual(snap[topic("missing")]["value"], ev["data"])
        else:
            ev = sub.wait_for(lambda m: m.topic == topic("missing"), timeout=10,
                              what="a message on the refused register's stream").header
        self.assertEqual(ev["type"], "json")
        self.assertEqual(ev["seq"], 1, "the first message of the stream is its error")
        self.assertEqual(ev["data"], {"event": "error", "code": "illegal_data_address",
                                      "message": MISSING_MSG})
        stream = {s["name"]: s for s in self.info(c)["streams"]}["missing"]
        self.assertEqual(stream["error"], {"code": "illegal_data_address",
                                           "message": MISSING_MSG})
        dinfo = c.call("device.info", {"device": DEV})
        self.assertEqual([s["name"] for s in dinfo["streams"] if "error" in s], ["missing"])
        # and labctl devices says it on the stream's line
        rc, out, err, _ = run_program([labctl_path(), "--pub", d.pub, "--rpc", d.rpc, "devices"],
                                      10, env=san_env())
        self.assertEqual((rc, sanitizer_errors(err)), (0, []), err)
        self.assertIn("missing (10 Hz) ERROR: " + MISSING_MSG, out)
        # the snapshot lists the stream, its last message being the error
        snap = {s["topic"]: s for s in c.call("snapshot", {"prefix": topic("missing")})["streams"]}
        self.assertEqual(snap[topic("missing")]["value"]["code"], "illegal_data_address")
        self.assertEqual(snap[topic("missing")]["seq"], 1)
        # the other channels keep streaming, the neighbours of the refused register included;
        # the error is said once, not at every poll
        msgs = sub.collect(until=lambda got: all(sum(m.topic == topic(n) for m in got) >= 5
                                                 for n in ("temperature", "total", "door")),
                           seconds=10)
        for n in ("temperature", "total", "humidity", "counter", "door", "relay"):
            self.assertGreaterEqual(sum(m.topic == topic(n) for m in msgs), 3, n)
        self.assertEqual([m for m in msgs if m.topic == topic("missing") and
                          m.header["seq"] > 1], [])
        self.assertEqual(seq_gaps(msgs), [])
        # the register starts answering: samples again, and the error is gone from device.info
        server.grow_inputs(INPUTS + [4242])
        m = sub.wait_for(lambda m: m.topic == topic("missing") and m.header["seq"] > 1, timeout=5,
                         what="the register answering")
        self.assertEqual(m.samples, (4242.0,))
        self.assertEqual(m.header["seq"], 2)
        wait_until(lambda: "error" not in {s["name"]: s for s in c.call(
            "device.info", {"device": DEV})["streams"]}["missing"], timeout=5,
            what="the error cleared in device.info")

    def test_tcp_refused_register_is_an_error_event(self):
        self.refused_register(rtu=False)

    def test_rtu_refused_register_is_an_error_event(self):
        self.refused_register(rtu=True)

    def test_description_follows_the_server(self):
        server, d, c = self.peer()
        first = c.call("device.info", {"device": DEV})["config"]
        for value in (8, 9, 1000):
            server.set(3, 5, [value])
            wait_until(lambda: c.call("device.info", {"device": DEV})["config"]["values"]
                       ["counter"] == value, timeout=5,
                       what="the counter at %d in device.info" % value)
            wait_until(lambda: self.info(c)["config"]["values"]["counter"] == value, timeout=5,
                       what="the counter at %d in devices.list" % value)
        later = c.call("device.info", {"device": DEV})["config"]
        self.assertGreater(later["stats"]["requests"], first["stats"]["requests"])
        self.assertEqual(later["values"]["door"], 1)
        # the counters move at every poll (10 a second) but the description is sent again at
        # most once a second: a bound on the number of changed events, not on their timing
        sub = self.subscriber(d, ["bridge/devices/"])
        t0 = time.monotonic()
        evs = sub.collect(seconds=3)
        window = time.monotonic() - t0
        self.assertTrue(all(m.data["event"] == "changed" and m.data["device"]["id"] == DEV
                            for m in evs), evs)
        self.assertGreaterEqual(len(evs), 1, "no changed event while the counters move")
        self.assertLessEqual(len(evs), window + 3, "more than one changed event a second")


if __name__ == "__main__":
    import unittest
    unittest.main()
