"""What every benchmark of tests/bench needs: a labbridge started with a given configuration in a
private folder, waited for until it prints its ready line, its CPU read from /proc, stopped
(SIGTERM, then SIGKILL); any other child process the same way; the machine's load.

    b = benchlib.Bridge("build/labbridge", tmp, "[bridge]\\nsimulate = yes\\n")
    try:
        b.wait_ready()
        c0 = b.cpu_s()
        ...
    finally:
        b.stop()

Only processes started here are ever signalled (by their pid); every wait has a timeout.
"""
import json
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time

HZ = os.sysconf("SC_CLK_TCK")
ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BENCH_ZMQ = os.path.join(ROOT, "build", "bench_zmq")
sys.path.append(os.path.join(ROOT, "tests", "integration"))  # lbtest, for those who use it
READY = "labbridge ready in"
READY_RE = re.compile(r"labbridge ready in ([0-9.]+) ms.*?streams on (\S+?)(?:,| and )")


class BenchError(Exception):
    """The benchmark itself could not run (not a missed target)."""


def log(msg):
    print(msg, flush=True)


def finish(tmp, result, ok):
    """The end of a benchmark's main(): tmp removed, the last line BENCH_JSON {result}; the exit
    status (0 when every part ran, whatever the figures, 1 when one could not)."""
    import shutil
    shutil.rmtree(tmp, ignore_errors=True)
    log("BENCH_JSON " + json.dumps(result))
    return 0 if ok else 1


# ------------------------------------------------------------------------------------ CPU use

def proc_cpu(pid):
    """(CPU seconds of pid, all its threads; CPU seconds of the children it has reaped), from
    /proc/PID/stat (utime + stime, cutime + cstime: whole clock ticks)."""
    with open("/proc/%d/stat" % pid) as f:
        v = f.read().rsplit(")", 1)[1].split()
    return (int(v[11]) + int(v[12])) / HZ, (int(v[13]) + int(v[14])) / HZ


def proc_cpu_s(pid):
    """CPU seconds (utime + stime) of a live process, all its threads."""
    return proc_cpu(pid)[0]


def threads_cpu_ns(pid):
    """CPU time of every thread of pid in ns (schedstat: not rounded to clock ticks); 0 once it
    is gone."""
    total = 0
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return 0
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass  # a thread that ended meanwhile
    return total


