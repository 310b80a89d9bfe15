#!/usr/bin/python3
"""Modbus through the real driver and libmodbus: the simulated lab's weather station served by
libmodbus on a pseudo-terminal (RTU) and on TCP loopback, its register map decoded into streams,
settings, actions, and the faults a line can have: exceptions, garbage, silence, unplugging; and a
configuration with a wrong register map line.

Standalone: /usr/bin/python3 tests/integration/test_modbus.py --bridge build/asan/labbridge [-k NAME]
"""
import os
import select
import struct
import sys
import threading
import tty

HERE = os.path.dirname(os.path.abspath(__file__))
if __name__ == "__main__":
    # --bridge PATH (as run.py takes it) before lbtest reads LB_BRIDGE
    args = sys.argv[1:]
    if "--bridge" in args:
        i = args.index("--bridge")
        os.environ["LB_BRIDGE"] = os.path.abspath(args[i + 1])
        del args[i:i + 2]
    sys.argv[1:] = args
sys.path.insert(0, HERE)

from lbtest import BridgeTest, make_conf, seq_gaps, wait_until  # noqa: E402

RTU = "modbus-sim-rtu"
TCP = "modbus-sim-tcp"

# The emulator's register map (drivers/modbus/emulator.h): stream -> (quantity, unit, exact value)
CHANNELS = {
    "temperature": ("temperature", "°C", 21.5),
    "humidity": ("humidity", "%", 45.6),
    "pressure": ("pressure", "Pa", 101325),
    "light": ("light", "lx", 850),
    "dewpoint": ("temperature", "°C", -4.25),
    "wind": ("speed", "m/s", 3.75),
    "rain": ("precipitation", "mm", 12345.6),
    "setpoint": ("temperature", "°C", 22.5),
    "temp_trim": ("temperature", "°C", 1.25),
    "pressure_trim": ("pressure", "hPa", -2.0),
    "door": ("state", "", 1),     # a discrete input (a u8 stream of 0 and 1)
    "heater": ("running", "", 0),  # a coil
}
ORDER = ["temperature", "humidity", "pressure", "light", "dewpoint", "wind", "rain", "setpoint",
         "temp_trim", "pressure_trim", "door", "heater"]
BITS = ("door", "heater")


def stype(name):
    return "u8" if name in BITS else "f32"


