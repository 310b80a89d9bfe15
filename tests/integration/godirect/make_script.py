#!/usr/bin/python3
"""make_script.py - an emulated Vernier Go Direct (GDX-FOR) for umockdev: the device descriptions
(gdx.umockdev, gdx-ctrl.umockdev) and the usbdevfs ioctl scripts (gdx.ioctl, gdx-unplug.ioctl,
gdx-ctrl.ioctl) of sessions with the labbridge driver.

    tests/integration/godirect/make_script.py [--out DIR] [--corpus DIR] [--check]

umockdev-run replays the script to libusb: every output transfer the driver submits must equal the
next command of the script, byte for byte (rolling counter and checksum included), and every input
transfer gets the next input report of the script. The session, in the driver's order:

  open       INIT, GET_STATUS, GET_DEVICE_INFO (3 reports), GET_DEFAULT_MASK, GET_AVAILABLE_MASK,
             GET_SENSOR_INFO 1, 2, 3 (3 reports each)
  start      SET_PERIOD 100000 us, START sensors 1+2, then block 1: a start time, measurement
             packets (one spans two reports), a dropped-packet report (3 rows), a packet with a
             bad checksum (2 rows), more packets; then IDLE empty input transfers
  period_us  (device.set period_us 50000 while running) STOP, SET_PERIOD 50000, START, block 2,
             IDLE empty transfers
  stop       STOP

gdx-unplug.ioctl is the same up to block 1, then the next input transfer fails with ENODEV (the
sensor is unplugged): libusb says LIBUSB_ERROR_NO_DEVICE. When the bridge opens the device again,
the replay starts over (umockdev looks for the next matching transfer from the top).

gdx-ctrl.umockdev describes the same sensor without an interrupt OUT endpoint: the driver then
sends its output reports with HID SET_REPORT control transfers (as the kernel's usbhid and hidapi
do for such devices), and gdx-ctrl.ioctl has those control transfers in place of the OUT ones.
Which of the two a real Go Direct has is not documented: the driver takes whichever is there.

An empty input transfer is how the script says "nothing now": the replay cannot leave a transfer
pending, so the driver reads one every 20 ms while streaming and the IDLE ones give the test about
IDLE * 20 ms to send its next request before the replay would run past them.

The formats are written here again from godirect-py's (device.py struct layouts), independently of
protocols/godirect.c, so the replay also checks the C codec against a second implementation.
--corpus writes the fuzzer's seed corpus (tests/fuzz/corpus/godirect/); --check compares the files
in --out with what this script makes (exit status 1 if they differ).
"""
import argparse
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

VID, PID = 0x08F7, 0x0010
BUS, DEVNUM, PORT = 1, 2, 2
DEVNODE = "/dev/bus/usb/%03d/%03d" % (BUS, DEVNUM)
SYSFS = "/devices/pci0000:00/0000:00:14.0/usb%d/%d-%d" % (BUS, BUS, PORT)
EP_IN, EP_OUT = 0x81, 0x02
SERIAL = "0W2000E1"
ORDER_CODE = "GDX-FOR"
PRODUCT = "%s %s" % (ORDER_CODE, SERIAL)

URB_INTERRUPT = 1
IDLE = 1000  # empty input transfers after each block: 20 s at the driver's 20 ms

# sensors: number -> (description, units, min, max, uncertainty, typical period, exclusion mask)
SENSORS = {
    1: ("Force", "N", -50.0, 50.0, 0.05, 100000, 1 << 3),
    2: ("X-axis acceleration", "m/s\u00b2", -157.0, 157.0, 0.1, 100000, 0),
    3: ("Force (\u00b110 N range)", "N", -10.0, 10.0, 0.01, 100000, 1 << 1),
}
DEFAULT_MASK = (1 << 1) | (1 << 2)
AVAILABLE_MASK = (1 << 1) | (1 << 2) | (1 << 3)
START_TIME_US = 1700000000000000  # block 1's start time (us since 1970); block 2: + 10 s


def force(i):
    """Row i of sensor 1 (exact in float32)."""
    return -2.0 + 0.25 * i


def accel(i):
    """Row i of sensor 2 (exact in float32)."""
    return 9.75 - 0.125 * i


