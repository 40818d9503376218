"""STUN (RFC 8489) and TURN (RFC 8656, RFC 6062) client pieces for the hostile-client suite.

Standard library only. Messages are built as bytes and parsed into (type, transaction id, attributes);
the TURN client does long-term authentication (401 with REALM/NONCE, then MESSAGE-INTEGRITY with the key
MD5(user:realm:password), 438 answered with the new nonce) over UDP or a TCP/TLS stream.
"""

import hashlib
import hmac
import ipaddress
import os
import socket
import struct
import time

MAGIC_COOKIE = 0x2112A442
COOKIE_BYTES = struct.pack("!I", MAGIC_COOKIE)

# Methods
BINDING = 0x001
ALLOCATE = 0x003
REFRESH = 0x004
SEND = 0x006
DATA = 0x007
CREATE_PERMISSION = 0x008
CHANNEL_BIND = 0x009
CONNECT = 0x00A
CONNECTION_BIND = 0x00B
CONNECTION_ATTEMPT = 0x00C

# Classes
REQUEST = 0x000
INDICATION = 0x010
SUCCESS = 0x100
ERROR = 0x110

# Attributes
MAPPED_ADDRESS = 0x0001
USERNAME = 0x0006
MESSAGE_INTEGRITY = 0x0008
ERROR_CODE = 0x0009
CHANNEL_NUMBER = 0x000C
LIFETIME = 0x000D
XOR_PEER_ADDRESS = 0x0012
DATA_ATTR = 0x0013
REALM = 0x0014
NONCE = 0x0015
XOR_RELAYED_ADDRESS = 0x0016
REQUESTED_ADDRESS_FAMILY = 0x0017
REQUESTED_TRANSPORT = 0x0019
XOR_MAPPED_ADDRESS = 0x0020
CONNECTION_ID = 0x002A
ADDITIONAL_ADDRESS_FAMILY = 0x8000
SOFTWARE = 0x8022
FINGERPRINT = 0x8028

UDP_PROTOCOL = 17
TCP_PROTOCOL = 6


def message_type(method, klass):
    """RFC 8489 §5: method bits M0-M11 interleaved with the class bits C0 (bit 4) and C1 (bit 8)."""
    return ((method & 0x0F80) << 2) | ((method & 0x0070) << 1) | (method & 0x000F) | klass


def split_type(mtype):
    klass = mtype & 0x0110
    method = (mtype & 0x000F) | ((mtype & 0x00E0) >> 1) | ((mtype & 0x3E00) >> 2)
    return method, klass


def new_txid():
    return os.urandom(12)


def attr(atype, value):
    pad = (4 - len(value) % 4) % 4
    return struct.pack("!HH", atype, len(value)) + value + b"\x00" * pad


def build(method, klass, attrs=b"", txid=None, integrity_key=None):
    """A STUN message; with integrity_key, MESSAGE-INTEGRITY (HMAC-SHA1) is appended as RFC 8489 §14.5
    asks: the header length counts the attribute (24 bytes) while the HMAC runs over what precedes it."""
    txid = txid or new_txid()
    mtype = message_type(method, klass)
    if integrity_key is None:
        return struct.pack("!HHI", mtype, len(attrs), MAGIC_COOKIE) + txid + attrs
    header = struct.pack("!HHI", mtype, len(attrs) + 24, MAGIC_COOKIE) + txid
    mac = hmac.new(integrity_key, header + attrs, hashlib.sha1).digest()
    return header + attrs + attr(MESSAGE_INTEGRITY, mac)


def binding_request(txid=None):
    return build(BINDING, REQUEST, txid=txid)


def long_term_key(username, realm, password):
    return hashlib.md5(f"{username}:{realm}:{password}".encode()).digest()


def xor_address(ip, port, txid):
    """XOR-PEER-ADDRESS / XOR-MAPPED-ADDRESS value for an IPv4 or IPv6 address (text or bytes)."""
    packed = ipaddress.ip_address(ip).packed if isinstance(ip, str) else bytes(ip)
    xport = port ^ (MAGIC_COOKIE >> 16)
    if len(packed) == 4:
        xaddr = bytes(a ^ b for a, b in zip(packed, COOKIE_BYTES))
        return struct.pack("!BBH", 0, 1, xport) + xaddr
    mask = COOKIE_BYTES + txid
    xaddr = bytes(a ^ b for a, b in zip(packed, mask))
    return struct.pack("!BBH", 0, 2, xport) + xaddr


