#!/usr/bin/env python3
"""The soak of scripts/soak.sh (not for CI): for DURATION seconds, against one running server,
  - UDP STUN Binding load (paced, --binding-rate a second, 16 in flight at most),
  - TURN relaying: one UDP allocation with a channel bound to a local UDP echo peer (a plain Python
    socket on 127.0.0.1, a separate process-local socket, not the server's), --relay-rate packets a second,
  - a share of the cheap hostile clients of hostile.py in rotation: idle TCP connections, WebSocket
    connect/close cycles, slowloris HTTP heads, a never-reading TCP client (capped volume),
  - the prober of the suite (UDP Binding, TCP Binding, HTTP /healthz every ~200 ms from 127.0.0.2),
and prints one line a minute: elapsed, RSS MiB, fds, prober ok/failed, and the load's figures. Parties
(`partyline load party`) are run by soak.sh beside it and counted from the files it names.

  soak.py --pid PID --http PORT --stun-udp PORT --stun-tcp PORT --duration SECONDS --results DIR
"""

import argparse
import json
import os
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import stunlib  # noqa: E402
from harness import MIB  # noqa: E402

HOST = "127.0.0.1"


class Counter:
    def __init__(self):
        self.lock = threading.Lock()
        self.values = {}

    def add(self, key, n=1):
        with self.lock:
            self.values[key] = self.values.get(key, 0) + n

    def take(self):
        with self.lock:
            values, self.values = self.values, {}
        return values