# block 1 at 100 ms: (kind, rows). "rows": a packet of those rows; "dropped": the device reports
# those rows lost; "bad": a packet of those rows whose checksum is wrong (the driver drops it).
BLOCK1 = [("start_time", START_TIME_US), ("rows", [0]), ("rows", [1, 2]),
          ("rows", list(range(3, 11))), ("dropped", [11, 12, 13]), ("rows", [14, 15]),
          ("bad", [16, 17]), ("rows", [18, 19, 20])]
BLOCK2 = [("start_time", START_TIME_US + 10000000), ("rows", [0, 1]), ("rows", [2, 3]),
          ("rows", [4, 5])]


# ---------------------------------------------------------------------------------- packets

def checksum(b):
    """Sum of every byte but byte 3, modulo 256 (godirect-py _GDX_calculate_checksum)."""
    return (sum(b) - b[3]) & 0xFF


def packet(kind, counter, cmd, payload=b""):
    b = bytearray([kind, 5 + len(payload), counter & 0xFF, 0, cmd]) + bytes(payload)
    assert len(b) <= 255
    b[3] = checksum(b)
    return bytes(b)


class Host:
    """The driver's side: commands with the rolling counter (reset to 0xFF by INIT, decremented
    before each packet)."""

    def __init__(self):
        self.counter = 0xFF

    def command(self, cmd, payload=b""):
        if cmd == 0x1A:
            self.counter = 0xFF
        self.counter = (self.counter - 1) & 0xFF
        return packet(0x58, self.counter, cmd, payload)


INIT = bytes([0xa5, 0x4a, 0x06, 0x49, 0x07, 0x48, 0x08, 0x47, 0x09, 0x46, 0x0a, 0x45, 0x0b, 0x44,
              0x0c, 0x43, 0x0d, 0x42, 0x0e, 0x41])


def set_period(us):
    return struct.pack("<bBQ", -1, 0, us)


def start(mask):
    return struct.pack("<bBIq", -1, 1, mask, 0)


STOP = struct.pack("<bBI", -1, 0, 0xFFFFFFFF)


class Device:
    """The device's side: replies echo the command at 4 and its counter at 5, payload from 6."""

    def __init__(self):
        self.counter = 0

    def _next(self):
        self.counter = (self.counter + 1) & 0xFF
        return self.counter

    def reply(self, cmd_packet, payload):
        return packet(0x58, self._next(), cmd_packet[4], bytes([cmd_packet[2]]) + payload)

    def normal(self, mask, rows):
        values = []
        for i in rows:
            values += [force(i), accel(i)]
        return packet(0x20, self._next(), 0x06,
                      struct.pack("<HBB", mask, len(rows), 0) +
                      struct.pack("<%df" % len(values), *values))

    def event(self, kind, value):
        if kind == 0x0D:
            return packet(0x20, self._next(), kind, struct.pack("<BI", 0, value))
        return packet(0x20, self._next(), kind, struct.pack("<BQ", 0, value))


def text(s, n):
    b = s.encode("utf-8")
    assert len(b) <= n
    return b + bytes(n - len(b))


def status_payload():
    # status, spare, fw 1.9.300, radio 2.1.7, battery 87 %, charger idle
    return struct.pack("<BBBBHBBHBB", 0, 0, 1, 9, 300, 2, 1, 7, 87, 0)


def device_info_payload():
    return (text(ORDER_CODE, 16) + text(SERIAL, 16) + text(PRODUCT, 32) +
            struct.pack("<HHBBBBHBBH", 1, 2023, 3, 14, 1, 9, 300, 2, 1, 7) +
            bytes([0x11, 0x22, 0x33, 0x44, 0x55, 0x66]) + struct.pack("<I", 4096) +
            text("Go Direct Force and Acceleration (emulated)", 64))


def sensor_info_payload(n):
    desc, units, lo, hi, unc, typ, excl = SENSORS[n]
    return (struct.pack("<bBIBB", n, 0, 5000 + n, 0, 0) + text(desc, 60) + text(units, 32) +
            struct.pack("<dddIQIII", unc, lo, hi, 1000, 3600000000, typ, 1000, excl))


def reports(pkt):
    """The 64-byte reports of a packet: [n, up to 63 bytes, zero padding]."""
    out = []
    for off in range(0, len(pkt), 63):
        chunk = pkt[off:off + 63]
        out.append(bytes([len(chunk)]) + chunk + bytes(63 - len(chunk)))
    return out