def parse_xor_address(value, txid):
    family = value[1]
    port = struct.unpack("!H", value[2:4])[0] ^ (MAGIC_COOKIE >> 16)
    if family == 1:
        addr = bytes(a ^ b for a, b in zip(value[4:8], COOKIE_BYTES))
        return str(ipaddress.IPv4Address(addr)), port
    mask = COOKIE_BYTES + txid
    addr = bytes(a ^ b for a, b in zip(value[4:20], mask))
    return str(ipaddress.IPv6Address(addr)), port


class Message:
    def __init__(self, mtype, txid, attrs, raw):
        self.type = mtype
        self.method, self.klass = split_type(mtype)
        self.txid = txid
        self.attrs = attrs  # list of (type, value)
        self.raw = raw

    def get(self, atype):
        for t, v in self.attrs:
            if t == atype:
                return v
        return None

    def get_all(self, atype):
        return [v for t, v in self.attrs if t == atype]

    @property
    def error_code(self):
        v = self.get(ERROR_CODE)
        if v is None or len(v) < 4:
            return None
        return (v[2] & 0x07) * 100 + v[3]

    @property
    def status(self):
        """200 for a success response, the error code for an error response, None otherwise."""
        if self.klass == SUCCESS:
            return 200
        if self.klass == ERROR:
            return self.error_code
        return None

    def xor_address(self, atype):
        v = self.get(atype)
        return parse_xor_address(v, self.txid) if v is not None else None


def parse(data):
    """A Message, or None when data is not one whole STUN message."""
    if len(data) < 20:
        return None
    mtype, length, cookie = struct.unpack("!HHI", data[:8])
    if mtype & 0xC000 or cookie != MAGIC_COOKIE or len(data) < 20 + length:
        return None
    txid = data[8:20]
    attrs = []
    pos, end = 20, 20 + length
    while pos + 4 <= end:
        atype, alen = struct.unpack("!HH", data[pos:pos + 4])
        attrs.append((atype, data[pos + 4:pos + 4 + alen]))
        pos += 4 + alen + (4 - alen % 4) % 4
    return Message(mtype, txid, attrs, data[:end])


class StreamFramer:
    """Frames STUN messages and ChannelData (padded to 4 bytes) off a TCP/TLS byte stream."""

    def __init__(self):
        self.buf = bytearray()

    def feed(self, data):
        self.buf += data

    def next(self):
        if len(self.buf) < 4:
            return None
        first = self.buf[0]
        if first < 0x40:  # STUN
            if len(self.buf) < 20:
                return None
            total = 20 + struct.unpack("!H", self.buf[2:4])[0]
            if len(self.buf) < total:
                return None
            frame = bytes(self.buf[:total])
            del self.buf[:total]
            return ("stun", parse(frame))
        channel, length = struct.unpack("!HH", self.buf[:4])
        total = 4 + length + (4 - length % 4) % 4
        if len(self.buf) < total:
            return None
        frame = bytes(self.buf[4:4 + length])
        del self.buf[:total]
        return ("channel", (channel, frame))


def recv_stun_stream(sock, framer, deadline):
    """Reads until one frame is available; returns it, or None on timeout; raises EOFError on close."""
    while True:
        frame = framer.next()
        if frame is not None:
            return frame
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        sock.settimeout(left)
        try:
            data = sock.recv(65536)
        except socket.timeout:
            return None
        if not data:
            raise EOFError("connection closed")
        framer.feed(data)


class TurnError(Exception):
    pass