class Soak:
    def __init__(self, args):
        self.args = args
        self.stop = threading.Event()
        self.counts = Counter()
        self.totals = {}

    # --------------------------------------------------------------------------- UDP Binding load
    def binding_load(self):
        sock = harness.udp_socket("127.0.20.1")
        rate = self.args.binding_rate
        outstanding = {}
        interval = 1.0 / rate if rate > 0 else 1.0
        next_send = time.monotonic()
        while not self.stop.is_set():
            now = time.monotonic()
            while rate > 0 and now >= next_send and len(outstanding) < 16:
                txid = stunlib.new_txid()
                try:
                    sock.sendto(stunlib.binding_request(txid), (HOST, self.args.stun_udp))
                    outstanding[txid] = now
                except OSError:
                    self.counts.add("binding_lost")
                next_send += interval
            if now - next_send > 1.0:
                next_send = now  # do not build a backlog when in-flight is full
            sock.settimeout(min(0.05, max(0.001, next_send - time.monotonic())))
            try:
                data, _ = sock.recvfrom(2048)
                message = stunlib.parse(data)
                if message and outstanding.pop(message.txid, None) is not None:
                    self.counts.add("binding_ok")
            except socket.timeout:
                pass
            for txid, sent in list(outstanding.items()):
                if now - sent > 1.0:
                    del outstanding[txid]
                    self.counts.add("binding_lost")
        sock.close()

    # ------------------------------------------------------------------------------- TURN relaying
    def relay_load(self):
        # The echo peer is a plain socket on 127.0.0.3: allowed by turn.peers.allowed 127.0.0.0/8 and not
        # one of the server's own addresses (it listens on 127.0.0.1).
        echo = harness.udp_socket("127.0.0.3")
        echo_addr = echo.getsockname()

        def echo_loop():
            echo.settimeout(0.2)
            while not self.stop.is_set():
                try:
                    data, source = echo.recvfrom(65536)
                    echo.sendto(data, source)
                except socket.timeout:
                    continue
                except OSError:
                    return
        threading.Thread(target=echo_loop, daemon=True).start()

        channel = 0x4010
        while not self.stop.is_set():
            sock = harness.udp_socket("127.0.20.2")
            client = stunlib.TurnClient(sock, (HOST, self.args.stun_udp), "alice", "secret")
            try:
                if client.allocate().status != 200 or client.channel_bind(*echo_addr, channel).status != 200:
                    self.counts.add("relay_setup_failed")
                    sock.close()
                    self.stop.wait(2.0)
                    continue
                self.counts.add("relay_allocations")
                interval = 1.0 / max(1, self.args.relay_rate)
                refreshed = time.monotonic()
                seq = 0
                sent_at = {}
                next_send = time.monotonic()
                while not self.stop.is_set():
                    now = time.monotonic()
                    if now - refreshed > 240:  # channel bindings last 10 min, permissions 5, allocations 10
                        client.pending.clear()
                        sock.settimeout(2.0)
                        ok = client.refresh().status == 200 and client.channel_bind(*echo_addr, channel).status == 200
                        if not ok:
                            self.counts.add("relay_refresh_failed")
                            break
                        refreshed = now
                    while now >= next_send:
                        payload = struct.pack("!Q", seq) + b"\x00" * 152
                        sock.sendto(stunlib.channel_data(channel, payload), (HOST, self.args.stun_udp))
                        sent_at[seq] = now
                        seq += 1
                        next_send += interval
                    sock.settimeout(min(0.02, max(0.001, next_send - time.monotonic())))
                    try:
                        data, _ = sock.recvfrom(2048)
                        if len(data) >= 12 and data[0] >= 0x40:
                            number = struct.unpack("!Q", data[4:12])[0]
                            if sent_at.pop(number, None) is not None:
                                self.counts.add("relay_echoed")
                    except socket.timeout:
                        pass
                    for number, sent in list(sent_at.items()):
                        if now - sent > 1.0:
                            del sent_at[number]
                            self.counts.add("relay_lost")
                try:
                    sock.settimeout(1.0)
                    client.refresh(0)
                except Exception:  # noqa: BLE001
                    pass
            except Exception as e:  # noqa: BLE001
                self.counts.add("relay_errors")
                print(f"  relay: {type(e).__name__}: {e}", flush=True)
                self.stop.wait(1.0)
            finally:
                sock.close()
        echo.close()

    # ------------------------------------------------------------------------------ hostile share
    def hostile_rotation(self):
        rounds = [self.idle_tcp, self.ws_cycles, self.slowloris, self.never_reading]
        i = 0
        while not self.stop.wait(self.args.hostile_every):
            attack = rounds[i % len(rounds)]
            i += 1
            try:
                attack()
                self.counts.add(f"hostile_{attack.__name__}")
            except Exception as e:  # noqa: BLE001
                self.counts.add("hostile_errors")
                print(f"  hostile {attack.__name__}: {type(e).__name__}: {e}", flush=True)

    def idle_tcp(self, n=50):
        socks = []
        try:
            for _ in range(n):
                socks.append(harness.tcp_connect(HOST, self.args.stun_tcp, src="127.0.21.1"))
            closed, still_open, _ = harness.wait_closed(list(socks), time.monotonic() + 8.0)
            self.counts.add("idle_tcp_closed_by_server", closed)
        finally:
            harness.close_all(socks)

    def ws_cycles(self, n=200):
        for _ in range(n):
            if self.stop.is_set():
                return
            sock = harness.tcp_connect(HOST, self.args.http, src="127.0.21.2")
            try:
                status, rest = harness.ws_handshake(sock, HOST, self.args.http)
                if status == 101 and os.urandom(1)[0] < 64:
                    sock.sendall(harness.ws_frame(0x1, b'{"type":"join","version":1,"token":"bad"}'))
                    harness.WSReader(sock, rest).until_close(3.0)
            finally:
                sock.close()

    def slowloris(self, n=20, seconds=8):
        socks = []
        try:
            for _ in range(n):
                socks.append(harness.tcp_connect(HOST, self.args.http, src="127.0.21.3"))
            text = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 64
            for i in range(seconds):
                for sock in socks:
                    try:
                        sock.send(text[i:i + 1])
                    except OSError:
                        pass
                if self.stop.wait(1.0):
                    break
            closed, _, _ = harness.wait_closed(list(socks), time.monotonic() + 0.2)
            self.counts.add("slowloris_closed_by_server", closed)
        finally:
            harness.close_all(socks)

    def never_reading(self, seconds=2.0, cap=4_000_000):
        requests = b"".join(stunlib.binding_request() for _ in range(800))
        sock = harness.tcp_connect(HOST, self.args.stun_tcp, src="127.0.21.4", rcvbuf=16384)
        try:
            sock.settimeout(0.2)
            view, offset, sent = memoryview(requests), 0, 0
            started = time.monotonic()
            while time.monotonic() - started < seconds and sent < cap:
                try:
                    n = sock.send(view[offset:])
                    sent += n
                    offset = (offset + n) % len(requests)
                except socket.timeout:
                    pass
                except OSError:
                    break
            self.counts.add("never_reading_bytes", sent)
        finally:
            sock.close()

    # ----------------------------------------------------------------------------------- report
    def parties(self):
        done = failed = 0
        for name, key in (("parties.ok", "ok"), ("parties.failed", "failed")):
            path = os.path.join(self.args.results, name)
            if os.path.exists(path):
                with open(path) as f:
                    n = sum(1 for line in f if line.strip())
                if key == "ok":
                    done = n
                else:
                    failed = n
        return done, failed

    def run(self):
        pid = self.args.pid
        prober = harness.Prober(HOST, self.args.stun_udp, self.args.stun_tcp, self.args.http)
        prober.start()
        sampler = harness.Sampler(pid, period=0.5)
        sampler.start()
        threads = [threading.Thread(target=f, daemon=True) for f in
                   (self.binding_load, self.relay_load, self.hostile_rotation)]
        for t in threads:
            t.start()
        started = time.monotonic()
        rss0, fds0 = harness.rss_bytes(pid), harness.fd_count(pid)
        print(f"soak for {self.args.duration} s against pid {pid}: start RSS {rss0 / MIB:.1f} MiB, {fds0} fds",
              flush=True)
        sampler.mark()
        print(f"{'elapsed':>7} {'RSS MiB':>8} {'peak':>6} {'fds':>5} {'prober ok/failed':>17} {'bindings ok/lost':>17} "
              f"{'relayed ok/lost':>16} {'hostile rounds':>15} {'parties ok/failed':>18}", flush=True)
        lines = []
        totals = {"prober_ok": 0, "prober_failed": 0}
        next_line = started + 60
        died = False
        while True:
            end = started + self.args.duration
            wait = min(next_line, end) - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            now = time.monotonic()
            rss, fds = harness.rss_bytes(pid), harness.fd_count(pid)
            peak_rss, _ = sampler.peak()
            sampler.mark()
            probe = prober.reset()
            counts = self.counts.take()
            for k, v in counts.items():
                self.totals[k] = self.totals.get(k, 0) + v
            totals["prober_ok"] += probe["ok"]
            totals["prober_failed"] += probe["failed"]
            hostile = sum(v for k, v in counts.items() if k.startswith("hostile_") and k != "hostile_errors")
            parties_ok, parties_failed = self.parties()
            elapsed = int(now - started)
            if rss is None:
                print(f"{elapsed // 60:>4}:{elapsed % 60:02d} the server is gone", flush=True)
                died = True
                break
            line = {"elapsed": elapsed, "rss_mib": round(rss / MIB, 1), "peak_rss_mib": round(peak_rss / MIB, 1),
                    "fds": fds,
                    "prober_ok": probe["ok"], "prober_failed": probe["failed"],
                    "bindings_ok": counts.get("binding_ok", 0), "bindings_lost": counts.get("binding_lost", 0),
                    "relayed_ok": counts.get("relay_echoed", 0), "relayed_lost": counts.get("relay_lost", 0),
                    "hostile_rounds": hostile, "parties_ok": parties_ok, "parties_failed": parties_failed,
                    "prober_errors": probe["errors"][:3]}
            lines.append(line)
            print(f"{elapsed // 60:>4}:{elapsed % 60:02d} {rss / MIB:>8.1f} {peak_rss / MIB:>6.0f} {fds:>5} "
                  f"{probe['ok']:>9}/{probe['failed']:<7} {line['bindings_ok']:>9}/{line['bindings_lost']:<7} "
                  f"{line['relayed_ok']:>8}/{line['relayed_lost']:<7} {hostile:>15} "
                  f"{parties_ok:>10}/{parties_failed:<7}", flush=True)
            if probe["errors"]:
                print(f"        prober errors: {probe['errors'][:3]}", flush=True)
            next_line += 60
            if now >= end:
                break
        self.stop.set()
        prober.stop()
        sampler.stop()
        for t in threads:
            t.join(timeout=10)
        os.makedirs(self.args.results, exist_ok=True)
        summary = {"duration": self.args.duration, "start_rss_mib": round(rss0 / MIB, 1), "start_fds": fds0,
                   "minutes": lines, "totals": {**self.totals, **totals}, "server_died": died}
        with open(os.path.join(self.args.results, "soak.json"), "w") as f:
            json.dump(summary, f, indent=2, sort_keys=True)
        last = lines[-1] if lines else None
        print(f"soak done: prober {totals['prober_ok']} ok / {totals['prober_failed']} failed; RSS "
              f"{rss0 / MIB:.1f} -> {last['rss_mib'] if last else '-'} MiB; "
              f"fds {fds0} -> {last['fds'] if last else '-'}; "
              f"totals {json.dumps(self.totals, sort_keys=True)}", flush=True)
        return 1 if died or totals["prober_failed"] else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--http", type=int, required=True)
    parser.add_argument("--stun-udp", type=int, required=True)
    parser.add_argument("--stun-tcp", type=int, required=True)
    parser.add_argument("--duration", type=int, default=1800)
    parser.add_argument("--results", default="results/soak")
    parser.add_argument("--binding-rate", type=int, default=500)
    parser.add_argument("--relay-rate", type=int, default=200)
    parser.add_argument("--hostile-every", type=float, default=15.0)
    args = parser.parse_args()
    return Soak(args).run()


if __name__ == "__main__":
    sys.exit(main())
