#!/usr/bin/python3
"""Scan to a PDF through the classroom's scanner: an A3 sheet on the glass, or every sheet of the
document feeder in one PDF.

    make run                                              # terminal 1: the simulated lab
    examples/python/scan_to_pdf.py poster.pdf             # terminal 2: A3 colour, 150 dpi
    examples/python/scan_to_pdf.py copies.pdf --adf --size A4 --mode gray --dpi 300
    examples/python/scan_to_pdf.py three.pdf --adf --pages 3

Needs pyzmq (Debian: python3-zmq). LABBRIDGE_RPC overrides the endpoint (tcp://127.0.0.1:5556).
The scan is a job of the bridge (scan.submit): it goes on if this script stops, and its PDF stays
in the bridge until it is deleted (jobs.delete). The PDF is fetched in 1 MiB ranges (jobs.fetch).
Exits 0 with the PDF written, 1 if the scan failed (the scanner's words: jammed, no paper...).
Format: bridge/PROTOCOL.md, section Scan jobs.
"""
import argparse, json, os, re, sys, time
import zmq

import labbridge_net

ap = argparse.ArgumentParser(description="Scan to a PDF through labbridge.")
ap.add_argument("output", help="the PDF to write")
ap.add_argument("--scanner", help="a scanner id (default: the first document scanner)")
ap.add_argument("--size", default="A3", help="A3, A4, Letter... (default A3)")
ap.add_argument("--dpi", type=int, default=150, help="resolution (default 150)")
ap.add_argument("--mode", default="color", help="color or gray (default color)")
ap.add_argument("--adf", action="store_true", help="every sheet of the document feeder")
ap.add_argument("--pages", type=int, help="with --adf: this many sheets (default: all)")
labbridge_net.add_options(ap)
args = ap.parse_args()

ctx = zmq.Context()
rpc = ctx.socket(zmq.DEALER)
rpc.setsockopt(zmq.LINGER, 0)
labbridge_net.connect(rpc, "rpc")
next_id = 0


def request(method, params=None):
    """A request's reply frames: its result and any binary frame. Exits on an error."""
    global next_id
    next_id += 1
    rpc.send(json.dumps({"id": next_id, "method": method, "params": params or {}}).encode())
    while rpc.poll(10000):
        frames = rpc.recv_multipart()
        r = json.loads(frames[0])
        if r.get("id") != next_id:
            continue  # a late answer to an earlier request
        if "error" in r:
            sys.exit("%s: %s" % (method, r["error"]["message"]))
        return r["result"], frames[1:]
    sys.exit("no answer from labbridge: is it running (make run)?")


def call(method, params=None):
    return request(method, params)[0]


scanners = [d["id"] for d in call("devices.list") if d["kind"] == "scanner"]
scanner = args.scanner or (scanners[0] if scanners else None)
if not scanner:
    sys.exit("no document scanner is connected")
settings = {"page": args.size, "resolution": args.dpi, "mode": args.mode,
            "source": "adf" if args.adf else "flatbed"}
if args.pages:
    settings["pages"] = args.pages
job = call("scan.submit", {"device": scanner, "format": "pdf", "settings": settings,
                           "label": os.path.basename(args.output)})
print("job %d on %s" % (job["id"], scanner), flush=True)
shown = None
while job["state"] not in ("done", "failed", "cancelled", "interrupted"):
    time.sleep(0.2)
    job = call("jobs.get", {"id": job["id"]})
    page = job["progress"]["detail"].get("page")
    now = (job["state"], page, int(100 * job["progress"]["fraction"]) // 10)
    if now != shown:  # a line per sheet and per 10%
        shown = now
        print("job %d: %s%s %d%%" % (job["id"], job["state"], " page %d" % page if page else "",
                                     100 * job["progress"]["fraction"]), flush=True)
if job["state"] != "done":
    sys.exit("job %d %s: %s" % (job["id"], job["state"], job["error"] or "-"))
data, offset = b"", 0
while True:
    r, frames = request("jobs.fetch", {"id": job["id"], "file": "scan.pdf", "offset": offset})
    data += frames[0] if frames else b""
    offset += r["size"]
    if r["eof"]:
        break
with open(args.output, "wb") as f:
    f.write(data)
counts = [int(n) for n in re.findall(rb"/Count\s+(\d+)", data)]
print("job %d: done, %s: %d bytes, %d page%s" % (job["id"], args.output, len(data),
                                                 max(counts or [0]),
                                                 "" if max(counts or [0]) == 1 else "s"))
