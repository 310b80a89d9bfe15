"""Where the examples find labbridge, and the CURVE keys to reach another computer's bridge.

The same settings as labctl (README.md, "Another computer's bridge"), first found wins:

    LABBRIDGE_RPC, LABBRIDGE_PUB        the request / stream endpoints
    LABBRIDGE_CONNECT                   tcp://HOST:PORT,tcp://HOST:PORT (requests, streams) or HOST
    LABBRIDGE_KEY                       our key pair: NAME.key_secret from `labctl keys new`
    LABBRIDGE_SERVER_KEY                the bridge's public key (Z85), or a file holding it
    ~/.config/labbridge/client.ini      [bridge] connect, rpc, pub, key, server_key
                                        (or the file LABBRIDGE_CLIENT_CONF names)

With a key alone, the endpoints and the bridge's key written in it by `labctl keys new` are used.
Without any of these: this computer's bridge, tcp://127.0.0.1:5556 and :5555.

    import labbridge_net
    labbridge_net.add_options(ap)   # --connect, --key, --server-key (before ap.parse_args())
    rpc = ctx.socket(zmq.DEALER); labbridge_net.connect(rpc, "rpc")
    sub = ctx.socket(zmq.SUB);    labbridge_net.connect(sub, "pub")

Needs pyzmq only (Debian: python3-zmq).
"""
import argparse
import configparser
import os
import re
import sys

import zmq
import zmq.auth
import zmq.utils.monitor
import zmq.utils.z85

LOCAL = {"rpc": "tcp://127.0.0.1:5556", "pub": "tcp://127.0.0.1:5555"}
PORTS = {"rpc": 5556, "pub": 5555}  # what a bare host name stands for
HANDSHAKE_S = 10.0  # how long to wait for a CURVE handshake


def _client_ini():
    """{key: value} of client.ini's [bridge] section (paths made absolute), or {}."""
    path = os.environ.get("LABBRIDGE_CLIENT_CONF") or os.path.join(
        os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config"),
        "labbridge", "client.ini")
    cp = configparser.ConfigParser(interpolation=None)
    try:
        with open(path) as f:
            cp.read_file(f)
    except FileNotFoundError:
        if os.environ.get("LABBRIDGE_CLIENT_CONF"):
            sys.exit("labbridge: cannot read %s" % path)
        return {}
    conf = dict(cp["bridge"]) if cp.has_section("bridge") else {}
    for k in ("key", "server_key"):
        v = conf.get(k)
        if v and not (k == "server_key" and len(v) == 40 and not os.path.exists(v)):
            conf[k] = os.path.join(os.path.dirname(path), os.path.expanduser(v))
    return conf


def _split(connect):
    """(rpc, pub) of a connect value: 'RPC,PUB', 'RPC' (no streams) or a host name."""
    if "://" not in connect and "," not in connect:
        return tuple("tcp://%s:%d" % (connect, PORTS[w]) for w in ("rpc", "pub"))
    parts = connect.split(",")
    if len(parts) > 2 or not all(re.fullmatch(r"tcp://.+:\d+", p) for p in parts):
        sys.exit("labbridge: connect %r is not tcp://HOST:PORT[,tcp://HOST:PORT]" % connect)
    return parts[0], parts[1] if len(parts) == 2 else ""


def _metadata(path):
    """The metadata of a zcert file (labctl keys new writes server-key, net_rpc, net_pub)."""
    meta = {}
    with open(path) as f:
        for line in f:
            m = re.match(r'\s+([\w-]+)\s*=\s*"(.*)"\s*$', line)
            if m:
                meta[m.group(1)] = m.group(2)
    return meta


def _server_key(value):
    """The bridge's public key from a Z85 key or a certificate file."""
    if len(value) == 40 and not os.path.exists(value):
        try:
            zmq.utils.z85.decode(value.encode())
            return value
        except Exception:
            pass
        sys.exit("labbridge: the server key %r is not 40 characters of Z85" % value)
    try:
        meta = _metadata(value)
    except OSError as e:
        sys.exit("labbridge: the server key is neither a Z85 key nor a readable file (%s)" % e)
    key = meta.get("server-key") or meta.get("public-key")
    if not key:
        sys.exit("labbridge: %s holds no public key" % value)
    return key


class _SetEnv(argparse.Action):
    """An option that sets its environment variable, which settings() then reads."""

    def __call__(self, parser, namespace, values, option_string=None):
        os.environ[self.const] = values
        if self.const == "LABBRIDGE_CONNECT":  # the command line first: over these too
            os.environ.pop("LABBRIDGE_RPC", None)
            os.environ.pop("LABBRIDGE_PUB", None)
        setattr(namespace, self.dest, values)