class TurnClient:
    """One TURN client on one 5-tuple: UDP (sock is a datagram socket) or a stream (TCP or TLS socket)."""

    def __init__(self, sock, server, username, password, stream=False, timeout=3.0):
        self.sock = sock
        self.server = server
        self.username = username
        self.password = password
        self.stream = stream
        self.timeout = timeout
        self.realm = None
        self.nonce = None
        self.key = None
        self.framer = StreamFramer()
        self.pending = []  # indications and ChannelData received while waiting for a response

    def _send(self, data):
        if self.stream:
            self.sock.sendall(data)
        else:
            self.sock.sendto(data, self.server)

    def _recv(self, deadline):
        """One incoming frame as ('stun', Message) or ('channel', (number, data)), or None."""
        if self.stream:
            return recv_stun_stream(self.sock, self.framer, deadline)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                data, _ = self.sock.recvfrom(65536)
            except socket.timeout:
                return None
            if data and data[0] >= 0x40 and len(data) >= 4:
                channel, length = struct.unpack("!HH", data[:4])
                return ("channel", (channel, data[4:4 + length]))
            message = parse(data)
            if message is not None:
                return ("stun", message)

    def transact(self, method, attrs=b"", authenticate=True, retransmit=True):
        """Sends a request (signed when credentials are known) and returns the response Message.
        A 401 or 438 is answered once with the realm and nonce it carries."""
        for _ in range(3):
            txid = new_txid()
            if authenticate and self.key is not None:
                auth = attr(USERNAME, self.username.encode()) + attr(REALM, self.realm) + attr(NONCE, self.nonce)
                data = build(method, REQUEST, attrs + auth, txid, self.key)
            else:
                data = build(method, REQUEST, attrs, txid)
            response = self._await(txid, data, retransmit and not self.stream)
            if response is None:
                raise TurnError(f"no response to method 0x{method:03x}")
            if authenticate and response.status in (401, 438) and response.get(NONCE) is not None:
                if response.status == 401 and self.key is not None and response.get(REALM) == self.realm:
                    return response  # refused with the credentials: do not loop
                self.realm = response.get(REALM) or self.realm
                self.nonce = response.get(NONCE)
                self.key = long_term_key(self.username, self.realm.decode(), self.password)
                continue
            return response
        raise TurnError("authentication did not converge")

    def _await(self, txid, data, retransmit):
        self._send(data)
        start = time.monotonic()
        deadline = start + self.timeout
        rto = 0.5
        next_retransmit = start + rto
        while True:
            now = time.monotonic()
            if now >= deadline:
                return None
            wait_until = min(deadline, next_retransmit) if retransmit else deadline
            frame = self._recv(wait_until)
            if frame is None:
                if retransmit and time.monotonic() >= next_retransmit:
                    self._send(data)
                    rto *= 2
                    next_retransmit = time.monotonic() + rto
                continue
            kind, value = frame
            if kind == "stun" and value.txid == txid and value.klass in (SUCCESS, ERROR):
                return value
            self.pending.append(frame)

    def allocate(self, transport=UDP_PROTOCOL, extra=b""):
        response = self.transact(ALLOCATE, attr(REQUESTED_TRANSPORT, bytes([transport, 0, 0, 0])) + extra)
        return response

    def create_permission(self, ip, port=0):
        return self._peer_request(CREATE_PERMISSION, ip, port)

    def channel_bind(self, ip, port, channel):
        return self._peer_request(CHANNEL_BIND, ip, port, attr(CHANNEL_NUMBER, struct.pack("!HH", channel, 0)))

    def connect(self, ip, port):
        return self._peer_request(CONNECT, ip, port)

    def _peer_request(self, method, ip, port, extra=b""):
        # XOR-PEER-ADDRESS of an IPv6 peer is masked with the transaction id, so the message is built
        # per attempt (a 438 makes a new one).
        for _ in range(3):
            txid = new_txid()
            attrs = attr(XOR_PEER_ADDRESS, xor_address(ip, port, txid)) + extra
            if self.key is None:
                raise TurnError("allocate first")
            auth = attr(USERNAME, self.username.encode()) + attr(REALM, self.realm) + attr(NONCE, self.nonce)
            data = build(method, REQUEST, attrs + auth, txid, self.key)
            response = self._await(txid, data, not self.stream)
            if response is None:
                raise TurnError(f"no response to method 0x{method:03x}")
            if response.status == 438 and response.get(NONCE) is not None:
                self.nonce = response.get(NONCE)
                continue
            return response
        raise TurnError("stale nonce loop")

    def refresh(self, lifetime=None):
        attrs = attr(LIFETIME, struct.pack("!I", lifetime)) if lifetime is not None else b""
        return self.transact(REFRESH, attrs)

    def binding(self):
        return self.transact(BINDING, authenticate=False)

    def send_indication(self, ip, port, payload):
        txid = new_txid()
        attrs = attr(XOR_PEER_ADDRESS, xor_address(ip, port, txid)) + attr(DATA_ATTR, payload)
        self._send(build(SEND, INDICATION, attrs, txid))

    def receive(self, timeout):
        """Next indication or ChannelData (pending first), or None."""
        if self.pending:
            return self.pending.pop(0)
        return self._recv(time.monotonic() + timeout)


def channel_data(channel, payload, stream=False):
    pad = b"\x00" * ((4 - len(payload) % 4) % 4) if stream else b""
    return struct.pack("!HH", channel, len(payload)) + payload + pad
