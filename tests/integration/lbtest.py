"""lbtest - shared helpers of the labbridge integration tests.

Every test starts its own daemon (Daemon / BridgeTest.start_bridge) on private endpoints: ipc://
paths in a fresh temporary directory, and --ws none or ws://127.0.0.1:0. Readiness is the
"labbridge ready in" line on the daemon's stdout; every wait has a timeout. At the end of each test
the daemon gets SIGTERM and must exit with status 0 and no sanitizer report on stderr.

The paths of the programs under test come from the environment (run.py sets them):
LB_BRIDGE (default build/asan/labbridge), LB_LABCTL (build/asan/labctl), LB_WATCH (build/asan/watch).
"""
import contextlib
import ctypes
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import tempfile
import threading
import time
import unittest

import zmq

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# Sanitizer settings for every program under test (the ASan builds).
SAN_ENV = {
    "ASAN_OPTIONS": "detect_leaks=1",
    "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1",
}
# Lines that mean a sanitizer found something.
SANITIZER_PATTERNS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error",
                      "SUMMARY: AddressSanitizer", "SUMMARY: UndefinedBehaviorSanitizer")

READY_PREFIX = "labbridge ready in"
READY_TIMEOUT = 15.0   # the ASan build under load can be slow to start
STOP_TIMEOUT = 5.0

_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1
_STARTER = os.getpid()  # the process that starts daemons (each worker imports this afresh)