def add_options(ap):
    """Give an example's argparse parser labctl's options: --connect, --key, --server-key."""
    g = ap.add_argument_group("another computer's bridge (CURVE; see labbridge_net.py)")
    g.add_argument("--connect", action=_SetEnv, const="LABBRIDGE_CONNECT", metavar="RPC[,PUB]",
                   help="tcp://HOST:PORT[,tcp://HOST:PORT], or HOST ($LABBRIDGE_CONNECT)")
    g.add_argument("--key", action=_SetEnv, const="LABBRIDGE_KEY", metavar="FILE",
                   help="our key pair, NAME.key_secret from labctl keys new ($LABBRIDGE_KEY)")
    g.add_argument("--server-key", action=_SetEnv, const="LABBRIDGE_SERVER_KEY",
                   metavar="Z85|FILE", help="the bridge's public key ($LABBRIDGE_SERVER_KEY)")


def settings():
    """{"rpc", "pub", "public", "secret", "server"} (keys None without CURVE), as described at
    the top; exits with a message when a key or an endpoint is not usable."""
    ini = _client_ini()
    levels = [{"connect": os.environ.get("LABBRIDGE_CONNECT"),
               "rpc": os.environ.get("LABBRIDGE_RPC"), "pub": os.environ.get("LABBRIDGE_PUB"),
               "key": os.environ.get("LABBRIDGE_KEY"),
               "server_key": os.environ.get("LABBRIDGE_SERVER_KEY")}, ini]
    first = lambda k: next((l[k] for l in levels if l.get(k)), None)
    out = {"public": None, "secret": None, "server": None, "rpc": None, "pub": None}
    for l in levels:
        rpc, pub = _split(l["connect"]) if l.get("connect") else (None, None)
        for w, v in (("rpc", l.get("rpc") or rpc), ("pub", l.get("pub") or pub)):
            if out[w] is None and v is not None:
                out[w] = v
    meta = {}
    key = first("key")
    if key:
        try:
            public, secret = zmq.auth.load_certificate(key)
            meta = _metadata(key)
        except (OSError, ValueError) as e:
            sys.exit("labbridge: cannot read the key file %s: %s" % (key, e))
        if not secret:
            sys.exit("labbridge: %s holds a public key only: give the NAME.key_secret file "
                     "labctl keys new wrote" % key)
        out["public"], out["secret"] = public, secret
        server = first("server_key")
        out["server"] = (_server_key(server) if server else meta.get("server-key") or
                         sys.exit("labbridge: the bridge's public key is not known: set "
                                  "LABBRIDGE_SERVER_KEY (labctl keys export shows it)")).encode()
    for w, m in (("rpc", "net_rpc"), ("pub", "net_pub")):
        if out[w] is None:
            out[w] = meta.get(m, "") if key else LOCAL[w]
    return out


def connect(sock, which, endpoint=None, timeout=HANDSHAKE_S):
    """Connect sock to the bridge's `which` endpoint ("rpc" or "pub"; endpoint overrides it),
    with CURVE when a key is set: then wait for the handshake, and exit with a clear message
    when the bridge refuses the key or the server key is wrong. Returns the endpoint."""
    s = settings()
    ep = endpoint or s[which]
    if not ep:
        sys.exit("labbridge: no %s endpoint known: set LABBRIDGE_CONNECT=RPC,PUB" % which)
    if not s["secret"]:
        sock.connect(ep)
        return ep
    sock.curve_serverkey = s["server"]
    sock.curve_publickey = s["public"]
    sock.curve_secretkey = s["secret"]
    mon = sock.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED |
                                  zmq.EVENT_HANDSHAKE_FAILED_AUTH |
                                  zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL |
                                  zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)
    try:
        sock.connect(ep)
        if not mon.poll(int(timeout * 1000)):
            sys.exit("labbridge: no answer from the bridge at %s within %g s" % (ep, timeout))
        ev = zmq.utils.monitor.recv_monitor_message(mon)["event"]
    finally:
        sock.disable_monitor()
        mon.close(0)
    if ev == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
        sys.exit("labbridge: the bridge at %s refused this key (revoked or unknown)" % ep)
    if ev == zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL:
        sys.exit("labbridge: the bridge at %s closed the connection during the CURVE "
                 "handshake: the server key is probably wrong, or this is not its "
                 "net_rpc/net_pub endpoint" % ep)
    if ev != zmq.EVENT_HANDSHAKE_SUCCEEDED:
        sys.exit("labbridge: %s does not speak CURVE as expected" % ep)
    return ep
