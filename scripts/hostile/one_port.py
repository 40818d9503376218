#!/usr/bin/env python3
"""HTTP, the signalling WebSocket and a STUN Binding on PartyLine's one port, plain or TLS.

Usage: one_port.py HOST PORT API_KEY [CA_FILE]   (with CA_FILE the port is TLS and verified against it)
Creates a session through the API, joins it over the WebSocket on the same port and expects the welcome,
then sends a STUN Binding request on a fresh connection and expects the success answer. Exit 0 when all pass.
"""
import json
import os
import socket
import ssl
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

host, port, api_key = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ca_file = sys.argv[4] if len(sys.argv) > 4 else None
context = ssl.create_default_context(cafile=ca_file) if ca_file else None


def connect():
    sock = socket.create_connection((host, port), timeout=5)
    return context.wrap_socket(sock, server_hostname="localhost") if context else sock


def request(method, path, body=None, headers=None):
    sock = connect()
    try:
        lines = [f"{method} {path} HTTP/1.1", f"Host: localhost:{port}", "Connection: close"]
        payload = json.dumps(body).encode() if body is not None else b""
        if body is not None:
            lines += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + payload)
        data = bytearray()
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
            parsed = harness._parse_http(data)
            if parsed is not None:
                return parsed
        return harness._parse_http(data, eof=True)
    finally:
        sock.close()


failures = []
kind = "TLS" if context else "plain"

status, _, body = request("GET", "/healthz")
print(f"{kind} GET /healthz: {status} {body!r}")
if (status, body) != (200, b"ok"):
    failures.append("healthz")

status, _, body = request("POST", "/v1/sessions", {"members": ["ann", "bob", "cat"]},
                          {"Authorization": f"Bearer {api_key}"})
print(f"{kind} POST /v1/sessions: {status}")
if status != 201:
    failures.append("create session")
else:
    token = json.loads(body)["members"][0]["token"]
    sock = connect()
    status, rest = harness.ws_handshake(sock, "localhost", port)
    print(f"{kind} WebSocket upgrade: {status}")
    if status != 101:
        failures.append("websocket upgrade")
    else:
        sock.sendall(harness.ws_frame(0x1, json.dumps({"type": "join", "version": 1, "token": token}).encode()))
        reader = harness.WSReader(sock, rest)
        _, opcode, payload = reader.frame(timeout=5)
        message = json.loads(payload) if opcode == 0x1 else {}
        print(f"{kind} WebSocket join: {message.get('type')}")
        if message.get("type") != "welcome":
            failures.append("websocket join")
    sock.close()

sock = connect()
transaction = os.urandom(12)
sock.sendall(struct.pack("!HHI", 0x0001, 0, 0x2112A442) + transaction)
answer = sock.recv(2048)
sock.close()
ok = len(answer) >= 20 and struct.unpack("!H", answer[:2])[0] == 0x0101 and answer[8:20] == transaction
print(f"{kind} STUN Binding on the same port: {'success' if ok else answer[:4].hex()}")
if not ok:
    failures.append("stun binding")

print("one-port:", "all passed" if not failures else "FAILED " + ", ".join(failures))
sys.exit(1 if failures else 0)
