"""Bounded memory: what one unauthenticated client sends cannot exhaust the bridge (issue 9).

Each test starts a bridge with one streaming sensor, a well-behaved subscriber that collects its
messages for the whole test, and measures the bridge's memory from /proc/PID/status; then one
client attacks (a huge subscription on tcp and on ws://, 200 000 subscriptions, a 100 MB request
frame, multipart messages that never end on tcp and ws://), only on the test's own endpoints.
Afterwards:

* VmHWM (the peak resident set) stays within BUDGET of the resident set measured before the
  attack, and under 64 MB absolute: these tests run the release build (build/labbridge, or
  LB_BRIDGE_RELEASE), whose resident size is what a school's machine sees (see RELEASE).
* the well-behaved subscriber saw no seq gap and keeps receiving after the attack;
* the bridge still answers requests.

Before the fix: 8 MB subscriptions built a trie of 8 M nodes (hundreds of MB, seconds of a
blocked main loop), 200 000 subscriptions stayed in memory, a 100 MB frame was buffered whole.
"""
import json
import os
import random
import socket
import struct
import threading
import time
import unittest
import zlib

import zmq

from lbtest import BridgeTest, make_conf, program, seq_gaps, sensor, wait_until

try:
    import websocket  # Debian's python3-websocket (websocket-client)
except ImportError:  # pragma: no cover
    websocket = None

MB = 1024 * 1024
ENDLESS_CLOSED = "that never made a whole message|unfinished messages while all connections"
BUDGET = 64 * MB          # growth allowed over the resident set before the attack
ABSOLUTE = 64 * MB        # the peak of a build without sanitizers
ATTACK_TIMEOUT = 20.0     # seconds for an attack to be dealt with
# ASan keeps freed blocks in a quarantine (256 MB by default) to catch uses after free: memory the
# bridge has given back. A small one, so that the peak measures what the bridge holds.
ASAN_ENV = {"ASAN_OPTIONS": "detect_leaks=1:quarantine_size_mb=16"}


# What is measured is the bridge people run: the release build (make integration builds it), whose
# resident size means what it says. ASan's shadow memory and redzones multiply every allocation
# of an attack's churn and made the growth depend on how loaded the machine was (82 MB seen for
# what the release build holds in 9). The sanitized build runs the same code in the other tests,
# and subs.c under ASan in its unit test and fuzz harness.
RELEASE = program("LB_BRIDGE_RELEASE", "build/labbridge")


