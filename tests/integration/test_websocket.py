"""The stream socket over WebSocket (ZWS 2.0, RFC 45), as a web page would use it.

Framing, as verified against this bridge (libzmq 4.3.4's ws engine) and libzmq's ws_engine.cpp:

* open with the subprotocol "ZWS2.0" (the bridge answers "ZWS2.0"; with "ZWS2.0/NULL" a ZMTP
  NULL-mechanism READY handshake would follow instead);
* each ZeroMQ frame is one binary WebSocket message whose first byte is a flag byte (bit 0 MORE:
  more frames follow; bit 1 COMMAND), then the frame's bytes;
* with plain "ZWS2.0" each side first sends its routing id as one message: the bridge's is empty
  (the single byte 0x00), and the first message the client sends is taken as the client's routing
  id and otherwise ignored. So the client must send a routing-id message first (0x00), THEN
  subscribe with a message 0x00 0x01 <prefix> (flag, 0x01 = subscribe, prefix; 0x00 0x00 <prefix>
  unsubscribes).
* A ZMTP 3.1 SUBSCRIBE command frame (flag 0x02, body "\\x09SUBSCRIBE" + prefix) does not subscribe
  on this libzmq.

PROTOCOL.md's "Browsers" section omits the routing-id message: a page that sends only
0x00 0x01 <prefix> never receives anything (test_protocol_md_framing_without_routing_id).
"""
import json
import struct
import time
import unittest

from lbtest import BridgeTest, make_conf, sensor

try:
    import websocket  # Debian's python3-websocket (websocket-client)
except ImportError:  # pragma: no cover
    websocket = None

MORE, COMMAND = 0x01, 0x02


class ZWSClient:
    """A minimal ZWS 2.0 SUB peer over websocket-client."""

    def __init__(self, url, timeout=5.0, routing_id=True):
        self.ws = websocket.create_connection(url, subprotocols=["ZWS2.0"], timeout=timeout)
        self.pending = []
        if routing_id:
            self.ws.send_binary(b"\x00")  # our routing id: empty, last frame

    def subprotocol(self):
        return self.ws.getsubprotocol()

    def subscribe(self, prefix):
        self.ws.send_binary(b"\x00\x01" + prefix.encode())

    def unsubscribe(self, prefix):
        self.ws.send_binary(b"\x00\x00" + prefix.encode())

    def recv_frame(self, timeout):
        """(flags, body) of the next binary message, or None on timeout."""
        self.ws.settimeout(timeout)
        try:
            opcode, data = self.ws.recv_data()
        except websocket.WebSocketTimeoutException:
            return None
        assert opcode == websocket.ABNF.OPCODE_BINARY, "opcode %r" % opcode
        assert len(data) >= 1, "an empty WebSocket message (no flag byte)"
        return data[0], bytes(data[1:])

    def recv_message(self, timeout):
        """The frames of the next ZeroMQ message (list of bytes), or None on timeout."""
        deadline = time.monotonic() + timeout
        frames = []
        while True:
            left = deadline - time.monotonic()
            f = self.recv_frame(max(left, 0.01)) if left > 0 or frames else None
            if f is None:
                assert not frames, "message cut after %d frames" % len(frames)
                return None
            flags, body = f
            assert not flags & COMMAND, "unexpected command frame %r" % body[:40]
            frames.append(body)
            if not flags & MORE:
                return frames

    def close(self):
        try:
            self.ws.close()
        except Exception:
            pass


@unittest.skipIf(websocket is None, "python3-websocket (websocket-client) is not installed")
class WebSocketTest(BridgeTest):

    def lab(self):
        d = self.start_bridge(make_conf({
            "t1": sensor(rate=50, quantity="temperature", unit="°C", wave="constant",
                         offset=21.5),
            "t10": sensor(rate=50)}), ws=True)
        url = self.client(d).call("bridge.info")["endpoints"].get("ws")
        if url is None:
            self.skipTest("the bridge serves no WebSocket endpoint (libzmq without WS)")
        self.assertRegex(url, r"^ws://127\.0\.0\.1:[1-9]\d*")
        return d, url

    def connect(self, url, **kw):
        c = ZWSClient(url, **kw)
        self.addCleanup(c.close)
        return c

    def first_frame_is_routing_id(self, c):
        f = c.recv_frame(5)
        self.assertIsNotNone(f, "no routing id message from the bridge")
        self.assertEqual(f, (0, b""), "the bridge's first message is its empty routing id")

    def test_subscribe_and_receive_stream_messages(self):
        d, url = self.lab()
        c = self.connect(url)
        self.assertEqual(c.subprotocol().lower(), "zws2.0")
        self.first_frame_is_routing_id(c)
        c.subscribe("sensor/sim-t1/")
        msgs = []
        deadline = time.monotonic() + 10
        while len(msgs) < 12 and time.monotonic() < deadline:
            m = c.recv_message(deadline - time.monotonic())
            if m is not None:
                msgs.append(m)
        self.assertGreaterEqual(len(msgs), 10, "fewer than 10 stream messages over WebSocket")
        seqs = []
        for frames in msgs:
            self.assertEqual(len(frames), 3, "topic, header, samples")
            topic, header, samples = frames
            self.assertEqual(topic, b"sensor/sim-t1/temperature/",
                             "sensor/sim-t1/ must select exactly that device")
            h = json.loads(header)
            self.assertEqual((h["v"], h["type"], h["unit"], h["quantity"], h["sim"]),
                             (1, "f32", "°C", "temperature", True))
            self.assertEqual(h["count"] * 4, len(samples))
            self.assertEqual(struct.unpack("<%df" % h["count"], samples), (21.5,) * h["count"])
            seqs.append(h["seq"])
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))), "seq gaps")
        # the same epoch as the ZeroMQ clients see
        self.assertEqual(h["epoch"], self.client(d).call("bridge.info")["epoch"])

    def test_heartbeats_and_unsubscribe(self):
        d, url = self.lab()
        c = self.connect(url)
        self.first_frame_is_routing_id(c)
        c.subscribe("bridge/heartbeat/")
        m = c.recv_message(5)
        self.assertIsNotNone(m, "no heartbeat over WebSocket")
        self.assertEqual(m[0], b"bridge/heartbeat/")
        self.assertEqual(len(m), 2, "a json message has topic and header only")
        self.assertIn("sensor/sim-t10/voltage/", json.loads(m[1])["data"]["streams"])
        c.unsubscribe("bridge/heartbeat/")
        c.subscribe("sensor/sim-t10/")
        got = [c.recv_message(3) for _ in range(15)]
        self.assertNotIn(None, got)
        # after the switch only sim-t10 arrives (a heartbeat may still be in flight at first)
        self.assertEqual({m[0] for m in got[5:]}, {b"sensor/sim-t10/voltage/"})


if __name__ == "__main__":
    unittest.main()