# ---------------------------------------------------------------------------------- session

def session(unplug=False):
    """[(direction, report)] in order: ("out", report), ("in", report), ("idle", None) and, with
    unplug, ("gone", None) after block 1 instead of the rest."""
    host, dev = Host(), Device()
    steps = []

    def exchange(cmd, payload, reply_payload):
        c = host.command(cmd, payload)
        steps.extend(("out", r) for r in reports(c))
        steps.extend(("in", r) for r in reports(dev.reply(c, reply_payload)))

    def block(items, mask, end="idle"):
        for kind, arg in items:
            if kind == "start_time":
                pkts = [dev.event(0x0C, arg)]
            elif kind == "dropped":
                pkts = [dev.event(0x0D, len(arg))]
            elif kind == "rows":
                pkts = [dev.normal(mask, arg)]
            else:  # "bad": a wrong checksum
                p = bytearray(dev.normal(mask, arg))
                p[3] ^= 0x5A
                pkts = [bytes(p)]
            for p in pkts:
                steps.extend(("in", r) for r in reports(p))
        steps.extend([("idle", None)] * IDLE if end == "idle" else [("gone", None)])

    exchange(0x1A, INIT, b"\x00")
    exchange(0x10, b"", status_payload())
    exchange(0x55, b"", device_info_payload())
    exchange(0x56, b"", struct.pack("<I", DEFAULT_MASK))
    exchange(0x51, b"", struct.pack("<I", AVAILABLE_MASK))
    for n in sorted(SENSORS):
        exchange(0x50, bytes([n]), sensor_info_payload(n))
    # device.start
    exchange(0x1B, set_period(100000), b"\x00")
    exchange(0x18, start(DEFAULT_MASK), b"\x00")
    if unplug:
        block(BLOCK1, DEFAULT_MASK, end="gone")
        return steps
    block(BLOCK1, DEFAULT_MASK)
    # device.set period_us 50000 while running: stop, period, start
    exchange(0x19, STOP, b"\x00")
    exchange(0x1B, set_period(50000), b"\x00")
    exchange(0x18, start(DEFAULT_MASK), b"\x00")
    block(BLOCK2, DEFAULT_MASK)
    # device.stop
    exchange(0x19, STOP, b"\x00")
    return steps


SET_REPORT = struct.pack("<BBHHH", 0x21, 0x09, 0x0200, 0, 64)  # output report 0, interface 0


def ioctl_script(unplug=False, control=False):
    """The usbdevfs ioctl tree (umockdev's text format), one flat sequence. With control, output
    reports go as SET_REPORT control transfers (URB type 2, endpoint 0: setup + report)."""
    lines = ["@DEV %s" % DEVNODE,
             "# Vernier Go Direct %s: one labbridge session%s%s, made by make_script.py" %
             (PRODUCT, ", unplugged after block 1" if unplug else "",
              ", commands by SET_REPORT" if control else ""),
             "# URB lines: type endpoint status flags buffer_length actual_length error_count data",
             "USBDEVFS_GET_CAPABILITIES 0 0F000000"]
    for direction, rep in session(unplug):
        if direction == "out" and control:
            lines.append("USBDEVFS_REAPURBNDELAY 0 2 0 0 0 72 64 0 %s" %
                         (SET_REPORT + rep).hex().upper())
        elif direction == "out":
            lines.append("USBDEVFS_REAPURBNDELAY 0 %d %d 0 0 64 64 0 %s" %
                         (URB_INTERRUPT, EP_OUT, rep.hex().upper()))
        elif direction == "in":
            lines.append("USBDEVFS_REAPURBNDELAY 0 %d %d 0 0 64 64 0 %s" %
                         (URB_INTERRUPT, EP_IN, rep.hex().upper()))
        elif direction == "idle":
            lines.append("USBDEVFS_REAPURBNDELAY 0 %d %d 0 0 64 0 0 " % (URB_INTERRUPT, EP_IN))
        else:  # unplugged: the URB ends with -ENODEV
            lines.append("USBDEVFS_REAPURBNDELAY 0 %d %d -19 0 64 0 0 " % (URB_INTERRUPT, EP_IN))
    return "\n".join(lines) + "\n"


