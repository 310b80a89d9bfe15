#!/usr/bin/python3
"""A live preview of a scan as it arrives: the scanner's image bands (scanner/<id>/image) put
together into a small PNG, rewritten as the rows come in (the part not scanned yet is grey).

    make run                                              # terminal 1: the simulated lab
    examples/python/scan_preview.py preview.png --scan    # terminal 2: start a scan and watch it
    examples/python/scan_preview.py preview.png           # or watch the next scan anyone starts

Needs pyzmq (Debian: python3-zmq) and nothing else: the PNG is written with zlib and struct.
LABBRIDGE_PUB / LABBRIDGE_RPC override the endpoints (tcp://127.0.0.1:5555 and :5556). Each band
is a binary frame: a 32-byte header ("LBSB", version, format 0 grey / 1 RGB, depth 1/8/16, flags
(1: the page's last band), width, height (-1 unknown), first row, rows, bytes per line, page)
then the rows. Exits 0 once the first page is complete. Format: bridge/PROTOCOL.md, Scanners.
"""
import argparse, json, os, struct, sys, time, zlib
import zmq

import labbridge_net

HDR = struct.Struct("<4sBBBBIiIIII")

ap = argparse.ArgumentParser(description="Preview a scan as it arrives, as a PNG.")
ap.add_argument("output", help="the PNG to write")
ap.add_argument("--scanner", help="a scanner id (default: the first document scanner)")
ap.add_argument("--width", type=int, default=200, help="preview width in pixels (default 200)")
ap.add_argument("--scan", action="store_true", help="start a scan (A4 colour, 50 dpi) as well")
ap.add_argument("--timeout", type=float, default=60, help="seconds to wait for the page")
labbridge_net.add_options(ap)
args = ap.parse_args()

ctx = zmq.Context()
rpc = ctx.socket(zmq.DEALER)
rpc.setsockopt(zmq.LINGER, 0)
labbridge_net.connect(rpc, "rpc")
sub = ctx.socket(zmq.SUB)
sub.setsockopt(zmq.LINGER, 0)
sub.setsockopt(zmq.RCVHWM, 100000)  # a page's bands may come faster than we draw
labbridge_net.connect(sub, "pub")


def call(method, params=None):
    rpc.send(json.dumps({"id": 1, "method": method, "params": params or {}}).encode())
    if not rpc.poll(10000):
        sys.exit("no answer from labbridge: is it running (make run)?")
    r = json.loads(rpc.recv())
    if "error" in r:
        sys.exit("%s: %s" % (method, r["error"]["message"]))
    return r["result"]


def write_png(path, width, height, channels, rows):
    """A PNG of 8-bit grey or RGB rows (bytes each), written whole then renamed."""
    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body +
                struct.pack(">I", zlib.crc32(kind + body) & 0xffffffff))
    raw = b"".join(b"\0" + r for r in rows)  # filter type 0 on each row
    png = (b"\x89PNG\r\n\x1a\n" +
           chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8,
                                      2 if channels == 3 else 0, 0, 0, 0)) +
           chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))
    with open(path + ".part", "wb") as f:
        f.write(png)
    os.replace(path + ".part", path)


def samples(row, fmt, depth, width):
    """One scanned row as 8-bit samples (grey: one per pixel, RGB: three)."""
    n = width * (3 if fmt == 1 else 1)
    if depth == 8:
        return row[:n]
    if depth == 16:  # host byte order (little-endian here): the high byte is the odd one
        return row[1:2 * n:2]
    return bytes(0 if row[i // 8] >> (7 - i % 8) & 1 else 255 for i in range(n))  # 1 = black


scanners = [d["id"] for d in call("devices.list") if d["kind"] == "scanner"]
scanner = args.scanner or (scanners[0] if scanners else None)
if not scanner:
    sys.exit("no document scanner is connected")
sub.subscribe("scanner/%s/image/" % scanner)
sub.subscribe("bridge/heartbeat/")
# the subscription is in place once the bridge's heartbeat arrives through it
deadline = time.monotonic() + 10
while not (sub.poll(500) and sub.recv_multipart()[0] == b"bridge/heartbeat/"):
    if time.monotonic() > deadline:
        sys.exit("no heartbeat from labbridge")
if args.scan:
    job = call("scan.submit", {"device": scanner, "format": "png", "label": "preview",
                               "settings": {"page": "A4", "mode": "color", "resolution": 50,
                                            "test-picture": "Color pattern"}
                               if scanner.startswith("sane-test") else
                               {"page": "A4", "mode": "color", "resolution": 50}})
    print("job %d on %s" % (job["id"], scanner), flush=True)

preview = None  # [rows] of the preview, once the page's shape is known
written, deadline = 0, time.monotonic() + args.timeout
while time.monotonic() < deadline:
    if not sub.poll(200):
        continue
    frames = sub.recv_multipart()
    if frames[0] == b"bridge/heartbeat/" or len(frames) < 3:
        continue
    raw = frames[2]
    magic, ver, fmt, depth, flags, width, height, first, rows, bpl, page = HDR.unpack_from(raw)
    if magic != b"LBSB" or ver != 1 or page != 0:
        continue  # only the first page (a feeder's next sheets come with page 1, 2...)
    if preview is None:
        if height < 0:
            sys.exit("this scanner does not say the page's height: no preview")
        scale = max(1, -(-width // args.width))  # one preview pixel per scale x scale pixels
        ch = 3 if fmt == 1 else 1
        pw, ph = -(-width // scale), -(-height // scale)
        preview = [bytes([128] * (pw * ch))] * ph
        sums, counts = [[0] * (pw * ch) for _ in range(ph)], [0] * ph
        print("page %d x %d, preview %d x %d" % (width, height, pw, ph), flush=True)
    for k in range(rows):  # each preview pixel: the mean of its scale x scale scanned ones
        y = first + k
        s = samples(raw[HDR.size + k * bpl:HDR.size + (k + 1) * bpl], fmt, depth, width)
        acc, py = sums[y // scale], y // scale
        for i, x0 in enumerate(range(0, width, scale)):
            for c in range(ch):
                acc[i * ch + c] += sum(s[x * ch + c] for x in range(x0, min(width, x0 + scale)))
        counts[py] += 1  # scanned rows in this preview row so far
        n = [counts[py] * min(scale, width - x0) for x0 in range(0, width, scale)]
        preview[py] = bytes(acc[j] // n[j // ch] for j in range(pw * ch))
    if flags & 1 or time.monotonic() - written > 0.5:  # the end of the page, or twice a second
        write_png(args.output, pw, ph, ch, preview)
        written = time.monotonic()
    if flags & 1:
        print("page complete: %s" % args.output)
        sys.exit(0)
sys.exit("the page did not arrive within %.0f s" % args.timeout)