def die_with_parent():
    """preexec_fn: the child gets SIGTERM when the process that started it dies. A daemon left
    behind by a killed test worker goes on reopening its configured port (/dev/pts/1...) and
    reads the answers of whatever device a later test's emulator puts on that reused pty."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != _STARTER:
        os._exit(1)  # the parent died before the prctl: nobody would signal this child


def _descendants(pid):
    """pid and every process below it (from /proc's parent links)."""
    children = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    st = f.read()
                ppid = int(st[st.rindex(")") + 2:].split()[1])
                children.setdefault(ppid, []).append(int(d))
            except (OSError, ValueError):
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def hang_report(pid):
    """What a process that does not stop (and those below it) is doing: each thread's state,
    kernel wait channel and system call, and gdb's backtraces when gdb is installed."""
    lines = []
    for p in _descendants(pid):
        try:
            tids = sorted(os.listdir("/proc/%d/task" % p), key=int)
            with open("/proc/%d/cmdline" % p, "rb") as f:
                lines.append("process %d: %s" % (p, f.read().replace(b"\0", b" ").decode(
                    "utf-8", "replace")[:200]))
        except OSError:
            continue
        for t in tids:
            info = []
            for name in ("comm", "wchan", "syscall"):
                try:
                    with open("/proc/%d/task/%s/%s" % (p, t, name)) as f:
                        info.append(f.read().strip().split(" ")[0])
                except OSError:
                    info.append("?")
            try:
                with open("/proc/%d/task/%s/stat" % (p, t)) as f:
                    st = f.read()
                info.insert(1, st[st.rindex(")") + 2])
                with open("/proc/%d/task/%s/status" % (p, t)) as f:
                    # signals pending, blocked, caught: a stop that never arrived shows here
                    info.extend(l.split()[0] + l.split()[1] for l in f
                                if l.startswith(("SigPnd", "ShdPnd", "SigBlk", "SigCgt")))
            except (OSError, ValueError, IndexError):
                pass
            lines.append("  thread %s: %s" % (t, " ".join(info)))
        if shutil.which("gdb"):
            try:
                r = subprocess.run(["gdb", "-p", str(p), "-batch", "-nx", "-ex",
                                    "thread apply all bt 30"], capture_output=True, timeout=60,
                                   stdin=subprocess.DEVNULL)
                lines.extend("  " + l for l in r.stdout.decode("utf-8", "replace").splitlines()
                             if l.startswith(("#", "Thread")))
            except (OSError, subprocess.TimeoutExpired) as e:
                lines.append("  gdb: %s" % e)
    return "\n".join(lines)
DEFAULT_TIMEOUT = 5.0  # replies, events





def program(var, default):
    """Absolute path of a program under test (from the environment variable var)."""
    path = os.environ.get(var) or os.path.join(ROOT, default)
    return os.path.abspath(path)


def bridge_path():
    return program("LB_BRIDGE", "build/asan/labbridge")


def labctl_path():
    return program("LB_LABCTL", "build/asan/labctl")


def watch_path():
    return program("LB_WATCH", "build/asan/watch")


def san_env(extra=None):
    """The environment for a program under test: ours plus the sanitizer settings."""
    env = dict(os.environ)
    env.update(SAN_ENV)
    if extra:
        env.update(extra)
    return env


def sanitizer_errors(text):
    """Lines of text that report a sanitizer error."""
    return [l for l in text.splitlines() if any(p in l for p in SANITIZER_PATTERNS)]


# ------------------------------------------------------------------------------------ configs

def make_conf(sims=None, bridge=None, access=None, raw=""):
    """An INI configuration: [bridge] (simulate = yes, emulate = none, request_timeout_ms = 1000,
    heartbeat_ms = 200 unless overridden; a value None removes a key), [access] (a dict, or
    False for no section), one [sim.NAME] section per entry of sims ({name: {key: value}}), then
    raw text; [sane] discover = no (the machine's own scanners). emulate = none keeps the emulated
    hardware (Firmata board...) out of the lab, so
    the lab is exactly the [sim.*] sections."""
    b = {"simulate": "yes", "emulate": "none", "request_timeout_ms": 1000, "heartbeat_ms": 200}
    b.update(bridge or {})
    lines = ["; written by the labbridge integration tests", "[bridge]"]
    lines += ["%s = %s" % (k, v) for k, v in b.items() if v is not None]
    if access:
        lines.append("[access]")
        lines += ["%s = %s" % (k, v) for k, v in access.items() if v is not None]
    # the test machine's own SANE backends stay out (probes, fds): the simulated lab's private
    # configuration is not affected
    lines += ["[sane]", "discover = no"]
    for name, keys in (sims or {}).items():
        lines.append("[sim.%s]" % name)
        lines += ["%s = %s" % (k, v) for k, v in keys.items()]
    return "\n".join(lines) + "\n" + raw


def sensor(rate=50, quantity="voltage", unit="V", wave="sine", **more):
    """The keys of a [sim.NAME] section."""
    d = {"quantity": quantity, "unit": unit, "rate": rate, "wave": wave}
    d.update(more)
    return d


# ------------------------------------------------------------------------------------ daemon

class DaemonError(AssertionError):
    pass


class Daemon:
    """One labbridge process with private endpoints in tmpdir."""

    def __init__(self, tmpdir, conf_text, name="bridge", ws=False, pub=None, rpc=None,
                 args=(), wrapper=(), binary=None, env=None, http="none"):
        self.tmpdir = tmpdir
        self.name = name
        self.conf_path = os.path.join(tmpdir, name + ".conf")
        with open(self.conf_path, "w", encoding="utf-8") as f:
            f.write(conf_text)
        self.pub = pub or "ipc://%s/%s-pub" % (tmpdir, name)
        self.rpc = rpc or "ipc://%s/%s-rpc" % (tmpdir, name)
        self.ws_arg = ws if isinstance(ws, str) else ("ws://127.0.0.1:0" if ws else "none")
        self.binary = binary or bridge_path()
        self.wrapped = bool(wrapper)
        self.cmd = list(wrapper) + [self.binary, "-c", self.conf_path, "--pub", self.pub,
                                    "--rpc", self.rpc, "--ws", self.ws_arg,
                                    "--http", http] + list(args)
        # a private data directory (calibrations, recordings, print queue) unless the test
        # names one: tests run in parallel and must not share /var/lib/labbridge
        self.env = san_env(dict({"STATE_DIRECTORY": os.path.join(tmpdir, name + "-data")},
                                **(env or {})))
        self.err_path = os.path.join(tmpdir, name + ".stderr")
        self.proc = None
        self.stdout_lines = []
        self.ready_line = None
        self._ready = threading.Event()
        self._eof = threading.Event()
        self.returncode = None
        self.stop_seconds = None
        self.killed = False
        self.hang_report = ""
        self._stderr_cache = None

    # -- life cycle
    def start(self):
        self._errf = open(self.err_path, "wb")
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=self._errf,
                                     stdin=subprocess.DEVNULL, env=self.env, cwd=self.tmpdir,
                                     preexec_fn=die_with_parent)
        self._reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._reader.start()
        return self

    def _read_stdout(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.stdout_lines.append(line)
            if line.startswith(READY_PREFIX) and not self._ready.is_set():
                self.ready_line = line
                self._ready.set()
        self._eof.set()

    def wait_ready(self, timeout=READY_TIMEOUT):
        """Wait for the readiness line; raise DaemonError (with stderr) on exit or timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._ready.wait(0.05):
                return self
            if self.proc.poll() is not None and self._eof.is_set():
                raise DaemonError("%s exited with status %s before being ready:\n%s" %
                                  (self.name, self.proc.returncode, self.stderr()))
        raise DaemonError("%s not ready within %.0f s:\n%s" % (self.name, timeout, self.stderr()))

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_exit(self, timeout):
        """Wait for the process to end by itself; its status, or None on timeout."""
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self._eof.wait(2)
        return self.returncode

    def stop(self, timeout=STOP_TIMEOUT, sig=signal.SIGTERM):
        """Send sig (SIGTERM), wait up to timeout; kill it if it does not exit. Its status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            t0 = time.monotonic()
            self._signal_bridge(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.killed = True
                self.hang_report = hang_report(self.proc.pid)
                # the whole tree: a wrapper killed alone would leave the bridge running
                for pid in reversed(_descendants(self.proc.pid)):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
                self.proc.wait(10)
            self.stop_seconds = time.monotonic() - t0
        self.returncode = self.proc.returncode
        self._eof.wait(2)
        if not self._errf.closed:
            self._errf.close()
        return self.returncode

    def _signal_bridge(self, sig):
        """Send sig to the bridge itself: under a wrapper (umockdev-run), to the wrapper's
        descendant running the bridge's binary (a wrapper need not forward signals; it exits
        when the bridge does), else to the process started."""
        if self.wrapped:
            want = os.path.realpath(self.binary)
            for pid in _descendants(self.proc.pid)[1:]:
                try:
                    if os.path.realpath(os.readlink("/proc/%d/exe" % pid)) == want:
                        os.kill(pid, sig)
                        return
                except OSError:
                    pass
        self.proc.send_signal(sig)

    def stderr(self):
        if self._stderr_cache is not None:
            return self._stderr_cache
        try:
            with open(self.err_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError:
            text = ""
        if self.proc is not None and self.proc.poll() is not None and self._eof.is_set():
            self._stderr_cache = text
        return text

    def log(self):
        """Everything the daemon printed, for a failure report."""
        return ("$ %s\n--- stdout\n%s\n--- stderr\n%s" %
                (" ".join(self.cmd), "\n".join(self.stdout_lines), self.stderr()))

    def web_url(self):
        """The web page's base URL as the bridge printed it (http://HOST:PORT/), or None."""
        for line in self.stdout_lines:
            m = re.match(r"labbridge web page on (\S+)", line)
            if m:
                return m.group(1)
        return None

    def ready_endpoint(self, what):
        """An endpoint as printed on the ready line (what: 'streams', 'requests')."""
        m = re.search(r"streams on (\S+?)(?: and (\S+))?, requests on (\S+)", self.ready_line or "")
        if not m:
            return None
        return {"streams": m.group(1), "ws": m.group(2), "requests": m.group(3)}[what]


# ------------------------------------------------------------------------------------ requests

class RPCError(AssertionError):
    """An error reply where a result was expected."""

    def __init__(self, method, error):
        self.error = error
        AssertionError.__init__(self, "%s -> error %s" % (method, json.dumps(error)))


class Client:
    """A request socket: DEALER (default; sends the empty delimiter itself) or REQ."""

    def __init__(self, ctx, endpoint, kind="dealer", timeout=DEFAULT_TIMEOUT):
        self.kind = kind
        self.sock = ctx.socket(zmq.DEALER if kind == "dealer" else zmq.REQ)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(endpoint)
        self.endpoint = endpoint
        self.timeout = timeout
        self.next_id = 1
        self.stash = {}

    def close(self):
        self.sock.close(0)

    def send_frames(self, frames):
        frames = [f if isinstance(f, bytes) else f.encode() for f in frames]
        if self.kind == "dealer":
            frames = [b""] + frames
        self.sock.send_multipart(frames)

    def recv_frames(self, timeout=None):
        """The next reply's frames (without the delimiter); AssertionError on timeout."""
        timeout = self.timeout if timeout is None else timeout
        if not self.sock.poll(int(timeout * 1000)):
            raise AssertionError("no reply from %s within %.1f s" % (self.endpoint, timeout))
        frames = self.sock.recv_multipart()
        if self.kind == "dealer" and frames and frames[0] == b"":
            frames = frames[1:]
        return frames

    def recv_json(self, timeout=None):
        frames = self.recv_frames(timeout)
        assert len(frames) == 1, "a reply is one JSON frame, got %d frames" % len(frames)
        return json.loads(frames[0])

    def send(self, method, params=None, id=None, frames=()):
        """Send a request; returns its id."""
        if id is None:
            id = self.next_id
            self.next_id += 1
        body = {"id": id, "method": method}
        if params is not None:
            body["params"] = params
        self.send_frames([json.dumps(body).encode()] + list(frames))
        return id

    def reply_for(self, id, timeout=None):
        """The reply with that id (other replies are kept for later)."""
        timeout = self.timeout if timeout is None else timeout
        key = json.dumps(id)
        deadline = time.monotonic() + timeout
        while key not in self.stash:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no reply for id %s from %s within %.1f s" %
                                     (key, self.endpoint, timeout))
            r = self.recv_json(left)
            self.stash[json.dumps(r.get("id"))] = r
        return self.stash.pop(key)

    def request(self, method, params=None, timeout=None, frames=(), id=None):
        """Send a request and return the whole reply object."""
        id = self.send(method, params, id=id, frames=frames)
        return self.reply_for(id, timeout)

    def call(self, method, params=None, timeout=None, frames=()):
        """The result of a request (binary frames after its JSON); RPCError if it failed."""
        r = self.request(method, params, timeout, frames=frames)
        if "error" in r:
            raise RPCError(method, r["error"])
        assert "result" in r, "reply without result or error: %r" % r
        return r["result"]

    def error(self, method, params=None, timeout=None, frames=()):
        """The error object of a request that must fail (binary frames after its JSON)."""
        r = self.request(method, params, timeout, frames=frames)
        assert "error" in r, "%s %s should fail, got %r" % (method, json.dumps(params), r)
        return r["error"]


# ------------------------------------------------------------------------------------ streams

SAMPLE_FORMATS = {"f32": "f", "f64": "d", "i16": "h", "u16": "H", "i32": "i", "u8": "B"}
SAMPLE_SIZES = {"f32": 4, "f64": 8, "i16": 2, "u16": 2, "i32": 4, "u8": 1}


class Msg:
    """A received stream message."""
    __slots__ = ("topic", "header", "frames", "t_recv")

    def __init__(self, frames, t_recv):
        self.frames = frames
        self.topic = frames[0].decode("utf-8")
        self.header = json.loads(frames[1]) if len(frames) > 1 else None
        self.t_recv = t_recv

    @property
    def seq(self):
        return self.header["seq"]

    @property
    def samples(self):
        t = self.header.get("type")
        if t not in SAMPLE_FORMATS or len(self.frames) < 3:
            return ()
        n = len(self.frames[2]) // SAMPLE_SIZES[t]
        return struct.unpack("<%d%s" % (n, SAMPLE_FORMATS[t]), self.frames[2])

    @property
    def data(self):
        return self.header.get("data")

    def __repr__(self):
        return "Msg(%s %s)" % (self.topic, json.dumps(self.header)[:200])


class Subscriber:
    """A SUB socket on the bridge's stream endpoint, keeping only the wanted prefixes.

    With sync (the default) it also subscribes to bridge/heartbeat/ and waits for one heartbeat:
    subscriptions travel in order, so the wanted ones are then active too. Heartbeats are dropped
    afterwards unless a wanted prefix matches them."""

    def __init__(self, ctx, endpoint, prefixes=("",), rcvhwm=None, sync=True,
                 timeout=DEFAULT_TIMEOUT):
        self.sock = ctx.socket(zmq.SUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        if rcvhwm is not None:
            self.sock.setsockopt(zmq.RCVHWM, rcvhwm)
        self.sock.connect(endpoint)
        self.prefixes = [p if isinstance(p, str) else p.decode() for p in prefixes]
        for p in self.prefixes:
            self.sock.setsockopt(zmq.SUBSCRIBE, p.encode())
        self.backlog = []
        if sync:
            hb = "bridge/heartbeat/"
            self.sock.setsockopt(zmq.SUBSCRIBE, hb.encode())
            deadline = time.monotonic() + timeout
            while True:
                left = deadline - time.monotonic()
                assert left > 0, "no heartbeat on %s within %.1f s" % (endpoint, timeout)
                if not self.sock.poll(int(left * 1000) + 1):
                    continue
                m = Msg(self.sock.recv_multipart(), time.monotonic())
                if self.wanted(m.topic):
                    self.backlog.append(m)
                if m.topic == hb:
                    break
            if not any(hb.startswith(p) for p in self.prefixes):
                self.sock.setsockopt(zmq.UNSUBSCRIBE, hb.encode())

    def wanted(self, topic):
        return any(topic.startswith(p) for p in self.prefixes)

    def close(self):
        self.sock.close(0)

    def recv(self, timeout):
        """The next wanted message, or None after timeout seconds."""
        if self.backlog:
            return self.backlog.pop(0)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not self.sock.poll(max(1, int(left * 1000))):
                return None
            m = Msg(self.sock.recv_multipart(), time.monotonic())
            if self.wanted(m.topic):
                return m

    def collect(self, seconds=None, until=None, count=None, topic=None):
        """Messages (of topics starting with topic, if given) for up to seconds, or until
        until(messages) is true, or count messages are there. Returns what it got."""
        got = []
        seconds = DEFAULT_TIMEOUT if seconds is None else seconds
        deadline = time.monotonic() + seconds
        while True:
            if until is not None and until(got):
                break
            if count is not None and len(got) >= count:
                break
            left = deadline - time.monotonic()
            if left <= 0:
                break
            m = self.recv(left)
            if m is None:
                break
            if topic is None or m.topic.startswith(topic):
                got.append(m)
        return got

    def wait_for(self, pred, timeout=DEFAULT_TIMEOUT, what="a message", keep=None):
        """The first message for which pred(msg) is true; the messages before it are appended to
        keep (a list) if given. AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            m = self.recv(left) if left > 0 else None
            if m is None:
                raise AssertionError("timeout (%.1f s) waiting for %s" % (timeout, what))
            if pred(m):
                return m
            if keep is not None:
                keep.append(m)

    def drain(self):
        """Drop whatever is queued now."""
        self.backlog = []
        while self.sock.poll(0):
            self.sock.recv_multipart()



def register_key(data_dir, role, name):
    """Register a client key the way a teacher could by hand: a certificate file (ZPL, CZMQ's
    zcert format) in <data_dir>/keys. Returns (public, secret) as Z85 strings."""
    pub, sec = zmq.curve_keypair()
    os.makedirs(os.path.join(data_dir, "keys"), exist_ok=True)
    with open(os.path.join(data_dir, "keys", name.replace(" ", "_") + ".cert"), "w") as f:
        f.write('#   written by hand, as a teacher might\nmetadata\n    role = "%s"\n'
                '    name = "%s"\ncurve\n    public-key = "%s"\n' % (role, name, pub.decode()))
    return pub.decode(), sec.decode()

def seq_gaps(msgs):
    """[(topic, previous seq, next seq)] wherever seq does not increase by exactly 1."""
    last = {}
    gaps = []
    for m in msgs:
        s = m.header["seq"]
        if m.topic in last and s != last[m.topic] + 1:
            gaps.append((m.topic, last[m.topic], s))
        last[m.topic] = s
    return gaps


def by_topic(msgs):
    d = {}
    for m in msgs:
        d.setdefault(m.topic, []).append(m)
    return d


def wait_until(fn, timeout=DEFAULT_TIMEOUT, interval=0.05, what="a condition"):
    """Poll fn() until it returns something true; that value. AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError("timeout (%.1f s) waiting for %s" % (timeout, what))
        time.sleep(interval)


def run_program(cmd, timeout, env=None, cwd=None, input=None):
    """Run a program to completion: (status, stdout, stderr, seconds). AssertionError with what
    it printed if it does not end within timeout."""
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=timeout, env=env, cwd=cwd,
                           input=input)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("%s did not finish within %.0f s\nstdout: %s\nstderr: %s" %
                             (" ".join(cmd), timeout,
                              (e.stdout or b"").decode("utf-8", "replace")[-2000:],
                              (e.stderr or b"").decode("utf-8", "replace")[-2000:]))
    return (p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace"),
            time.monotonic() - t0)


# ------------------------------------------------------------------------------------ test case

class _TestTimeout(AssertionError):
    pass


class BridgeTest(unittest.TestCase):
    """A test with its own temporary directory, ZeroMQ context and daemons.

    tearDown stops every daemon still running with SIGTERM and checks it exits with status 0
    without sanitizer reports (unless started with check_exit=False). The daemons' output is kept
    in self.daemon_logs for run.py to print when the test fails."""

    TEST_TIMEOUT = 60  # seconds: a safety net, every wait has its own shorter timeout

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="lbtest-")
        self.ctx = zmq.Context()
        self.daemons = []
        self.daemon_logs = []
        self._sockets = []
        if threading.current_thread() is threading.main_thread():
            def on_alarm(signum, frame):
                raise _TestTimeout("test took more than %d s" % self.TEST_TIMEOUT)
            self._old_alarm = signal.signal(signal.SIGALRM, on_alarm)
            signal.alarm(self.TEST_TIMEOUT)
            self.addCleanup(signal.alarm, 0)  # also when a subclass's setUp fails

    def tearDown(self):
        signal.alarm(0)
        problems = []
        for s in self._sockets:
            try:
                s.close()
            except Exception:
                pass
        self.ctx.destroy(linger=0)
        for d in self.daemons:
            rc = d.stop()
            self.daemon_logs.append((d.name, d.log()))
            if not d.check_exit:
                continue
            if d.killed:
                problems.append("%s did not exit within %.0f s of SIGTERM (killed); what it "
                                "was doing:\n%s" % (d.name, STOP_TIMEOUT, d.hang_report))
            elif rc != 0:
                problems.append("%s exited with status %s after SIGTERM" % (d.name, rc))
            errs = sanitizer_errors(d.stderr())
            if errs:
                problems.append("%s: sanitizer report on stderr: %s" % (d.name, errs[0]))
        shutil.rmtree(self.tmp, ignore_errors=True)
        if problems:
            self.fail("; ".join(problems))

    # -- daemons
    def start_bridge(self, conf, name="bridge", ws=False, args=(), ready=True, check_exit=True,
                     **kw):
        """Start a daemon with the configuration text conf; wait for readiness unless told."""
        d = Daemon(self.tmp, conf, name=name, ws=ws, args=args, **kw)
        d.check_exit = check_exit
        self.daemons.append(d)
        d.start()
        if ready:
            try:
                d.wait_ready()
            except AssertionError:
                d.check_exit = False  # already reported, with its stderr
                raise
        return d

    def client(self, d, kind="dealer", timeout=DEFAULT_TIMEOUT):
        c = Client(self.ctx, d.rpc if isinstance(d, Daemon) else d, kind, timeout)
        self._sockets.append(c)
        return c

    def subscriber(self, d, prefixes=("",), **kw):
        s = Subscriber(self.ctx, d.pub if isinstance(d, Daemon) else d, prefixes, **kw)
        self._sockets.append(s)
        return s

    def assertError(self, error, name, code):
        """error is the reply's error object: check its stable code and name."""
        self.assertIsInstance(error, dict, "error must be an object")
        self.assertEqual((error.get("code"), error.get("name")), (code, name),
                         "wrong error: %s" % json.dumps(error))
        self.assertIsInstance(error.get("message"), str)

    @contextlib.contextmanager
    def regression_of(self, description):
        """Checks guarding a fixed daemon bug: a failure names the bug it brings back."""
        try:
            yield
        except AssertionError as e:
            raise AssertionError("%s -- regression of: %s" % (e, description)) from e


# ------------------------------------------------------------------------------------ other users

NOBODY = 65534  # a Unix user that is neither root nor the bridge's: a pupil on a shared computer

_AS_USER_CLIENT = r"""
import base64, json, sys, zmq
endpoint, calls = sys.argv[1], json.loads(sys.stdin.read())
s = zmq.Context().socket(zmq.DEALER)
s.setsockopt(zmq.LINGER, 0)
s.connect(endpoint)
out = []
for i, (method, params, *frames) in enumerate(calls):
    body = json.dumps({"id": i, "method": method, "params": params}).encode()
    s.send_multipart([body] + [base64.b64decode(f) for f in frames])
    if not s.poll(10000):
        out.append({"error": {"code": 0, "message": "no reply within 10 s"}})
        break
    out.append(json.loads(s.recv()))
print(json.dumps(out))
"""


def requests_as(uid, endpoint, calls, timeout=30):
    """Send calls [(method, params, *base64 binary frames)...] over one connection from a process running as Unix user
    uid (setpriv, util-linux); returns the replies [{id, result|error}...]. For ipc://, the
    socket file and its folders are opened to that user first."""
    if endpoint.startswith("ipc://"):
        path = endpoint[len("ipc://"):]
        os.chmod(path, 0o777)
        d = os.path.dirname(path)
        while d not in ("/", ""):
            os.chmod(d, os.stat(d).st_mode | 0o011)
            if d == tempfile.gettempdir():
                break
            d = os.path.dirname(d)
    cmd = ["setpriv", "--reuid=%d" % uid, "--regid=%d" % uid, "--clear-groups",
           "/usr/bin/python3", "-c", _AS_USER_CLIENT, endpoint]
    p = subprocess.run(cmd, input=json.dumps(calls).encode(), capture_output=True,
                       timeout=timeout, env={"PATH": "/usr/bin:/bin"})
    if p.returncode != 0:
        raise AssertionError("client as uid %d failed: %s" % (uid, p.stderr.decode()[-2000:]))
    return json.loads(p.stdout)
