"""Measuring and probing helpers for the hostile-client suite and the soak (standard library only):
the server's RSS and open fds from /proc, a background sampler for peaks, a well-behaved prober
(UDP Binding, TCP Binding on a fresh connection, HTTP GET /healthz every ~200 ms from its own source
address), a small raw HTTP/1.1 client and a raw WebSocket client."""

import base64
import errno
import os
import select
import socket
import struct
import threading
import time

import stunlib

MIB = 1024 * 1024


# ---------------------------------------------------------------------------------------------- /proc

def rss_bytes(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def alive(pid):
    return os.path.exists(f"/proc/{pid}") and rss_bytes(pid) is not None


class Sampler(threading.Thread):
    """Samples the server's RSS and fds every 100 ms; peak() is the maximum since mark()."""

    def __init__(self, pid, period=0.1):
        super().__init__(daemon=True)
        self.pid = pid
        self.period = period
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.peak_rss = 0
        self.peak_fds = 0

    def run(self):
        while not self.stop_event.is_set():
            self.sample()
            self.stop_event.wait(self.period)

    def sample(self):
        rss, fds = rss_bytes(self.pid), fd_count(self.pid)
        with self.lock:
            if rss is not None:
                self.peak_rss = max(self.peak_rss, rss)
            if fds is not None:
                self.peak_fds = max(self.peak_fds, fds)
        return rss, fds

    def mark(self):
        rss, fds = rss_bytes(self.pid) or 0, fd_count(self.pid) or 0
        with self.lock:
            self.peak_rss, self.peak_fds = rss, fds
        return rss, fds

    def peak(self):
        self.sample()
        with self.lock:
            return self.peak_rss, self.peak_fds

    def stop(self):
        self.stop_event.set()


# ------------------------------------------------------------------------------------------- sockets

def tcp_connect(host, port, src=None, timeout=3.0, rcvbuf=None, family=None):
    family = family or (socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if rcvbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if src:
            sock.bind((src, 0))
        sock.settimeout(timeout)
        sock.connect((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def udp_socket(src="127.0.0.1", family=socket.AF_INET):
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.bind((src, 0))
    return sock


def closed_by_peer(sock):
    """True when the peer has closed (EOF or reset) without blocking; data is read and discarded."""
    try:
        sock.setblocking(False)
        while True:
            data = sock.recv(65536)
            if not data:
                return True
    except (BlockingIOError, InterruptedError):
        return False
    except (ConnectionResetError, BrokenPipeError, ConnectionAbortedError):
        return True
    except OSError as e:
        if e.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
            return False
        return True


def wait_closed(socks, deadline):
    """Waits until every socket is closed by the peer or the deadline passes. Returns (closed, open,
    seconds until the last closed one) with sockets in non-blocking mode."""
    start = time.monotonic()
    pending = {s.fileno(): s for s in socks}
    closed = 0
    last = 0.0
    for s in socks:
        s.setblocking(False)
    while pending and time.monotonic() < deadline:
        left = max(0.0, deadline - time.monotonic())
        poller = select.poll()
        for fd in pending:
            poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        events = poller.poll(min(left, 0.5) * 1000)
        for fd, _ in events:
            sock = pending.get(fd)
            if sock is not None and closed_by_peer(sock):
                del pending[fd]
                closed += 1
                last = time.monotonic() - start
    return closed, len(pending), last


def close_all(socks):
    for s in socks:
        try:
            s.close()
        except OSError:
            pass
    socks.clear() if isinstance(socks, list) else None


# ---------------------------------------------------------------------------------------------- HTTP

def http_request(host, port, method, path, body=None, headers=None, src=None, timeout=3.0):
    """One request on a fresh connection (Connection: close). Returns (status, headers dict, body)."""
    sock = tcp_connect(host, port, src=src, timeout=timeout)
    try:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
        payload = b""
        if body is not None:
            payload = body if isinstance(body, bytes) else body.encode()
            lines.append("Content-Type: application/json")
            lines.append(f"Content-Length: {len(payload)}")
        for k, v in (headers or {}).items():
            lines.append(f"{k}: {v}")
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + payload)
        data = bytearray()
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("http response timed out")
            sock.settimeout(left)
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
            parsed = _parse_http(data)
            if parsed is not None:
                return parsed
        parsed = _parse_http(data, eof=True)
        if parsed is None:
            raise ConnectionError("incomplete HTTP response")
        return parsed
    finally:
        sock.close()


def _parse_http(data, eof=False):
    head_end = data.find(b"\r\n\r\n")
    if head_end < 0:
        return None
    head = bytes(data[:head_end]).decode("latin-1").split("\r\n")
    status = int(head[0].split()[1])
    headers = {}
    for line in head[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    body = bytes(data[head_end + 4:])
    if "content-length" in headers:
        n = int(headers["content-length"])
        if len(body) >= n:
            return status, headers, body[:n]
        return None
    if headers.get("transfer-encoding", "").lower() == "chunked":
        out, pos = bytearray(), 0
        while True:
            nl = body.find(b"\r\n", pos)
            if nl < 0:
                return None
            size = int(body[pos:nl].split(b";")[0] or b"0", 16)
            if size == 0:
                return status, headers, bytes(out)
            if len(body) < nl + 2 + size + 2:
                return None
            out += body[nl + 2:nl + 2 + size]
            pos = nl + 2 + size + 2
    if eof or status in (101, 204, 304):
        return status, headers, body
    return None


# ----------------------------------------------------------------------------------------- WebSocket

def ws_handshake(sock, host, port, path="/v1/signal", timeout=3.0):
    """Sends the upgrade request and reads the answer head. Returns the status code (101 expected)
    and any bytes read past the head."""
    key = base64.b64encode(os.urandom(16)).decode()
    request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
    sock.settimeout(timeout)
    sock.sendall(request.encode())
    data = bytearray()
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed during the WebSocket handshake")
        data += chunk
    head, rest = bytes(data).split(b"\r\n\r\n", 1)
    status = int(head.split(b"\r\n")[0].split()[1])
    return status, rest


def ws_frame(opcode, payload, fin=True):
    """A masked client frame."""
    first = (0x80 if fin else 0) | opcode
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", first, 0x80 | n)
    elif n < 65536:
        header = struct.pack("!BBH", first, 0x80 | 126, n)
    else:
        header = struct.pack("!BBQ", first, 0x80 | 127, n)
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload)) if n < 4096 else _mask_fast(payload, mask)
    return header + mask + masked


def _mask_fast(payload, mask):
    n = len(payload)
    key = int.from_bytes((mask * ((n + 3) // 4))[:n], "big")
    return (int.from_bytes(payload, "big") ^ key).to_bytes(n, "big")


class WSReader:
    def __init__(self, sock, initial=b""):
        self.sock = sock
        self.buf = bytearray(initial)

    def _need(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("websocket read timed out")
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("websocket closed")
            self.buf += chunk

    def frame(self, timeout=3.0):
        """(fin, opcode, payload); raises EOFError on close, socket.timeout on timeout."""
        deadline = time.monotonic() + timeout
        self._need(2, deadline)
        b0, b1 = self.buf[0], self.buf[1]
        n = b1 & 0x7F
        pos = 2
        if n == 126:
            self._need(4, deadline)
            n = struct.unpack("!H", self.buf[2:4])[0]
            pos = 4
        elif n == 127:
            self._need(10, deadline)
            n = struct.unpack("!Q", self.buf[2:10])[0]
            pos = 10
        if b1 & 0x80:
            pos += 4  # servers do not mask; tolerate it anyway
        self._need(pos + n, deadline)
        payload = bytes(self.buf[pos:pos + n])
        del self.buf[:pos + n]
        return bool(b0 & 0x80), b0 & 0x0F, payload

    def until_close(self, timeout=3.0):
        """Reads frames until a close frame; returns (close code or None, texts seen). EOF without a
        close frame gives code None."""
        deadline = time.monotonic() + timeout
        texts = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("no close frame")
            try:
                fin, opcode, payload = self.frame(left)
            except EOFError:
                return None, texts
            if opcode == 0x8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                return code, texts
            if opcode == 0x1:
                texts.append(payload.decode("utf-8", "replace"))
            if opcode == 0x9:  # ping: answer, as a client must
                try:
                    self.sock.sendall(ws_frame(0xA, payload))
                except OSError:
                    pass


# -------------------------------------------------------------------------------------------- prober

class Prober(threading.Thread):
    """A well-behaved client, every ~200 ms: a UDP Binding (retransmitted at 0.5 s and 1 s), a TCP
    Binding on a fresh connection and an HTTP GET /healthz, all from its own source address. Counts
    successes and failures per kind into the current bucket (one per case)."""

    KINDS = ("udp", "tcp", "http")

    def __init__(self, host, stun_udp_port, stun_tcp_port, http_port, src="127.0.0.2", period=0.2, timeout=2.0):
        super().__init__(daemon=True)
        self.host = host
        self.stun_udp_port = stun_udp_port
        self.stun_tcp_port = stun_tcp_port
        self.skip = set()  # kinds not probed for now (expected to be refused)
        self.http_port = http_port
        self.src = src
        self.period = period
        self.timeout = timeout
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.counts = self._zero()
        self.phase_counts = self._zero()
        self.errors = []
        self.worst_ms = 0.0

    @staticmethod
    def _zero():
        return {k: [0, 0] for k in Prober.KINDS}

    def reset(self):
        """Returns the counts since the last reset (a case) and starts new ones, phases included."""
        with self.lock:
            counts, errors, worst = self.counts, self.errors, self.worst_ms
            self.counts, self.errors, self.worst_ms = self._zero(), [], 0.0
            self.phase_counts = self._zero()
        return self._summary(counts, errors, worst)

    def phase(self):
        """Returns the counts since the last phase() or reset() without touching the case's counts."""
        with self.lock:
            counts, self.phase_counts = self.phase_counts, self._zero()
        return self._summary(counts, [], None)

    @staticmethod
    def _summary(counts, errors, worst):
        return {"ok": sum(v[0] for v in counts.values()), "failed": sum(v[1] for v in counts.values()),
                "by_kind": {k: {"ok": v[0], "failed": v[1]} for k, v in counts.items()},
                "worst_ms": None if worst is None else round(worst, 1), "errors": errors[:8]}

    def run(self):
        while not self.stop_event.is_set():
            started = time.monotonic()
            for kind, probe in (("udp", self.probe_udp), ("tcp", self.probe_tcp), ("http", self.probe_http)):
                if kind in self.skip:
                    continue
                t0 = time.monotonic()
                try:
                    probe()
                    ok, err = True, None
                except Exception as e:  # noqa: BLE001 - any failure counts
                    ok, err = False, f"{kind}: {type(e).__name__}: {e}"
                ms = (time.monotonic() - t0) * 1000
                with self.lock:
                    self.counts[kind][0 if ok else 1] += 1
                    self.phase_counts[kind][0 if ok else 1] += 1
                    self.worst_ms = max(self.worst_ms, ms)
                    if err and len(self.errors) < 20:
                        self.errors.append(err)
            self.stop_event.wait(max(0.0, self.period - (time.monotonic() - started)))

    def probe_udp(self):
        sock = udp_socket(self.src)
        try:
            txid = stunlib.new_txid()
            request = stunlib.binding_request(txid)
            deadline = time.monotonic() + self.timeout
            resend = [0.5, 1.0]
            sock.sendto(request, (self.host, self.stun_udp_port))
            sent_at = time.monotonic()
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no UDP Binding response")
                wait = min(left, resend[0] - (time.monotonic() - sent_at)) if resend else left
                sock.settimeout(max(0.01, wait))
                try:
                    data, _ = sock.recvfrom(2048)
                except socket.timeout:
                    if resend and time.monotonic() - sent_at >= resend[0]:
                        sock.sendto(request, (self.host, self.stun_udp_port))
                        resend.pop(0)
                    continue
                message = stunlib.parse(data)
                if message and message.txid == txid and message.klass == stunlib.SUCCESS:
                    return
        finally:
            sock.close()

    def probe_tcp(self):
        sock = tcp_connect(self.host, self.stun_tcp_port, src=self.src, timeout=self.timeout)
        try:
            txid = stunlib.new_txid()
            sock.sendall(stunlib.binding_request(txid))
            frame = stunlib.recv_stun_stream(sock, stunlib.StreamFramer(), time.monotonic() + self.timeout)
            if frame is None:
                raise TimeoutError("no TCP Binding response")
            kind, message = frame
            if kind != "stun" or message is None or message.txid != txid or message.klass != stunlib.SUCCESS:
                raise ValueError("unexpected TCP answer")
        finally:
            sock.close()

    def probe_http(self):
        status, _, body = http_request(self.host, self.http_port, "GET", "/healthz", src=self.src,
                                       timeout=self.timeout)
        if status != 200:
            raise ValueError(f"/healthz answered {status}")

    def stop(self):
        self.stop_event.set()