def thread_cpu(pid):
    """{tid: (comm, cpu_s)} of a live process. The on-CPU time comes from schedstat (ns): the
    utime/stime of /proc/PID/task/TID/stat are whole clock ticks per thread, which rounds the
    short wake-ups of hundreds of device threads down to nothing."""
    out = {}
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for tid in tids:
        base = "/proc/%d/task/%s/" % (pid, tid)
        try:
            with open(base + "comm") as f:
                comm = f.read().strip()
            try:
                with open(base + "schedstat") as f:
                    cpu = int(f.read().split()[0]) / 1e9
            except (OSError, ValueError, IndexError):
                with open(base + "stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                cpu = (int(fields[11]) + int(fields[12])) / HZ
        except OSError:
            continue
        out[int(tid)] = (comm, cpu)
    return out


def machine_busy_s():
    """CPU seconds the whole machine has spent busy (all cores) since boot: user to steal, less
    idle and iowait (guest time is inside user already)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v[:8]) - v[3] - (v[4] if len(v) > 4 else 0)) / HZ


def own_cpu_s():
    """CPU seconds of this script and of its children that have been waited for."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def proc_status(pid):
    """/proc/PID/status as {key: value text}."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def kb(status, key):
    """A "N kB" field of proc_status() in kB (0 when absent)."""
    v = status.get(key, "0 kB").split()
    return int(v[0]) if v else 0


def pct(v, p):
    """The p-th percentile of v (nearest rank), None when v is empty."""
    if not v:
        return None
    s = sorted(v)
    return s[min(len(s) - 1, max(0, int(round(p / 100 * len(s) + 0.5)) - 1))]


# ------------------------------------------------------------------------------------ processes

class Proc:
    """A child process started here; stop() and kill() signal only it (by its pid)."""

    def __init__(self, argv, stdout=subprocess.PIPE, stderr=None, name=None, env=None, cwd=None):
        self.name = name or os.path.basename(argv[0])
        self.t_spawn = time.monotonic()
        self.p = subprocess.Popen(argv, stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL,
                                  env=env, cwd=cwd)
        self.pid = self.p.pid
        self.rusage = None
        self.buf = b""

    def wait(self, timeout):
        """Wait for the exit (keeps the rusage); the exit status, or BenchError on timeout (the
        process is then killed)."""
        deadline = time.monotonic() + timeout
        while self.p.returncode is None:
            pid, status, ru = os.wait4(self.pid, os.WNOHANG)
            if pid == self.pid:
                self.rusage = ru
                self.p.returncode = os.waitstatus_to_exitcode(status)
                break
            if time.monotonic() > deadline:
                self.kill()
                raise BenchError("%s did not finish within %.0f s" % (self.name, timeout))
            time.sleep(0.005)
        return self.p.returncode

    def stop(self, timeout=10.0):
        """SIGTERM, then SIGKILL after timeout; the exit status (None if it had to be killed)."""
        if self.p.returncode is not None:
            return self.p.returncode
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            return self.wait(timeout)
        except BenchError:
            return None

    def kill(self):
        """SIGKILL and reap."""
        if self.p.returncode is not None:
            return
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            _, status, self.rusage = os.wait4(self.pid, 0)
            self.p.returncode = os.waitstatus_to_exitcode(status)
        except ChildProcessError:
            self.p.returncode = -9

    def cpu_s(self):
        """CPU seconds of the process: live from /proc, after the exit from its rusage."""
        if self.rusage:
            return self.rusage.ru_utime + self.rusage.ru_stime
        if self.p.returncode is None:
            try:
                return proc_cpu_s(self.pid)
            except OSError:
                pass
        return float("nan")

    def read_until(self, pred, timeout):
        """Read stdout lines until pred(line); that line, or None on timeout or EOF."""
        fd = self.p.stdout.fileno()
        deadline = time.monotonic() + timeout
        while True:
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                text = line.decode("utf-8", "replace")
                if pred(text):
                    return text
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([fd], [], [], left)
            if r:
                chunk = os.read(fd, 65536)
                if not chunk:
                    return None
                self.buf += chunk

    def drain(self):
        """Keep reading stdout in a daemon thread from now on, so that the child never blocks on
        a full pipe (what it prints is dropped)."""
        fd = self.p.stdout.fileno()

        def run():
            try:
                while os.read(fd, 65536):
                    pass
            except OSError:
                pass
        threading.Thread(target=run, daemon=True).start()

    def json_line(self, timeout):
        """The first JSON line on stdout (a bench_zmq result)."""
        line = self.read_until(lambda l: l.startswith("{"), timeout)
        if line is None:
            raise BenchError("%s printed no result within %.0f s" % (self.name, timeout))
        return json.loads(line)


# ------------------------------------------------------------------------------------ the bridge

def call(ep, method, params=None, timeout=10.0):
    """One request to a bridge's request endpoint ep (a DEALER of its own); the result, or
    BenchError (an error reply, or no reply within timeout seconds)."""
    import zmq  # only the benchmarks that make requests need python3-zmq
    s = zmq.Context.instance().socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    try:
        s.connect(ep)
        s.send_multipart([b"", json.dumps({"id": 1, "method": method,
                                           "params": params or {}}).encode()])
        if not s.poll(int(timeout * 1000)):
            raise BenchError("%s: no reply within %.0f s" % (method, timeout))
        r = json.loads(s.recv_multipart()[-1])
    finally:
        s.close()
    if "error" in r:
        e = r["error"]
        raise BenchError("%s: %s" % (method, e.get("message", e) if isinstance(e, dict) else e))
    return r["result"]


class Bridge:
    """One labbridge in a folder of its own under tmp (configuration, stderr log, ipc://
    endpoints, STATE_DIRECTORY): conf is the configuration's text, or a function of that folder
    returning it (for a data_dir inside). pub/rpc default to ipc:// in the folder; a tcp://...:0
    pub is read back from the ready line. extra: more arguments; env: more environment (or a
    function of the folder returning it).
    Started at once; wait_ready() waits for the ready line."""

    def __init__(self, binary, tmp, conf, name="bridge", pub=None, rpc=None, ws="none",
                 extra=(), env=None, quiet=True, cwd=None):
        self.dir = tempfile.mkdtemp(dir=tmp, prefix=name + "-")
        self.conf = os.path.join(self.dir, name + ".conf")
        with open(self.conf, "w", encoding="utf-8") as f:
            f.write(conf(self.dir) if callable(conf) else conf)
        self.pub = pub or "ipc://%s/pub" % self.dir
        self.rpc = rpc or "ipc://%s/rpc" % self.dir
        self.log_path = os.path.join(self.dir, "bridge.log")
        self.errf = open(self.log_path, "wb")
        argv = [binary] + (["-q"] if quiet else []) + ["-c", self.conf, "--pub", self.pub,
                                                        "--rpc", self.rpc]
        if ws is not None:
            argv += ["--ws", ws]
        e = dict(os.environ, STATE_DIRECTORY=os.path.join(self.dir, "state"))
        e.update((env(self.dir) if callable(env) else env) or {})
        self.proc = Proc(argv + list(extra), stderr=self.errf, name="labbridge", env=e,
                         cwd=cwd)
        self.pid = self.proc.pid
        self.t0 = self.proc.t_spawn
        self.lines = []  # stdout lines before the ready line (a web page's address...)
        self.ready_line = self.ready_ms = self.self_ms = self.t_ready = None

    def parse_ready(self, text):
        """Take the self-reported start-up time and the bound stream endpoint from text."""
        m = READY_RE.search(text)
        if m:
            self.self_ms = float(m.group(1))
            self.pub = m.group(2)

    def wait_ready(self, timeout=15.0):
        """Wait for the ready line (the stdout that follows is drained); that line, or
        BenchError with the end of the log (the bridge is then stopped)."""
        def ready(line):
            if line.startswith(READY):
                return True
            self.lines.append(line)
            return False
        line = self.proc.read_until(ready, timeout)
        if line is None:
            self.stop()
            raise BenchError("labbridge did not print '%s' within %.0f s; its log (%s):\n%s"
                             % (READY, timeout, self.log_path, self.log_tail()))
        self.t_ready = time.monotonic()
        self.ready_ms = (self.t_ready - self.t0) * 1e3
        self.ready_line = line
        self.parse_ready(line)
        self.proc.drain()
        return line

    def log_tail(self, n=20):
        """The last n lines of the bridge's stderr, repeated lines shown once with a count."""
        if not self.errf.closed:
            self.errf.flush()
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return ""
        out, last, count = [], None, 0
        for l in lines:
            if l == last:
                count += 1
                continue
            if count:
                out.append("  (x%d more)" % count)
            out.append(l)
            last, count = l, 0
        if count:
            out.append("  (x%d more)" % count)
        return "\n".join(out[-n:])

    def call(self, method, params=None, timeout=10.0):
        """One request on the request endpoint; its result, or BenchError (an error reply, or no
        reply within timeout seconds)."""
        return call(self.rpc, method, params, timeout)

    def cpu_s(self):
        """The bridge's own CPU seconds (all threads) so far."""
        return self.proc.cpu_s()

    def running(self):
        return self.proc.p.poll() is None

    def stop(self, timeout=10.0):
        """SIGTERM, then SIGKILL after timeout; the exit status (None if it had to be killed)."""
        st = self.proc.stop(timeout)
        if not self.errf.closed:
            self.errf.close()
        return st

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def bench_client_class():
    """The integration tests' request client (tests/integration/lbtest.py, needs python3-zmq)
    with a failed request raised as BenchError (the part could not run), not an assertion."""
    import lbtest

    class Client(lbtest.Client):
        def __init__(self, ctx, ep, timeout=20):
            super().__init__(ctx, ep, timeout=timeout)

        def call(self, method, params=None, timeout=None, frames=()):
            try:
                return super().call(method, params, timeout=timeout, frames=frames)
            except AssertionError as e:  # RPCError, or no reply in time
                raise BenchError("%s: %s" % (method, e))
    return Client


def start_bridge(binary, tmp, conf, timeout=15.0, **kw):
    """A Bridge (same arguments) that has printed its ready line, or BenchError."""
    b = Bridge(binary, tmp, conf, **kw)
    b.wait_ready(timeout)
    return b