def descriptors(out_endpoint=True):
    """Device and configuration descriptors: one HID interface, interrupt IN 0x81 and (unless
    out_endpoint is false) OUT 0x02."""
    device = struct.pack("<BBHBBBBHHHBBBB", 18, 1, 0x0200, 0, 0, 0, 64, VID, PID, 0x0100, 1, 2, 3,
                         1)
    interface = struct.pack("<BBBBBBBBB", 9, 4, 0, 0, 2 if out_endpoint else 1, 3, 0, 0, 0)
    hid = struct.pack("<BBHBBBH", 9, 0x21, 0x0111, 0, 1, 0x22, 34)
    ep_in = struct.pack("<BBBBHB", 7, 5, EP_IN, 3, 64, 1)
    ep_out = struct.pack("<BBBBHB", 7, 5, EP_OUT, 3, 64, 1)
    body = interface + hid + ep_in + (ep_out if out_endpoint else b"")
    config = struct.pack("<BBHBBBBB", 9, 2, 9 + len(body), 1, 1, 0, 0x80, 50) + body
    return (device + config).hex().upper()


def umockdev_record(out_endpoint=True):
    """The sysfs/udev description, as umockdev-record writes it for a USB device."""
    d = descriptors(out_endpoint)
    name = "%d-%d" % (BUS, PORT)
    return "\n".join([
        "P: %s" % SYSFS,
        "N: bus/usb/%03d/%03d=%s" % (BUS, DEVNUM, d),
        "E: BUSNUM=%03d" % BUS,
        "E: DEVNAME=%s" % DEVNODE,
        "E: DEVNUM=%03d" % DEVNUM,
        "E: DEVTYPE=usb_device",
        "E: DRIVER=usb",
        "E: ID_BUS=usb",
        "E: ID_MODEL=%s" % PRODUCT.replace(" ", "_"),
        "E: ID_MODEL_ID=%04x" % PID,
        "E: ID_SERIAL=Vernier_%s" % PRODUCT.replace(" ", "_"),
        "E: ID_SERIAL_SHORT=%s" % SERIAL,
        "E: ID_USB_INTERFACES=:030000:",
        "E: ID_VENDOR=Vernier",
        "E: ID_VENDOR_ID=%04x" % VID,
        "E: LABBRIDGE=vernier",
        "E: MAJOR=189",
        "E: MINOR=%d" % ((BUS - 1) * 128 + DEVNUM - 1),
        "E: PRODUCT=%x/%x/100" % (VID, PID),
        "E: SUBSYSTEM=usb",
        "E: TYPE=0/0/0",
        "A: authorized=1",
        "A: bConfigurationValue=1",
        "A: bDeviceClass=00",
        "A: bDeviceProtocol=00",
        "A: bDeviceSubClass=00",
        "A: bMaxPacketSize0=64",
        "A: bMaxPower=100mA",
        "A: bNumConfigurations=1",
        "A: bNumInterfaces= 1",
        "A: bcdDevice=0100",
        "A: bmAttributes=80",
        "A: busnum=%d\\n" % BUS,
        "H: descriptors=%s" % d,
        "A: dev=189:%d" % ((BUS - 1) * 128 + DEVNUM - 1),
        "A: devnum=%d\\n" % DEVNUM,
        "A: devpath=%d" % PORT,
        "A: idProduct=%04x" % PID,
        "A: idVendor=%04x" % VID,
        "A: manufacturer=Vernier",
        "A: maxchild=0",
        "A: product=%s" % PRODUCT,
        "A: serial=%s" % SERIAL,
        "A: speed=12",
        "A: version= 2.00",
        "",
        "P: %s/%s:1.0" % (SYSFS, name),
        "E: DEVTYPE=usb_interface",
        "E: DRIVER=usbhid",
        "E: INTERFACE=3/0/0",
        "E: MODALIAS=usb:v%04Xp%04Xd0100dc00dsc00dp00ic03isc00ip00in00" % (VID, PID),
        "E: PRODUCT=%x/%x/100" % (VID, PID),
        "E: SUBSYSTEM=usb",
        "E: TYPE=0/0/0",
        "A: bAlternateSetting= 0",
        "A: bInterfaceClass=03",
        "A: bInterfaceNumber=00",
        "A: bInterfaceProtocol=00",
        "A: bInterfaceSubClass=00",
        "A: bNumEndpoints=%02d" % (2 if out_endpoint else 1),
        "",
    ]) + "\n"