def f32(x):
    """x as the f32 a stream carries."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def topic(dev, stream):
    return "sensor/%s/%s/" % (dev, stream)


def conf(raw=""):
    return make_conf({}, bridge={"emulate": "modbus"},
                     raw="[sim.idle]\nrate = 1\nautostart = 0\n" + raw)


def crc16(data):
    """CRC-16/MODBUS of bytes."""
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


class PtyUnit(threading.Thread):
    """A Modbus RTU unit written here in Python (not libmodbus) on a new pseudo-terminal: it
    answers read requests (functions 3 and 4) for its unit id from two dicts of registers, and
    exception 2 for any other register. Requests end with a silence of 5 ms."""

    def __init__(self, unit, inputs, holdings):
        super().__init__(daemon=True)
        self.unit, self.tables = unit, {4: inputs, 3: holdings}
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)  # kept open: no echo, and the port exists until close()
        self.path = os.ttyname(self.slave)
        self.requests = 0
        self.halt = threading.Event()

    def run(self):
        buf = b""
        while not self.halt.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.005 if buf else 0.05)
            if ready:
                try:
                    buf += os.read(self.master, 512)
                except OSError:
                    return
            elif buf:
                self.answer(buf)
                buf = b""

    def answer(self, f):
        if len(f) < 8 or crc16(f[:-2]) != f[-2] | f[-1] << 8 or f[0] != self.unit:
            return
        self.requests += 1
        fc = f[1]
        addr, n = struct.unpack(">HH", f[2:6])
        table = self.tables.get(fc)
        if table is None or any(a not in table for a in range(addr, addr + n)):
            rsp = bytes([self.unit, fc | 0x80, 2])
        else:
            rsp = bytes([self.unit, fc, 2 * n]) + struct.pack(
                ">%dH" % n, *(table[a] for a in range(addr, addr + n)))
        crc = crc16(rsp)
        os.write(self.master, rsp + bytes([crc & 0xFF, crc >> 8]))

    def close(self):
        """Pull the cable: the pseudo-terminal disappears."""
        self.halt.set()
        self.join(2)
        os.close(self.master)
        os.close(self.slave)


def is_event(m, event, dev):
    return (m.topic == "bridge/devices/" and m.data["event"] == event
            and m.data["device"]["id"] == dev)


class ModbusTest(BridgeTest):

    def devices(self, c):
        return {d["id"]: d for d in c.call("devices.list")}

    def start_lab(self, raw=""):
        d = self.start_bridge(conf(raw))
        c = self.client(d)
        wait_until(lambda: {RTU, TCP} <= set(self.devices(c)), timeout=10,
                   what="the two emulated Modbus sensors")
        return d, c

    def test_discovery_streams_and_values(self):
        d, c = self.start_lab()
        devs = self.devices(c)
        for dev in (RTU, TCP):
            info = devs[dev]
            self.assertEqual(info["driver"], "modbus")
            self.assertTrue(info["simulated"])
            self.assertEqual([s["name"] for s in info["streams"]], ORDER)
            for s in info["streams"]:
                q, unit, _ = CHANNELS[s["name"]]
                self.assertEqual((s["quantity"], s["unit"], s["type"]),
                                 (q, unit, stype(s["name"])), s)
                self.assertEqual(s["rate"], 2.0)  # the built-in period of 500 ms
            cfg = info["config"]
            self.assertEqual((cfg["link"], cfg["unit"], cfg["period_ms"]),
                             ("rtu" if dev == RTU else "tcp", 1, 500))
            self.assertEqual(cfg["channels"]["wind"],
                             "input 7 float32 order=cdab quantity=speed unit=m/s")
            self.assertEqual(info["limits"]["period_ms"], {"min": 10, "max": 3600000})
        self.assertEqual(devs[RTU]["config"]["parity"], "E")
        # integer channels announce the range of their type, scaled
        hum = [s for s in devs[TCP]["streams"] if s["name"] == "humidity"][0]
        self.assertAlmostEqual(hum["min"], -3276.8)
        self.assertAlmostEqual(hum["resolution"], 0.1)

        sub = self.subscriber(d, ["sensor/modbus-sim-"])
        want = {topic(dev, s) for dev in (RTU, TCP) for s in ORDER}
        msgs = sub.collect(until=lambda got: want <= {m.topic for m in got}, seconds=10)
        got = {}
        for m in msgs:
            got.setdefault(m.topic, []).append(m)
        self.assertEqual(want - set(got), set(), "every channel of both sensors streams")
        for t, ms in got.items():
            name = t.split("/")[2]
            q, unit, value = CHANNELS[name]
            for m in ms:
                h = m.header
                self.assertEqual((h["type"], h["count"], h["quantity"], h["unit"], h["sim"]),
                                 (stype(name), 1, q, unit, True))
                self.assertEqual(m.samples[0], f32(value), "%s decodes to %r" % (t, value))

    def test_settings_and_actions(self):
        d, c = self.start_lab()
        self.assertEqual(c.call("device.set", {"device": TCP, "key": "period_ms", "value": 100}),
                         100)
        self.assertError(c.error("device.set", {"device": TCP, "key": "period_ms", "value": 5}),
                         "invalid_params", -32602)
        self.assertError(c.error("device.set", {"device": TCP, "key": "period_ms",
                                                "value": 3600001}), "invalid_params", -32602)
        self.assertEqual(c.call("device.set", {"device": TCP, "key": "timeout_ms", "value": 250}),
                         250)
        self.assertError(c.error("device.set", {"device": TCP, "key": "baud", "value": 9600}),
                         "not_supported", 1005)
        sub = self.subscriber(d, [topic(TCP, "temperature")])
        m = sub.wait_for(lambda m: m.header["rate"] == 10, what="the new rate in the headers")
        msgs = sub.collect(count=10, seconds=5)
        self.assertEqual(len(msgs), 10, "10 samples/s at 100 ms")
        self.assertEqual(seq_gaps([m] + msgs), [])
        # raw registers, and writing a holding channel through its map
        self.assertEqual(c.call("device.call", {"device": RTU, "action": "read",
                                                "args": {"table": "input", "address": 0,
                                                         "count": 3}}), [0x41AC, 0, 456])
        self.assertAlmostEqual(c.call("device.call", {"device": RTU, "action": "write", "args": {
            "channel": "setpoint", "value": 23.44}}), 23.4, places=6)
        self.assertEqual(c.call("device.call", {"device": RTU, "action": "read", "args": {
            "table": "holding", "address": 100}}), [234])
        sub2 = self.subscriber(d, [topic(RTU, "setpoint")])
        sub2.wait_for(lambda m: m.samples[0] == f32(23.4), what="the written setpoint")
        self.assertAlmostEqual(c.call("device.call", {"device": RTU, "action": "write", "args": {
            "channel": "temp_trim", "value": -0.5}}), -0.5)
        # the heater's coil: written with function 5, read back as a bit and on its stream
        self.assertEqual(c.call("device.call", {"device": RTU, "action": "write", "args": {
            "channel": "heater", "value": True}}), 1)
        self.assertEqual(c.call("device.call", {"device": RTU, "action": "read", "args": {
            "table": "coil", "address": 0}}), [1])
        sub3 = self.subscriber(d, [topic(RTU, "heater")])
        sub3.wait_for(lambda m: m.samples == (1,), what="the heater on")
        wait_until(lambda: c.call("device.info", {"device": RTU})["config"]["values"]["heater"]
                   == 1, what="the heater on in device.info")
        self.assertEqual(c.call("device.call", {"device": RTU, "action": "read", "args": {
            "table": "discrete", "address": 0}}), [1])
        err = c.error("device.call", {"device": RTU, "action": "write",
                                      "args": {"channel": "door", "value": 0}})
        self.assertIn("discrete input: read-only", err["message"])
        err = c.error("device.call", {"device": RTU, "action": "write",
                                      "args": {"channel": "temperature", "value": 1}})
        self.assertError(err, "invalid_params", -32602)
        self.assertIn("read-only", err["message"])
        err = c.error("device.call", {"device": RTU, "action": "write",
                                      "args": {"channel": "setpoint", "value": 7000}})
        self.assertIn("out of range", err["message"])
        err = c.error("device.call", {"device": RTU, "action": "read",
                                      "args": {"table": "input", "address": 200}})
        self.assertError(err, "device_error", 1004)
        self.assertIn("exception 2", err["message"])
        self.assertError(c.error("device.call", {"device": RTU, "action": "fly"}),
                         "not_supported", 1005)

    def test_exception_skips_the_channel_only(self):
        d, c = self.start_lab()
        sub = self.subscriber(d, ["sensor/%s/" % TCP])
        hum, temp = topic(TCP, "humidity"), topic(TCP, "temperature")
        sub.wait_for(lambda m: m.topic == hum, what="a humidity sample")
        c.call("modbus.emulator", {"fault": "exception", "link": "tcp"})  # register 2: humidity
        wait_until(lambda: "channel 'humidity' (input register 2, int16): the device answered "
                   "exception 2" in d.stderr(), timeout=5, what="a warning naming the channel")
        # clients see it too: an error event on the stream, and the error in device.info
        ev = sub.wait_for(lambda m: m.topic == hum and m.header["type"] == "json", timeout=5,
                          what="the error event on the humidity stream")
        err = {"code": "illegal_data_address",
               "message": "unit 1 refused input register 2 (exception 2: illegal data address)"}
        self.assertEqual(ev.data, dict(event="error", **err))
        streams = {s["name"]: s for s in c.call("device.info", {"device": TCP})["streams"]}
        self.assertEqual(streams["humidity"]["error"], err)
        self.assertEqual([n for n, s in streams.items() if "error" in s], ["humidity"])
        # from now on only humidity is skipped: the other channels of the group keep flowing
        sub.collect(until=lambda got: sum(m.topic == temp for m in got) >= 2, seconds=5)
        snap = {s["topic"]: s for s in c.call("snapshot", {"prefix": hum})["streams"]}
        h0 = snap[hum]["seq"]
        msgs = sub.collect(until=lambda got: sum(m.topic == temp for m in got) >= 3, seconds=5)
        self.assertGreaterEqual(sum(m.topic == temp for m in msgs), 3)
        self.assertGreaterEqual(sum(m.topic == topic(TCP, "pressure") for m in msgs), 2)
        self.assertGreaterEqual(sum(m.topic == topic(TCP, "setpoint") for m in msgs), 2)
        self.assertEqual([m.header["seq"] for m in msgs if m.topic == hum and
                          m.header["seq"] > h0], [], "no humidity sample during the exception")
        self.assertEqual(seq_gaps(msgs), [])
        self.assertIn(TCP, self.devices(c), "the device stays")
        self.assertGreater(c.call("device.get", {"device": TCP, "key": "stats"})["exceptions"], 0)
        # the RTU sensor was not touched
        self.assertNotIn("device %s: channel 'humidity'" % RTU, d.stderr())
        c.call("modbus.emulator", {"fault": "ok", "link": "tcp"})
        m = sub.wait_for(lambda m: m.topic == hum, timeout=5, what="humidity again")
        self.assertEqual(m.header["seq"], h0 + 1, "a skipped sample is not a fake seq gap")
        self.assertEqual(m.samples[0], f32(45.6))
        wait_until(lambda: "channel 'humidity' reads again" in d.stderr(), what="the recovery")
        wait_until(lambda: "error" not in {s["name"]: s for s in c.call(
            "device.info", {"device": TCP})["streams"]}["humidity"], what="the error cleared")

    def test_garbage_on_the_line(self):
        d, c = self.start_lab()
        sub = self.subscriber(d, ["sensor/modbus-sim-"])
        c.call("modbus.emulator", {"fault": "garbage"})
        wait_until(lambda: all("device %s: bad answer" % dev in d.stderr() for dev in (RTU, TCP)),
                   timeout=10, what="warnings about bad answers on both links")
        self.assertIn("Invalid CRC", d.stderr())  # RTU
        self.assertIn("Invalid data", d.stderr())  # TCP: another transaction id
        temps = (topic(RTU, "temperature"), topic(TCP, "temperature"))
        msgs = sub.collect(until=lambda got: all(sum(m.topic == t for m in got) >= 4
                                                 for t in temps), seconds=15)
        for t in temps:
            self.assertGreaterEqual(sum(m.topic == t for m in msgs), 4, "%s keeps flowing" % t)
        for m in msgs:  # a corrupted answer never becomes a value
            self.assertEqual(m.samples[0], f32(CHANNELS[m.topic.split("/")[2]][2]), m)
        self.assertEqual(seq_gaps(msgs), [])
        for dev in (RTU, TCP):
            self.assertGreater(c.call("device.get", {"device": dev,
                                                     "key": "stats"})["bad_answers"], 0)
        c.call("modbus.emulator", {"fault": "ok"})
        self.assertTrue(c.call("bridge.info"))

    def test_silent_device_is_removed_then_comes_back(self):
        d, c = self.start_lab()
        t = topic(RTU, "temperature")
        sub = self.subscriber(d, ["bridge/devices/", t, topic(TCP, "temperature")])
        before = [sub.wait_for(lambda m: m.topic == t, what="a sample")]
        c.call("modbus.emulator", {"fault": "silent", "link": "rtu"})
        sub.wait_for(lambda m: is_event(m, "removed", RTU), timeout=15, keep=before,
                     what="the silent sensor removed")
        last = max(m.header["seq"] for m in before if m.topic == t)
        self.assertIn("device %s stopped answering: 5 requests in a row without an answer"
                      % RTU, d.stderr())
        self.assertNotIn(RTU, self.devices(c))
        self.assertIn(TCP, self.devices(c), "the other sensor stays")
        self.assertError(c.error("device.get", {"device": RTU}), "unknown_device", 1001)
        # while silent, every scan tries it again: open fails, once in the log
        wait_until(lambda: "device %s: cannot open: no answer from unit 1" % RTU in d.stderr(),
                   timeout=10, what="a clear open failure")
        c.call("modbus.emulator", {"fault": "ok", "link": "rtu"})
        sub.wait_for(lambda m: is_event(m, "added", RTU), timeout=10, what="added again")
        m = sub.wait_for(lambda m: m.topic == t, what="samples again")
        self.assertEqual(m.header["seq"], last + 1, "seq continues where it stopped")
        self.assertEqual(d.stderr().count("device %s: cannot open: no answer" % RTU), 1)

    def test_unplug_and_replug(self):
        d, c = self.start_lab()
        t = topic(TCP, "pressure")
        sub = self.subscriber(d, ["bridge/devices/", t])
        before = [sub.wait_for(lambda m: m.topic == t, what="a sample")]
        c.call("modbus.emulator", {"fault": "unplug", "link": "tcp"})
        sub.wait_for(lambda m: is_event(m, "removed", TCP), timeout=5, keep=before,
                     what="removed")
        last = max(m.header["seq"] for m in before if m.topic == t)
        self.assertNotIn(TCP, self.devices(c))
        self.assertIn(RTU, self.devices(c))
        self.assertError(c.error("modbus.emulator", {"fault": "silent", "link": "tcp"}),
                         "unknown_device", 1001)
        c.call("modbus.emulator", {"fault": "plug", "link": "tcp"})
        sub.wait_for(lambda m: is_event(m, "added", TCP), timeout=10, what="added again")
        m = sub.wait_for(lambda m: m.topic == t, what="samples again")
        self.assertEqual(m.header["seq"], last + 1)
        self.assertEqual(m.samples[0], 101325.0)

    def test_emulator_method_checks(self):
        d, c = self.start_lab()
        self.assertError(c.error("modbus.emulator", {"fault": "melt"}), "invalid_params", -32602)
        self.assertError(c.error("modbus.emulator", {"fault": "ok", "link": "usb"}),
                         "invalid_params", -32602)
        self.assertError(c.error("modbus.emulator", {"fault": "ok", "colour": 1}),
                         "invalid_params", -32602)
        self.assertError(c.error("modbus.nothing", {}), "method_not_found", -32601)
        c.call("session.hello", {"role": "student"})
        self.assertError(c.error("modbus.emulator", {"fault": "ok"}), "forbidden", 1002)

    def test_bad_register_map_names_file_and_line(self):
        raw = ("[modbus.bad]\n"
               "tcp = 127.0.0.1:9\n"
               "channel.ok = input 0 int16\n"
               "channel.t = input 3 flaot32 scale=0.1\n"
               "[modbus.nolink]\n"
               "channel.x = input 0 uint16\n"
               "[modbus.typo]\n"
               "tcp = 127.0.0.1:9\n"
               "peroid_ms = 100\n"
               "channel.x = holding 1 int32 order=ab\n")
        d, c = self.start_lab(raw)
        with open(d.conf_path, encoding="utf-8") as f:
            text = f.read().splitlines()
        line = text.index("channel.t = input 3 flaot32 scale=0.1") + 1
        typo = text.index("peroid_ms = 100") + 1
        nolink = text.index("[modbus.nolink]") + 1
        err = wait_until(lambda: "modbus-typo: cannot open" in d.stderr() and d.stderr(),
                         what="the configuration errors")
        self.assertIn("device modbus-bad: cannot open: %s:%d: [modbus.bad] channel.t: unknown "
                      "type 'flaot32' (expected int16, uint16, int32, uint32, float32, or bool "
                      "for coils and discrete inputs)"
                      % (d.conf_path, line), err)
        self.assertIn("device modbus-nolink: cannot open: %s:%d: [modbus.nolink] needs tcp = "
                      "HOST:PORT (Modbus TCP) or port = /dev/ttyUSB0" % (d.conf_path, nolink),
                      err)
        self.assertIn("%s:%d: [modbus.typo] peroid_ms: unknown key" % (d.conf_path, typo), err)
        devs = self.devices(c)
        self.assertFalse({"modbus-bad", "modbus-nolink", "modbus-typo"} & set(devs))
        self.assertIn("sim-idle", devs)
        # the bridge goes on with the other devices; the failure is logged once, not at every
        # rescan (every 2 s): 6 samples at 2/s see at least one rescan
        sub = self.subscriber(d, [topic(TCP, "light")])
        msgs = sub.collect(count=6, seconds=10)
        self.assertEqual([m.samples[0] for m in msgs], [850.0] * 6)
        self.assertEqual(d.stderr().count("device modbus-bad: cannot open"), 1)

    def test_configured_rtu_unit_on_a_pty(self):
        # a [modbus.NAME] section as a teacher writes it, for a unit that is not the emulator
        unit = PtyUnit(7, {3: 0x8000, 4: 0x4422},         # 650.0f, low word first
                       {0x10: 0x15CD, 0x11: 0x5B07})      # 123456789, little-endian
        unit.start()
        self.addCleanup(lambda: unit.is_alive() and unit.close())
        raw = ("[modbus.lab]\nport = %s\nbaud = 9600\nparity = N\nunit = 7\nperiod_ms = 100\n"
               "title = Greenhouse probe\n"
               "channel.t = input 3 float32 order=cdab scale=0.1 offset=-40 quantity=temperature "
               "unit=°C\n"
               "channel.count = holding 0x10 uint32 order=dcba period=300\n" % unit.path)
        d = self.start_bridge(make_conf({}, bridge={"emulate": "none"},
                                        raw="[sim.idle]\nrate = 1\nautostart = 0\n" + raw))
        c = self.client(d)
        dev = wait_until(lambda: self.devices(c).get("modbus-lab"), what="the configured unit")
        self.assertEqual((dev["name"], dev["simulated"]), ("Greenhouse probe", False))
        self.assertEqual({k: dev["config"][k] for k in ("port", "baud", "parity", "unit")},
                         {"port": unit.path, "baud": 9600, "parity": "N", "unit": 7})
        rates = {s["name"]: s["rate"] for s in dev["streams"]}
        self.assertEqual(rates["t"], 10.0)
        self.assertAlmostEqual(rates["count"], 1000 / 300)
        sub = self.subscriber(d, ["sensor/modbus-lab/", "bridge/devices/"])
        msgs = sub.collect(until=lambda got: sum(m.topic.endswith("/count/") for m in got) >= 3,
                           seconds=5)
        t = [m for m in msgs if m.topic == "sensor/modbus-lab/t/"]
        self.assertGreaterEqual(len(t), 6, "10 samples/s against 3/s for count")
        self.assertTrue(all(m.samples[0] == 25.0 for m in t), t[:3])  # 650 * 0.1 - 40
        self.assertTrue(all(m.samples[0] == f32(123456789) for m in msgs
                            if m.topic == "sensor/modbus-lab/count/"))
        self.assertEqual(seq_gaps(msgs), [])
        unit.close()
        sub.wait_for(lambda m: is_event(m, "removed", "modbus-lab"), timeout=5, what="removed")
        self.assertIn("device modbus-lab: lost the link to %s" % unit.path, d.stderr())
        self.assertNotIn("modbus-lab", self.devices(c))

    def test_unreachable_tcp_unit_is_a_clear_error(self):
        d, c = self.start_lab("[modbus.far]\ntcp = 127.0.0.1:9\nchannel.t = input 0 int16\n")
        wait_until(lambda: "device modbus-far: cannot open: cannot connect to 127.0.0.1:9: "
                   "Connection refused" in d.stderr(), what="a connection error")
        self.assertNotIn("modbus-far", self.devices(c))


if __name__ == "__main__":
    import unittest
    unittest.main()
