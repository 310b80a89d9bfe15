#!/usr/bin/python3
"""Send a 3D model (STL, 3MF, OBJ) to the classroom print queue: the bridge slices it with a
quality preset, then prints it. Follows both to the end.

    make run                                                       # terminal 1: the simulated lab
    examples/python/print_model.py examples/models/calibration_cube.stl             # terminal 2
    examples/python/print_model.py name_tag.3mf --preset fin --name "group 3" --save-gcode

Needs pyzmq (Debian: python3-zmq). LABBRIDGE_PUB / LABBRIDGE_RPC override the endpoints
(tcp://127.0.0.1:5555 and :5556). The presets are the teacher's choice ("brouillon", "normal",
"fin" unless the configuration says otherwise): print_model.py --list-presets shows them. The file
goes in 256 KiB chunks with a CRC-32; a chunk that times out is sent again with the same request
id, which the bridge never turns into a second job. --save-gcode writes the sliced G-code next to
the model (cube.stl -> cube.gcode). --scale and --rotate are for teachers (a model drawn in inches:
--scale 2540). Ctrl-C cancels the job. Exits 0 when the job is done, 1 if it failed or was
cancelled (with the reason), 2 on bad usage, 130 on Ctrl-C. Format: bridge/PROTOCOL.md.
"""
import argparse, json, os, signal, socket, sys, time, zlib
import zmq

import labbridge_net

MODELS = (".stl", ".3mf", ".obj")
FINISHED = ("done", "failed", "cancelled", "interrupted")

ap = argparse.ArgumentParser(description="Slice and print a 3D model through labbridge's queue.")
ap.add_argument("file", nargs="?", help="a 3D model: .stl, .3mf or .obj")
ap.add_argument("--preset", help="a quality preset (default: the bridge's, usually normal)")
ap.add_argument("--printer", help="a printer id (default: the first free printer)")
ap.add_argument("--name", help="who is printing (shown in the queue)")
ap.add_argument("--save-gcode", action="store_true",
                help="once sliced, write the G-code next to the model (NAME.gcode)")
ap.add_argument("--scale", type=float, help="teachers: scale in percent (1 to 10000)")
ap.add_argument("--rotate", type=float, help="teachers: rotation about Z in degrees")
ap.add_argument("--list-presets", action="store_true", help="show the presets and exit")
labbridge_net.add_options(ap)
args = ap.parse_args()
if not args.list_presets:
    if not args.file:
        ap.error("a model file is needed (or --list-presets)")
    if not args.file.lower().endswith(MODELS):
        ap.error("%s: not a .stl, .3mf or .obj model%s" % (args.file, (
            " (G-code goes through examples/python/print_file.py)"
            if args.file.lower().endswith(".gcode") else "")))
    if not os.path.isfile(args.file):
        ap.error("%s: no such file" % args.file)
    if args.scale is not None and not 1 <= args.scale <= 10000:
        ap.error("--scale is a percentage from 1 to 10000")

ctx = zmq.Context()
rpc = ctx.socket(zmq.DEALER)
rpc.setsockopt(zmq.LINGER, 0)
labbridge_net.connect(rpc, "rpc")
sub = ctx.socket(zmq.SUB)
sub.setsockopt(zmq.LINGER, 0)
labbridge_net.connect(sub, "pub")
sub.subscribe("bridge/queue/")
sub.subscribe("printer/")
next_id = 0


def request(method, params, frames=(), tries=3, fail=True):
    """A request's result and binary frames; the same request is sent again after a 10 s timeout.
    An error exits (status 1) with the bridge's message, or is returned as {"error": ...} when
    fail is False."""
    global next_id
    next_id += 1
    msg = json.dumps({"id": next_id, "method": method, "params": params}).encode()
    for _ in range(tries):
        rpc.send_multipart([msg] + list(frames))
        deadline = time.monotonic() + 10
        while rpc.poll(max(0, int(1000 * (deadline - time.monotonic())))):
            reply = rpc.recv_multipart()
            r = json.loads(reply[0])
            if r.get("id") != next_id:
                continue  # a late answer to an earlier request
            if "error" in r:
                if not fail:
                    return {"error": r["error"]}, []
                sys.exit("%s: %s" % (method, r["error"]["message"]))
            return r["result"], reply[1:]
    sys.exit("no answer from labbridge: is it running (make run)?")


def call(method, params, frames=()):
    return request(method, params, frames)[0]


progress_line = False  # the cursor is at the end of a printer's progress line ("\r...")


def say(text):
    """Print a line of its own, below the progress line if one is showing."""
    global progress_line
    if progress_line:
        print()
        progress_line = False
    print(text, flush=True)