# ---------------------------------------------------------------------------------- fuzz seeds

def corpus():
    """{name: bytes}: report streams (64-byte reports) for tests/fuzz/corpus/godirect/."""
    host, dev = Host(), Device()
    seeds = {}

    def stream(*pkts):
        return b"".join(r for p in pkts for r in reports(p))

    init = host.command(0x1A, INIT)
    seeds["reply_init"] = stream(dev.reply(init, b"\x00"))
    seeds["reply_status"] = stream(dev.reply(host.command(0x10), status_payload()))
    seeds["reply_device_info"] = stream(dev.reply(host.command(0x55), device_info_payload()))
    seeds["reply_masks"] = stream(dev.reply(host.command(0x56), struct.pack("<I", DEFAULT_MASK)),
                                  dev.reply(host.command(0x51), struct.pack("<I", AVAILABLE_MASK)))
    seeds["reply_sensor_info"] = stream(dev.reply(host.command(0x50, b"\x02"),
                                                  sensor_info_payload(2)))
    seeds["normal"] = stream(dev.normal(DEFAULT_MASK, [0]), dev.normal(DEFAULT_MASK, [1, 2]))
    seeds["normal_two_reports"] = stream(dev.normal(DEFAULT_MASK, list(range(8))))
    wide = struct.pack("<IBB", 0x80000001, 2, 0) + struct.pack("<4f", 1.0, 2.0, 3.0, 4.0)
    seeds["wide"] = stream(packet(0x20, 7, 0x07, wide))
    single = b"".join(packet(0x20, 8, t, struct.pack("<BBB", 0, 3, 2) + struct.pack("<2f", 0.5,
                                                                                     -0.5))
                      for t in (0x08, 0x0A))
    ints = b"".join(packet(0x20, 9, t, struct.pack("<BBB", 0, 4, 2) + struct.pack("<2i", -3, 7))
                    for t in (0x09, 0x0B))
    seeds["single_aperiodic"] = stream(*[single[:single[1]], single[single[1]:]])
    seeds["int32"] = stream(*[ints[:ints[1]], ints[ints[1]:]])
    seeds["events"] = stream(dev.event(0x0C, START_TIME_US), dev.event(0x0D, 3),
                             dev.event(0x0E, 50000))
    bad = bytearray(dev.normal(DEFAULT_MASK, [5]))
    bad[3] ^= 0x5A
    seeds["bad_checksum"] = stream(bytes(bad))
    two = dev.normal(DEFAULT_MASK, [0]) + dev.event(0x0D, 1)
    seeds["two_in_one_report"] = bytes([len(two)]) + two + bytes(63 - len(two))
    seeds["garbage"] = bytes([4, 0x20, 2, 0, 0]) + bytes(range(59)) + bytes([0]) * 64
    return seeds


# ---------------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=HERE, help="where the five files go (default: here)")
    ap.add_argument("--corpus", help="also write the fuzzer's seed corpus into this directory")
    ap.add_argument("--check", action="store_true",
                    help="compare the files in --out instead of writing them")
    args = ap.parse_args()
    files = {"gdx.umockdev": umockdev_record(), "gdx.ioctl": ioctl_script(),
             "gdx-unplug.ioctl": ioctl_script(unplug=True),
             "gdx-ctrl.umockdev": umockdev_record(out_endpoint=False),
             "gdx-ctrl.ioctl": ioctl_script(control=True)}
    if args.check:
        stale = [n for n, t in files.items()
                 if not os.path.exists(os.path.join(args.out, n)) or
                 open(os.path.join(args.out, n), encoding="utf-8").read() != t]
        if stale:
            print("make_script.py: %s differ from what the script makes: run %s" %
                  (", ".join(stale), sys.argv[0]), file=sys.stderr)
            return 1
        return 0
    os.makedirs(args.out, exist_ok=True)
    for n, t in files.items():
        with open(os.path.join(args.out, n), "w", encoding="utf-8") as f:
            f.write(t)
    if args.corpus:
        os.makedirs(args.corpus, exist_ok=True)
        for n, b in corpus().items():
            with open(os.path.join(args.corpus, n), "wb") as f:
                f.write(b)
    return 0


if __name__ == "__main__":
    sys.exit(main())