def proc_status(pid, key):
    """A memory figure of /proc/PID/status in bytes (VmRSS, VmHWM)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no %s in /proc/%d/status" % (key, pid))


def is_asan(pid):
    with open("/proc/%d/maps" % pid) as f:
        return "libasan" in f.read()


class RawZMTP:
    """A peer written by hand (ZMTP 3.0, NULL mechanism) on tcp:// or ipc://: it sends what it
    likes, with no libzmq of its own on the way (a libzmq XSUB would put an 8 MB subscription
    into its own trie first)."""

    def __init__(self, endpoint, socket_type=b"SUB", timeout=10, pong=False):
        if endpoint.startswith("tcp://"):
            host, port = endpoint[6:].rsplit(":", 1)
            self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        else:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(endpoint[len("ipc://"):])
        # the handshake step by step, as libzmq does it (it drops a peer that runs ahead)
        greeting = b"\xff" + b"\0" * 7 + b"\x01\x7f" + b"\x03\x01" + b"NULL".ljust(20, b"\0")
        greeting += b"\0" + b"\0" * 31
        self.sock.sendall(greeting[:10])
        self.recv_exactly(10)
        self.sock.sendall(greeting[10:])
        self.recv_exactly(54)
        ready = b"\x05READY" + b"\x0bSocket-Type" + struct.pack(">I", len(socket_type)) + \
            socket_type
        self.sock.sendall(b"\x04" + bytes([len(ready)]) + ready)
        flags, size = self.recv_exactly(2)
        assert flags == 0x04, "no READY command from the bridge"
        self.recv_exactly(size)
        self.buf = b""
        self.lock = threading.Lock()  # a PONG never lands inside a frame being sent
        self.eof = threading.Event()
        self.reader = None
        if pong:
            # a live peer: the bridge's heartbeat PINGs (every 100 ms on the request socket,
            # 300 ms to answer) are answered, as libzmq's I/O thread answers them
            self.sock.settimeout(None)
            self.reader = threading.Thread(target=self._read, daemon=True)
            self.reader.start()

    def _read(self):
        """Read everything the bridge sends, answering each PING with a PONG; sets eof."""
        buf = b""
        try:
            while True:
                try:
                    d = self.sock.recv(65536)
                except socket.timeout:
                    continue  # a timeout set for sending: the connection is still there
                if not d:
                    break
                buf += d
                while len(buf) >= 2:
                    flags = buf[0]
                    hl = 9 if flags & 0x02 else 2
                    if len(buf) < hl:
                        break
                    size = struct.unpack(">Q", buf[1:9])[0] if flags & 0x02 else buf[1]
                    if len(buf) < hl + size:
                        break
                    body, buf = buf[hl:hl + size], buf[hl + size:]
                    if flags & 0x04 and body[:5] == b"\x04PING":
                        pong = b"\x04PONG" + body[7:]
                        with self.lock:
                            self.sock.sendall(bytes([0x04, len(pong)]) + pong)
        except OSError:
            pass
        self.eof.set()

    def recv_exactly(self, n):
        data = b""
        while len(data) < n:
            d = self.sock.recv(n - len(data))
            assert d, "the bridge closed the connection during the handshake"
            data += d
        return data

    def send(self, data, more=False):
        """One frame (the whole message unless more)."""
        flags = 0x01 if more else 0
        if len(data) > 255:
            head = bytes([flags | 0x02]) + struct.pack(">Q", len(data))
        else:
            head = bytes([flags, len(data)])
        try:
            with self.lock:
                self.sock.sendall(head + data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            return False  # the bridge closed the connection
        except socket.timeout:
            return False  # the bridge stopped reading from it (its queue is full)

    def closed(self, timeout):
        """Whether the bridge closes the connection within timeout (what it sends is dropped)."""
        if self.reader:
            return self.eof.wait(timeout)
        deadline = time.monotonic() + timeout
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.sock.settimeout(left)
                if not self.sock.recv(65536):
                    return True
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError):
            return True

    def close(self):
        self.sock.close()


class MemLimitsTest(BridgeTest):
    TEST_TIMEOUT = 90

    def lab(self, conf=None, **kw):
        """A bridge streaming one sensor, a subscriber watching it, and the memory before."""
        d = self.start_bridge(conf or make_conf({"v1": sensor(rate=200, batch=10)}),
                              env=ASAN_ENV, binary=RELEASE, **kw)
        self.d = d
        self.pid = d.proc.pid
        self.watch = self.subscriber(d.ready_endpoint("streams") if "pub" in kw else d,
                                     ["sensor/sim-v1/"])
        self.got = self.watch.collect(count=5, seconds=10)
        self.assertGreaterEqual(len(self.got), 5, "the sensor does not stream")
        self.rpc = self.client(d.ready_endpoint("requests") if "rpc" in kw else d)
        self.rpc.call("bridge.info")
        self.before = proc_status(self.pid, "VmRSS")
        return d

    def collect(self, seconds):
        self.got += self.watch.collect(seconds=seconds)

    def check_after(self, what):
        """Memory, stream continuity and requests after the attack."""
        peak = proc_status(self.pid, "VmHWM")
        # streaming goes on without a gap: messages after the attack, none missing
        n = len(self.got)
        self.got += self.watch.collect(count=10, seconds=10)
        self.assertGreaterEqual(len(self.got) - n, 10, "%s: the stream stopped" % what)
        self.assertEqual(seq_gaps(self.got), [], "%s: the well-behaved subscriber lost "
                         "messages" % what)
        info = self.rpc.call("bridge.info", timeout=10)
        self.assertEqual(info["protocol"], 1)
        self.assertLessEqual(peak - self.before, BUDGET,
                             "%s: the bridge's peak resident set grew by %.0f MB (from %.0f MB)"
                             % (what, (peak - self.before) / MB, self.before / MB))
        if os.environ.get("LB_MEMLIMITS_REPORT"):  # the figures, for a report
            print("\n  %s: resident %.1f MB before, peak %.1f MB" % (what, self.before / MB,
                                                                  peak / MB), end=" ")
        if not is_asan(self.pid):
            self.assertLessEqual(peak, ABSOLUTE, "%s: peak resident set %.0f MB"
                                 % (what, peak / MB))
        return peak

    def attacker(self, kind, endpoint):
        """A socket that does not reconnect, and its monitor (for the bridge closing it)."""
        s = self.ctx.socket(kind)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.RECONNECT_IVL, -1)
        s.setsockopt(zmq.SNDHWM, 0)  # push everything: the bridge must bound it
        mon = s.get_monitor_socket(zmq.EVENT_CONNECTED | zmq.EVENT_DISCONNECTED)
        self._sockets.append(mon)
        self._sockets.append(s)
        s.connect(endpoint)
        return s, mon

    def wait_event(self, mon, event, timeout, also=None):
        """Wait for a monitor event (True), or for also() to be true (False); fail on timeout."""
        from zmq.utils.monitor import recv_monitor_message
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if mon.poll(50):
                if recv_monitor_message(mon)["event"] == event:
                    return True
            else:
                self.collect(0.01)
            if also is not None and also():
                return False
        self.fail("no %s event within %.0f s" % (event, timeout))

    def over_budget(self):
        return proc_status(self.pid, "VmHWM") - self.before > BUDGET

    # ------------------------------------------------------------------ the stream socket

    def raw(self, endpoint=None):
        c = RawZMTP(endpoint or self.d.ready_endpoint("streams"))
        self.addCleanup(c.close)
        return c

    def wait_closed(self, c, timeout=ATTACK_TIMEOUT):
        """Wait for the bridge to close c (or to be over budget: a failure shown after)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.over_budget():
            if c.closed(0.05):
                return True
            self.collect(0.01)
        return False

    def huge_subscription(self, endpoint):
        c = self.raw(endpoint)
        c.send(b"\x01" + b"x" * (8 * MB))
        # the bridge closes the connection once it reads the frame's size
        return self.wait_closed(c)

    def test_huge_subscription_tcp(self):
        self.lab(pub="tcp://127.0.0.1:0", rpc="tcp://127.0.0.1:0")
        closed = self.huge_subscription(self.d.ready_endpoint("streams"))
        self.check_after("an 8 MB subscription over tcp")
        self.assertTrue(closed, "the bridge kept the connection open")

    @unittest.skipIf(websocket is None, "python3-websocket (websocket-client) is not installed")
    def test_huge_subscription_ws(self):
        ws = self.ws_peer()
        ws.send_binary(b"\x00")                    # our (empty) routing id
        closed = False
        try:
            ws.send_binary(b"\x00\x01" + b"x" * (8 * MB))  # subscribe to an 8 MB prefix
        except (websocket.WebSocketConnectionClosedException, ConnectionError, socket.error):
            closed = True  # the bridge closed it while we were sending
        # the bridge closes the WebSocket
        deadline = time.monotonic() + ATTACK_TIMEOUT
        ws.settimeout(0.05)
        while not closed and time.monotonic() < deadline and not self.over_budget():
            try:
                op, _ = ws.recv_data(control_frame=True)
                closed = op == websocket.ABNF.OPCODE_CLOSE
            except websocket.WebSocketTimeoutException:
                self.collect(0.01)
            except (websocket.WebSocketConnectionClosedException, ConnectionError,
                    socket.error):
                closed = True
        self.check_after("an 8 MB subscription over ws://")
        self.assertTrue(closed, "the bridge kept the WebSocket open")

    def test_many_subscriptions_then_leave(self):
        self.lab(pub="tcp://127.0.0.1:0")
        c = self.raw()
        sent = 0
        rnd = random.Random(9)  # prefixes that share little, as an attacker would pick them
        for i in range(200000):
            if not c.send(b"\x01%032x" % rnd.getrandbits(128)):
                break
            sent += 1
            if i % 2000 == 0:
                self.collect(0.001)
        # the bridge closes the connection past 256 subscriptions
        closed = self.wait_closed(c)
        self.check_after("%d subscriptions from one connection" % sent)
        self.assertTrue(closed, "the bridge kept the connection open")
        self.assertIn("over 256 subscriptions", self.d.stderr())

    def test_subscriptions_within_the_limit(self):
        """A client may hold 256 prefixes, unsubscribe and subscribe others; its 257th at once
        closes it. Unsubscribing what it never subscribed does not make room."""
        self.lab(pub="tcp://127.0.0.1:0")
        c = self.raw()
        for i in range(256):
            c.send(b"\x01sensor/sim-v1/%d" % i)
        for i in range(100):
            c.send(b"\x00sensor/sim-v1/%d" % i)
            c.send(b"\x00never/%d" % i)
        for i in range(99):
            c.send(b"\x01sensor/sim-v1/again%d" % i)
        c.send(b"\x01sensor/sim-v1/")
        for i in range(256):
            c.send(b"\x01sensor/sim-v1/100")      # a repeat takes no room
        # still served: it gets the sensor's messages (after the bridge's greeting)
        c.sock.settimeout(10)
        got = b""
        while b"sensor/sim-v1/" not in got:
            data = c.sock.recv(65536)
            self.assertTrue(data, "a client within the limits was disconnected")
            got += data
        self.assertFalse(c.closed(0.2), "a client within the limits was disconnected")
        c.send(b"\x01sensor/sim-v1/one-too-many")
        self.assertTrue(self.wait_closed(c), "257 subscriptions kept")
        self.check_after("257 subscriptions")

    def test_long_prefix_closes(self):
        self.lab(pub="tcp://127.0.0.1:0")
        c = self.raw()
        c.send(b"\x01" + b"p" * 128)          # 128 bytes: fine
        c.send(b"\x01sensor/")
        c.sock.settimeout(10)
        got = b""
        while b"sensor/sim-v1/" not in got:
            data = c.sock.recv(65536)
            self.assertTrue(data, "a 128-byte prefix refused")
            got += data
        c.send(b"\x01" + b"p" * 129)
        self.assertTrue(self.wait_closed(c), "a 129-byte prefix kept")
        self.check_after("a 129-byte prefix")
        self.assertIn("a subscription prefix over 128 bytes", self.d.stderr())

    def test_stream_connection_limit(self):
        """At most 256 connections on the stream socket: the ones beyond are closed, those
        within are served."""
        self.lab(pub="tcp://127.0.0.1:0")
        # the stream socket: hand-written peers (they send nothing but a subscription)
        conns, closed = [], 0
        for i in range(256 + 40):
            try:
                c = RawZMTP(self.d.ready_endpoint("streams"))
                c.send(b"\x01sensor/")
            except (AssertionError, ConnectionError, socket.timeout):
                closed += 1  # closed during its handshake
                continue
            self.addCleanup(c.close)
            conns.append(c)
            if i % 20 == 0:
                self.collect(0)
        closed += sum(1 for c in conns if c.closed(0.02))
        self.assertGreaterEqual(closed, 40, "stream connections beyond 256 kept")
        self.assertLessEqual(closed, 40 + 8, "stream connections within 256 closed")
        wait_until(lambda: "closed a stream connection: over 256 connections" in
                   self.d.stderr(), timeout=10, what="the stream connections closed")
        for c in conns:
            c.close()
        self.check_after("296 connections on the stream socket")

    def test_request_connection_limit(self):
        """At most 256 connections on the request socket: the ones beyond are closed."""
        self.lab()
        # DEALERs that do not reconnect, each asking once, by batches of 50 (each one served
        # before the next: under the listening socket's backlog of 100)
        dealers, answered = [], 0
        for batch in range(6):
            poller = zmq.Poller()
            for i in range(50 if batch < 5 else 46):
                s = self.ctx.socket(zmq.DEALER)
                s.setsockopt(zmq.LINGER, 0)
                s.setsockopt(zmq.RECONNECT_IVL, -1)
                # one closed already (beyond 256) has no peer left: send would block forever
                s.setsockopt(zmq.SNDTIMEO, 2000)
                s.connect(self.d.rpc)
                self._sockets.append(s)
                dealers.append(s)
                try:
                    s.send_multipart([b"", b'{"id": 1, "method": "bridge.info"}'])
                except zmq.Again:
                    pass  # closed by the bridge before we sent: never answered
                poller.register(s, zmq.POLLIN)
            # 250 DEALERs and self.rpc are served; of the last 46, 5 (256 in all)
            want = answered + (50 if batch < 5 else 5)
            deadline = time.monotonic() + 15
            while answered < want and time.monotonic() < deadline:
                for s, _ in poller.poll(100):
                    s.recv_multipart()
                    answered += 1
                    poller.unregister(s)
                self.collect(0)
            self.assertEqual(answered, want, "request connections served: %d, expected %d "
                             "(256 at once)" % (answered, want))
        wait_until(lambda: "closed a request connection: over 256 connections" in
                   self.d.stderr(), timeout=10, what="the request connections closed")
        # the closed ones are never answered
        for s, _ in poller.poll(200):
            answered += 1
        self.assertEqual(answered, 255, "request connections beyond 256 served")
        for s in dealers:
            s.close(0)
        self.check_after("296 connections on the request socket")

    # ------------------------------------------------------------------ the request socket

    def test_huge_request_frame(self):
        self.lab()
        s, mon = self.attacker(zmq.DEALER, self.d.rpc)
        self.wait_event(mon, zmq.EVENT_CONNECTED, 10)
        body = json.dumps({"id": 1, "method": "bridge.info"}).encode()
        s.send_multipart([b"", body, b"\0" * (100 * MB)])
        # closed without a reply (before the fix: read whole, then refused with too_large)
        self.wait_event(mon, zmq.EVENT_DISCONNECTED, ATTACK_TIMEOUT,
                        also=lambda: self.over_budget() or s.poll(0))
        self.check_after("a 100 MB request frame")
        self.assertFalse(s.poll(0), "the bridge read a 100 MB frame and answered it")

    def test_frame_size_limit(self):
        """A request frame of 1 MiB is read and answered; 1 MiB + 1 byte closes the connection."""
        self.lab()
        s, mon = self.attacker(zmq.DEALER, self.d.rpc)
        self.wait_event(mon, zmq.EVENT_CONNECTED, 10)
        body = json.dumps({"id": 1, "method": "bridge.info"}).encode()
        s.send_multipart([b"", body, b"\0" * MB])
        self.assertTrue(s.poll(10000), "no reply to a request with a 1 MiB frame")
        reply = json.loads(s.recv_multipart()[-1])
        self.assertEqual(reply["error"]["name"], "invalid_params")  # takes no binary frames
        s.send_multipart([b"", body, b"\0" * (MB + 1)])
        self.wait_event(mon, zmq.EVENT_DISCONNECTED, ATTACK_TIMEOUT)
        self.check_after("a frame of 1 MiB + 1 byte")

    # ------------------------------------------------------------------ endless multipart messages

    def ws_peer(self):
        """A bridge with a ws:// stream endpoint and a raw ZWS 2.0 connection to it."""
        self.lab(ws=True)
        url = self.rpc.call("bridge.info")["endpoints"].get("ws")
        if url is None:  # Debian's libzmq has WebSocket: a failure, not an allowed skip
            self.skipTest("the bridge serves no WebSocket endpoint (libzmq without WS)")
        ws = websocket.create_connection(url, subprotocols=["ZWS2.0"], timeout=5)
        self.addCleanup(ws.close)
        return ws

    def endless_message(self, c, frame, total=200 * MB):
        """Send frames of `frame` bytes with the MORE flag, never a last one, until the bridge
        closes the connection, total bytes are sent or the bridge is over budget: bytes sent."""
        head = (bytes([0x03]) + struct.pack(">Q", frame)) if frame > 255 else \
            bytes([0x01, frame])
        one = head + b"m" * frame
        batch = one * max(1, (256 * 1024) // len(one))
        sent, checked = 0, 0
        c.sock.settimeout(2)
        while sent < total:
            try:
                with c.lock:
                    c.sock.sendall(batch)
            except (BrokenPipeError, ConnectionResetError, socket.timeout) as e:
                if os.environ.get("LB_MEMLIMITS_REPORT"):
                    print(" [%s after %.0f MB]" % (type(e).__name__, sent / MB), end="")
                break  # closed (or no longer read)
            sent += len(batch)
            if sent - checked >= 4 * MB:
                checked = sent
                self.collect(0)
                if self.over_budget():
                    break
        return sent

    def test_endless_multipart_stream_tcp(self):
        """500-byte frames with MORE on the stream socket, never a last one: closed past 256 KiB
        (before: every frame kept, 179 MB for 200 000 of them)."""
        self.lab(pub="tcp://127.0.0.1:0", rpc="tcp://127.0.0.1:0")
        c = self.raw()
        c.send(b"\x01sensor/")  # a whole message first: counted as delivered
        sent = self.endless_message(c, 500)
        closed = self.wait_closed(c)
        self.check_after("an endless message of 500-byte frames (%.0f MB sent) on the stream "
                         "socket" % (sent / MB))
        self.assertTrue(closed, "the bridge kept the connection open")
        # closed by its own allowance, or first by the budget over all connections (on a loaded
        # machine more can arrive before the 20 ms without delivery that the first rule waits for)
        self.assertRegex(self.d.stderr(), ENDLESS_CLOSED)

    def test_many_connections_under_their_allowance(self):
        """Many request connections each holding an unfinished message below its own allowance
        (1.5 MB of 2) add up: past the budget over all of them the biggest are closed (before:
        every one kept, 40 x 1.5 MB)."""
        self.lab(pub="tcp://127.0.0.1:0", rpc="tcp://127.0.0.1:0")
        conns = []
        for _ in range(40):
            c = RawZMTP(self.d.ready_endpoint("requests"), socket_type=b"DEALER", pong=True)
            self.addCleanup(c.close)
            c.send(b"", more=True)
            self.endless_message(c, 100 * 1000, total=1500 * 1000)
            conns.append(c)
            self.collect(0)
            if self.over_budget():
                break
        closed = sum(1 for c in conns if c.closed(0.5))
        self.check_after("40 connections each holding 1.5 MB of an unfinished message")
        self.assertGreater(closed, 0, "no connection was closed")
        self.assertLess(closed, len(conns), "the connections under the budget were closed too")
        self.assertIn("over their budget", self.d.stderr())

    def test_endless_multipart_request_tcp(self):
        """1 MB frames with MORE on the request socket: closed past ~2 MB (before: 103 MB held
        for 100 of them)."""
        self.lab(pub="tcp://127.0.0.1:0", rpc="tcp://127.0.0.1:0")
        c = RawZMTP(self.d.ready_endpoint("requests"), socket_type=b"DEALER")
        self.addCleanup(c.close)
        c.send(b"", more=True)  # the delimiter
        sent = self.endless_message(c, 1000 * 1000)
        closed = self.wait_closed(c)
        self.check_after("an endless message of 1 MB frames (%.0f MB sent) on the request "
                         "socket" % (sent / MB))
        self.assertTrue(closed, "the bridge kept the connection open")
        self.assertRegex(self.d.stderr(), "closed a request connection: (sent|holds)")

    @unittest.skipIf(websocket is None, "python3-websocket (websocket-client) is not installed")
    def test_endless_multipart_ws(self):
        """500-byte ZWS frames with MORE on the stream socket's ws:// endpoint: closed too."""
        ws = self.ws_peer()
        ws.send_binary(b"\x00")                 # our (empty) routing id
        ws.send_binary(b"\x00\x01sensor/")      # a whole subscription first
        frame = b"\x01" + b"m" * 500            # MORE, never a last one
        sent, closed = 0, False
        while sent < 200 * MB and not closed:
            try:
                ws.send_binary(frame)
            except (websocket.WebSocketException, ConnectionError, socket.error):
                closed = True
                break
            sent += len(frame)
            if sent % (4 * MB) < len(frame):
                self.collect(0)
                if self.over_budget():
                    break
        deadline = time.monotonic() + ATTACK_TIMEOUT
        ws.settimeout(0.05)
        while not closed and time.monotonic() < deadline and not self.over_budget():
            try:
                op, _ = ws.recv_data(control_frame=True)
                closed = op == websocket.ABNF.OPCODE_CLOSE
            except websocket.WebSocketTimeoutException:
                self.collect(0.01)
            except (websocket.WebSocketException, ConnectionError, socket.error):
                closed = True
        self.check_after("an endless message of 500-byte frames (%.0f MB sent) over ws://"
                         % (sent / MB))
        self.assertTrue(closed, "the bridge kept the WebSocket open")
        # closed by its own allowance, or first by the budget over all connections (on a loaded
        # machine more can arrive before the 20 ms without delivery that the first rule waits for)
        self.assertRegex(self.d.stderr(), ENDLESS_CLOSED)

    def test_long_upload_not_closed(self):
        """20 chunks of 1 MiB through print.upload over tcp, then a heartbeating subscriber:
        whole messages are delivered, nothing is closed."""
        data_dir = os.path.join(self.tmp, "data")
        conf = make_conf({"v1": sensor(rate=200, batch=10)}, bridge={"data_dir": data_dir},
                         raw="[print]\napproval = no\n")
        self.lab(conf=conf, pub="tcp://127.0.0.1:0", rpc="tcp://127.0.0.1:0")
        up = self.client(self.d.ready_endpoint("requests"), timeout=30)
        # the stream socket over tcp, with ZMTP heartbeats every 5 ms both ways
        hb = self.ctx.socket(zmq.SUB)
        hb.setsockopt(zmq.LINGER, 0)
        hb.setsockopt(zmq.HEARTBEAT_IVL, 5)
        hb.setsockopt(zmq.HEARTBEAT_TIMEOUT, 2000)
        hb.setsockopt(zmq.RECONNECT_IVL, -1)
        hb_mon = hb.get_monitor_socket(zmq.EVENT_DISCONNECTED)
        self._sockets += [hb_mon, hb]
        hb.setsockopt(zmq.SUBSCRIBE, b"bridge/heartbeat/")
        hb.connect(self.d.ready_endpoint("streams"))
        self.assertTrue(hb.poll(10000), "no heartbeat over tcp")
        line = b"G1 X10.0 Y10.0 F3000 ; a long G-code file, one line of 64 bytes\n"
        self.assertEqual(len(line), 64)
        chunk = line * (MB // 64)  # 1 MiB
        crc = 0
        for i in range(20):
            r = up.request("print.upload", {"request_id": "long-1", "name": "big.gcode",
                                            "offset": i * MB}, frames=[chunk])
            self.assertEqual(r.get("result"), {"received": (i + 1) * MB}, r)
            crc = zlib.crc32(chunk, crc)
            self.collect(0)
        job = up.call("print.upload", {"request_id": "long-1", "name": "big.gcode",
                                       "offset": 20 * MB, "final": True, "crc32": crc})
        self.assertEqual(job["size"], 20 * MB)
        self.assertFalse(hb_mon.poll(0), "the heartbeating subscriber was disconnected")
        while hb.poll(0):
            hb.recv_multipart()
        self.assertTrue(hb.poll(10000), "the heartbeating subscriber stopped receiving")
        self.assertNotIn("never made a whole message", self.d.stderr())
        self.check_after("a 20 MiB upload in 1 MiB chunks")

    # ------------------------------------------------------------------ a subscriber that stalls

    def stalled_scan(self, pub, limit_mb, settings, fmt="jpeg", timeout=120, ws=False):
        """A client subscribes to the SANE test scanner's image (by hand: nothing of its own reads
        for it; on the ws:// endpoint if ws) and never reads while a scan job runs; another reads
        every band. Returns whether the stalled one was closed, and the bands read."""
        data_dir = os.path.join(self.tmp, "data")
        bridge = {"emulate": "sane", "request_timeout_ms": 10000, "data_dir": data_dir}
        if limit_mb is not None:
            bridge["subscriber_max_mb"] = limit_mb
        # a page speaks plain ZWS2.0, without a handshake: it has remote_role, and only a
        # teacher receives a scan's image (PROTOCOL.md, Who receives which topics)
        access = {"remote_role": "teacher"} if ws else None
        self.lab(conf=make_conf({"v1": sensor(rate=200, batch=10)}, bridge=bridge,
                                access=access), pub=pub, rpc="tcp://127.0.0.1:0", ws=ws)
        wait_until(lambda: any(d["id"] == SANE_DEV for d in self.rpc.call("devices.list")),
                   timeout=10, what="the SANE test scanner")
        if ws:
            url = self.rpc.call("bridge.info")["endpoints"]["ws"]
            stalled = StalledWS(url)
            self.addCleanup(stalled.close)
            # ws:// subscriptions come with no fd: every WebSocket is offered the bands, and
            # counts them only while backed up. One that subscribed to the heartbeat alone
            # (and does not read during the scan either) is not closed.
            self.bystander = StalledWS(url)
            self.addCleanup(self.bystander.close)
            self.bystander.send(b"\x01bridge/heartbeat/")
        else:
            stalled = self.raw(self.d.ready_endpoint("streams"))
        stalled.send(b"\x01" + SANE_IMAGE.encode())
        # the reader holds what it receives (its libzmq reads ahead of it): it keeps up
        reader = self.subscriber(self.d.ready_endpoint("streams"), [SANE_IMAGE, SANE_SCANS],
                                 rcvhwm=0)
        # the stalled client's subscription is in before the scan starts: it travelled before
        # the reader's, whose heartbeat came through (Subscriber's sync)
        job = self.rpc.call("scan.submit", {"device": SANE_DEV, "format": fmt,
                                            "settings": settings}, timeout=10)
        bands, end = [], None
        deadline = time.monotonic() + timeout
        while end is None and time.monotonic() < deadline:
            for m in reader.collect(seconds=0.05):
                if m.topic == SANE_IMAGE:
                    bands.append(m)
                elif m.data.get("id") == job["id"] and m.data.get("event") in SANE_ENDED:
                    end = m.data
            self.collect(0)
            self.rpc.call("bridge.info", timeout=10)  # requests are answered meanwhile
        self.assertIsNotNone(end, "the scan job did not end within %d s" % timeout)
        self.assertEqual(end["event"], "done", end)
        # the last band may still be on its way after the job's end event
        if not bands or not sane_band(bands[-1])["last"]:
            bands += reader.collect(seconds=10, topic=SANE_IMAGE,
                                    until=lambda got: got and sane_band(got[-1])["last"])
        # the stalled client reads now: what the kernel holds for it, then the end if it was closed
        return stalled.closed(10 if limit_mb != 0 else 0.5), bands

    def check_bands(self, bands):
        """Every band of the scan, in order: no seq gap, rows from the first to the last."""
        self.assertTrue(bands, "the reader got no band")
        self.assertEqual(seq_gaps(bands), [], "the reader lost bands")
        heads = [sane_band(m) for m in bands]
        self.assertEqual(heads[0]["first"], 0)
        self.assertTrue(heads[-1]["last"], "the reader did not get the last band")
        self.assertEqual(sum(h["rows"] for h in heads), heads[0]["height"])

    def test_stalled_image_subscriber_closed_tcp(self):
        """An A3 600 dpi colour scan (7015 x 9920 px, 209 MB in 64-KiB bands) with a client that
        subscribed to its image and stopped reading: before, libzmq queued the whole image for it
        (223 MB resident measured). The bridge closes it once it is subscriber_max_mb behind (16
        here: with the default 32 the peak was 58 MB, close to check_after's 64 MB); a client
        that reads gets every band."""
        closed, bands = self.stalled_scan("tcp://127.0.0.1:0", 16, dict(
            {"mode": "Color", "resolution": 600, "page": "A3"}, **PACED))
        self.check_bands(bands)
        self.assertTrue(9920 <= sane_band(bands[0])["height"] <= 9921)  # 420 mm at 600 dpi
        peak = self.check_after("a client stalled on an A3 600 dpi colour scan's image (tcp)")
        self.assertTrue(closed, "the bridge kept the stalled client's connection open")
        self.assertRegex(self.d.stderr(), r"closed a stream connection: 127\.0\.0\.1:\d+ fell "
                         r"1[67]\.\d MB behind .*subscriber_max_mb = 16.*" + SANE_IMAGE)
        # what it may have held: the limit, a band, what the scan itself takes (the bench's
        # 23-45 MB for a PDF job with the idle bridge)
        self.assertLessEqual(peak - self.before, 16 * MB + 40 * MB)

    def test_stalled_image_subscriber_closed_ipc(self):
        """The same over ipc:// (no count of bytes written: the socket's fullness), with a lower
        limit and a smaller scan (A4 300 dpi colour, 26 MB): closed past 4 MB."""
        closed, bands = self.stalled_scan("ipc://%s/stall-pub" % self.tmp, 4, dict(
            {"mode": "Color", "resolution": 300, "page": "A4"}, **PACED))
        self.check_bands(bands)
        peak = self.check_after("a client stalled on an A4 300 dpi colour scan's image (ipc)")
        self.assertTrue(closed, "the bridge kept the stalled client's connection open")
        self.assertRegex(self.d.stderr(), r"closed a stream connection: a local program \(ipc\) "
                         r"fell [4-9]\.\d MB behind")
        self.assertLessEqual(peak - self.before, 4 * MB + 40 * MB)

    @unittest.skipIf(websocket is None, "python3-websocket (websocket-client) is not installed")
    def test_stalled_image_subscriber_closed_ws(self):
        """The same over ws:// (a web page whose tab is in the background): TCP's count."""
        closed, bands = self.stalled_scan("tcp://127.0.0.1:0", 4, dict(
            {"mode": "Color", "resolution": 300, "page": "A4"}, **PACED), ws=True)
        self.check_bands(bands)
        peak = self.check_after("a client stalled on an A4 300 dpi colour scan's image (ws://)")
        self.assertTrue(closed, "the bridge kept the stalled WebSocket open")
        self.assertFalse(self.bystander.closed(1.5), "a WebSocket not on the image was closed")
        self.assertEqual(self.d.stderr().count(" MB behind "), 1)
        self.assertRegex(self.d.stderr(), r"closed a stream connection: 127\.0\.0\.1:\d+ fell "
                         r"[4-9]\.\d MB behind")
        self.assertLessEqual(peak - self.before, 4 * MB + 40 * MB)

    def test_stalled_image_subscriber_without_limit(self):
        """subscriber_max_mb = 0: no limit, the stalled client stays and the bridge holds the
        whole image for it (what the tests above would see without the limit)."""
        closed, bands = self.stalled_scan("ipc://%s/stall-pub" % self.tmp, 0,
                                          {"mode": "Color", "resolution": 300, "page": "A4"})
        self.check_bands(bands)
        peak = self.check_after("a client stalled on an A4 300 dpi colour scan's image, no limit")
        self.assertFalse(closed, "closed with no limit")
        self.assertNotIn("behind", self.d.stderr())
        self.assertGreater(peak - self.before, 20 * MB)  # the 26 MB image, queued


class StalledWS:
    """A raw ZWS 2.0 subscriber that reads nothing until asked whether it was closed."""

    def __init__(self, url):
        self.ws = websocket.create_connection(url, subprotocols=["ZWS2.0"], timeout=5)
        self.ws.send_binary(b"\x00")  # our (empty) routing id

    def send(self, data):
        self.ws.send_binary(b"\x00" + data)  # one frame, the last of its message

    def closed(self, timeout):
        """Whether the bridge closes the WebSocket within timeout (what it sent is read)."""
        deadline = time.monotonic() + timeout
        self.ws.settimeout(0.5)
        while time.monotonic() < deadline:
            try:
                op, _ = self.ws.recv_data(control_frame=True)
                if op == websocket.ABNF.OPCODE_CLOSE:
                    return True
            except websocket.WebSocketTimeoutException:
                continue
            except (websocket.WebSocketException, ConnectionError, socket.error):
                return True
        return False

    def close(self):
        self.ws.close()


SANE_DEV = "sane-test_0"
SANE_IMAGE = "scanner/%s/image/" % SANE_DEV
SANE_SCANS = "bridge/scans/"
SANE_ENDED = ("done", "failed", "cancelled", "interrupted")
SANE_HDR = struct.Struct("<4sBBBBIiIIII")  # protocols/scanband.h
# A scanner at a pace the reader can follow on a loaded machine: the test backend pauses 200 ms
# after each buffer of its pipe (1.5 MB at A4 300 dpi, ~7 MB at A3 600 dpi, sent at full speed):
# A3 600 dpi in ~6 s (a real scanner takes minutes). At full speed (300+ MB/s) a reader whose
# process is not scheduled for 50 ms falls 16 MB behind and is closed too: by design.
PACED = {"read-delay": True, "read-delay-duration": 200000}


def sane_band(m):
    """The header fields of a scanner band message (test_scanner_sane.band's)."""
    magic, ver, fmt, depth, flags, w, h, first, rows, bpl, page = SANE_HDR.unpack_from(m.frames[2])
    assert magic == b"LBSB" and ver == 1, m.frames[2][:8]
    return dict(last=bool(flags & 1), width=w, height=h, first=first, rows=rows)


if __name__ == "__main__":
    unittest.main()