def duration(s):
    """12 min, 2 h 05 min."""
    m = int(round(s / 60))
    return "%d h %02d min" % (m // 60, m % 60) if m >= 60 else "%d min" % m


def estimates(meta):
    """'estimated 12 min, 1.23 m of filament (3.7 g)' from a job's meta."""
    parts = ["estimated " + (duration(meta["time_s"]) if meta.get("time_s") else "?")]
    if meta.get("filament_mm"):
        parts.append("%.2f m of filament%s" % (
            meta["filament_mm"] / 1000,
            " (%.1f g)" % meta["filament_g"] if meta.get("filament_g") else ""))
    return ", ".join(parts)


def save_gcode(job):
    """The job's sliced G-code (print.gcode) written next to the model: its path."""
    path = os.path.splitext(args.file)[0] + ".gcode"
    offset = 0
    try:
        with open(path + ".part", "wb") as f:
            while True:
                r, frames = request("jobs.fetch", {"id": job["id"], "file": "print.gcode",
                                                   "offset": offset})
                f.write(frames[0] if frames else b"")
                offset += r["size"]
                if r["eof"]:
                    break
        os.replace(path + ".part", path)
    except BaseException:  # an error, Ctrl-C: no half file left behind
        if os.path.exists(path + ".part"):
            os.remove(path + ".part")
        raise
    return path, offset


job = None
try:
    presets, _ = request("print.presets", {}, fail=False)
except KeyboardInterrupt:
    sys.exit(130)
if "error" in presets:
    sys.exit("print.presets: %s: this bridge does not slice models; slice it into G-code "
             "(PrusaSlicer, Cura) and use print_file.py" % presets["error"]["message"])
if args.list_presets:
    for p in presets["presets"]:
        print("%-10s %.2f mm layers, %s%% infill, %d perimeters, supports %s, brim %s mm%s" % (
            p["name"], p["layer_mm"], p["infill"], p["perimeters"], p["supports"], p["brim_mm"],
            "  (default)" if p["name"] == presets["default"] else ""))
    sys.exit(0)
preset = args.preset or presets["default"]
chosen = [p for p in presets["presets"] if p["name"] == preset]
if not chosen:
    ap.error("unknown preset %r: choose %s" % (
        preset, ", ".join(p["name"] for p in presets["presets"])))

try:
    if args.name:
        call("session.hello", {"name": args.name})
    data = open(args.file, "rb").read()
    request_id = "%s-%d-%d" % (socket.gethostname(), os.getpid(), time.time_ns())
    for off in range(0, max(len(data), 1), 256 * 1024):
        chunk = data[off:off + 256 * 1024]
        final = off + len(chunk) >= len(data)
        params = {"request_id": request_id, "name": os.path.basename(args.file), "offset": off,
                  "final": final, "preset": preset}
        if final:
            params["crc32"] = zlib.crc32(data)
        for key in ("printer", "scale", "rotate"):
            if getattr(args, key) is not None:
                params[key] = getattr(args, key)
        job = call("print.upload", params, [chunk])
        print("\ruploaded %d%%" % (100 * (off + len(chunk)) // max(len(data), 1)), end="",
              file=sys.stderr)
    print(file=sys.stderr)
    p = chosen[0]
    model = job.get("model") or {}
    print("job %d: %s, %s%s, preset %s (%.2f mm layers, %s%% infill)" % (
        job["id"], job["name"], model.get("format", "?"),
        ", %d faces" % model["faces"] if model.get("faces") else "", preset, p["layer_mm"],
        p["infill"]), flush=True)

    shown_slicing, sliced, state = None, False, None
    while True:
        if job["state"] not in ("slicing", "failed", "cancelled", "interrupted") and not sliced:
            sliced = True
            say("job %d: sliced: %s" % (job["id"], estimates(job.get("meta") or {})))
            if args.save_gcode:
                path, size = save_gcode(job)
                say("job %d: G-code saved to %s (%d bytes)" % (job["id"], path, size))
        if job["state"] != state:
            state = job["state"]
            if state == "submitted":
                say("job %d: waiting for a teacher's approval (labctl job approve %d)" % (
                    job["id"], job["id"]))
            elif state in ("approved", "queued"):
                say("job %d: %s%s" % (job["id"], state, ", position %d" % job["position"]
                                      if job.get("position") else ""))
            elif state == "printing":
                say("job %d: printing on %s" % (job["id"], job.get("assigned") or "?"))
        if state == "slicing" and job.get("slicing"):
            stage = job["slicing"].get("stage")
            s = "slicing %d%%%s" % (job["slicing"]["percent"], " " + stage if stage else "")
            if s != shown_slicing:
                shown_slicing = s
                say(s)
        if state in FINISHED:
            break
        if not sub.poll(3000):
            job = call("print.job", {"id": job["id"]})  # an event may have been missed
            continue
        topic, header, *_ = sub.recv_multipart()
        h = json.loads(header)
        if h["type"] != "json":
            continue  # the temperature streams (f32 samples)
        d = h["data"]
        if topic == b"bridge/queue/" and d["id"] == job["id"] and d.get("job"):
            job = d["job"]
        elif topic.endswith(b"/status/") and (d.get("job") or {}).get("id") == job["id"]:
            j, progress_line = d["job"], True
            print("\r%5.1f%%  line %d/%d  hotend %.0f°C  bed %.0f°C  ETA %s   " % (
                j["percent"], j["line"], j["lines"], d["hotend"]["actual"], d["bed"]["actual"],
                "%d s" % j["eta_s"] if j["eta_s"] >= 0 else "?"), end="", flush=True)
except KeyboardInterrupt:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # a second Ctrl-C ends at once
    if job is None:
        print("\ninterrupted before the job was made", file=sys.stderr)
    else:
        j = call("print.cancel", {"id": job["id"]})
        print("\njob %d: cancel asked (%s)" % (j["id"], j["state"]), file=sys.stderr)
    sys.exit(130)

if progress_line:
    print()  # below the progress line
if state != "done":
    sys.exit("job %d: %s%s" % (job["id"], state, ": " + job["error"] if job.get("error") else ""))
print("job %d: done" % job["id"])
