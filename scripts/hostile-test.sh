#!/usr/bin/env bash
# Hostile clients: the server must hold (bounded memory and fds, timeouts, connection caps, rate limits,
# peer policy, WebSocket limits, TLS versions, clear start-up errors) while a well-behaved prober keeps
# being served. Everything runs on loopback (127.0.0.0/8, ::1), bounded in count and time (about two
# minutes; at most four). One `partyline serve` with small limits serves cases 1-6 and 8-10; a second
# one without turn.peers.allowed serves case 7 (SIIT peers); case 11 starts short-lived ones that must
# refuse to start. The cases are in scripts/hostile/hostile.py (Python 3, standard library only).
#   scripts/hostile-test.sh [RESULTS-FOLDER]     (default results/hostile; results.json lands there)
# PARTYLINE_BIN=path/to/partyline uses that binary instead of building one.
# HOSTILE_CASES=1a,2,... runs only those of the Python cases (development).
set -euo pipefail
cd "$(dirname "$0")/.."
results="${1:-results/hostile}"
mkdir -p "$results"
if [ -n "${PARTYLINE_BIN:-}" ]; then
  bin="$PARTYLINE_BIN"
else
  swift build --product partyline >/dev/null
  bin="$(swift build --show-bin-path)/partyline"
fi
[ -x "$bin" ] || { echo "no partyline binary at $bin"; exit 1; }

# The suite holds about 500 client sockets at once and the server as many; 4096 leaves room.
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 4096 ]; then ulimit -n 4096 2>/dev/null || true; fi
work=$(mktemp -d /tmp/partyline-hostile.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Free loopback ports, each free for both TCP and UDP.
read -r http stun_udp stun_tcp stun_tls strict_http strict_stun <<<"$(python3 scripts/hostile/free_ports.py 6)"

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
  -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" -keyout "$work/key.pem" -out "$work/cert.pem" >/dev/null 2>&1

export PARTYLINE_SIGNALLING_API_KEYS=hostile-api
export PARTYLINE_COORDINATOR_ADMIN_KEYS=hostile-admin
export PARTYLINE_TURN_USERS=alice:secret

wait_http() { # port pid log
  for _ in $(seq 1 100); do
    if ! kill -0 "$2" 2>/dev/null; then echo "server exited at start:"; cat "$3"; exit 1; fi
    if python3 -c "import socket,sys; s=socket.create_connection(('127.0.0.1',$1),1); s.sendall(b'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'); sys.exit(0 if b' 200 ' in s.recv(100) else 1)" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "server did not start:"; cat "$3"; exit 1
}

# The server of the suite, with the suite's small limits.
"$bin" serve --http-listen "127.0.0.1:$http" \
  --stun-listen-udp "127.0.0.1:$stun_udp" --stun-listen-tcp "127.0.0.1:$stun_tcp" \
  --stun-listen-tls "127.0.0.1:$stun_tls" --tls-certificate "$work/cert.pem" --tls-private-key "$work/key.pem" \
  --turn-realm partyline --turn-relay-addresses 127.0.0.1 --turn-relay-ports 20000-20999 \
  --turn-peers-allowed 127.0.0.0/8 --turn-rate-limit-requests-per-second 0 \
  --coordinator-database-sqlite-path "$work/main.sqlite" \
  --stun-stream-first-message-timeout 2 --stun-stream-idle-timeout 4 \
  --stun-stream-max-connections 400 --stun-stream-max-connections-per-address 100 \
  --http-max-connections 400 --http-max-connections-per-address 100 --http-request-head-timeout 3 \
  --coordinator-rate-limit-logins-per-second 1 --coordinator-rate-limit-login-burst 10 \
  --signalling-join-timeout 3 \
  >"$work/main.log" 2>&1 &
main=$!
pids+=("$main")
# Case 7's server: the default peer policy (no allowlist), IPv4 and IPv6 relay addresses.
"$bin" serve --http-listen "127.0.0.1:$strict_http" --stun-listen-udp "127.0.0.1:$strict_stun" \
  --stun-listen-tcp "127.0.0.1:$strict_stun" \
  --turn-realm partyline --turn-relay-addresses 127.0.0.1,::1 --turn-relay-ports 21000-21999 \
  --turn-rate-limit-requests-per-second 0 --coordinator-database-sqlite-path "$work/strict.sqlite" \
  >"$work/strict.log" 2>&1 &
strict=$!
pids+=("$strict")
wait_http "$http" "$main" "$work/main.log"
wait_http "$strict_http" "$strict" "$work/strict.log"
echo "partyline $bin: pid $main, http $http, stun udp $stun_udp tcp $stun_tcp tls $stun_tls; strict pid $strict"

# Case 11: operator clarity. Each must exit non-zero within 5 s and say what is wrong. They run side by
# side; any that does start anyway is stopped by `timeout` (exit 124) and counts as a failure.
echo
echo "== 11: operator clarity (bad flag, misspelled YAML key, port already taken)"
safe=(--http-listen 127.0.0.1:0 --stun-listen-udp 127.0.0.1:0 --stun-listen-tcp 127.0.0.1:0)
cat >"$work/misspelled.yaml" <<YAML
http:
  listen: "127.0.0.1:0"
stun:
  listen:
    udp: ["127.0.0.1:0"]
    tcp: ["127.0.0.1:0"]
coordinator:
  database:
    sqlitePath: "$work/c11b.sqlite"
turn: { relays: {} }
YAML
run_bounded() { # name, then the command; writes $work/NAME.{log,rc,sec}
  local name=$1; shift
  local t0; t0=$(date +%s%N)
  set +e
  timeout -k 4 5 "$@" >"$work/$name.log" 2>&1
  echo $? >"$work/$name.rc"
  set -e
  echo $(( $(date +%s%N) - t0 )) >"$work/$name.ns"
}
run_bounded flag "$bin" serve --turn-relay-port 1 "${safe[@]}" --coordinator-database-sqlite-path "$work/c11a.sqlite" &
c11a=$!
run_bounded yaml "$bin" serve --config "$work/misspelled.yaml" 2>/dev/null &
c11b=$!
run_bounded tcpport "$bin" serve --http-listen 127.0.0.1:0 --stun-listen-udp 127.0.0.1:0 \
  --stun-listen-tcp "127.0.0.1:$stun_tcp" --coordinator-database-sqlite-path "$work/c11c.sqlite" 2>/dev/null &
c11c=$!
run_bounded udpport "$bin" serve --http-listen 127.0.0.1:0 --stun-listen-udp "127.0.0.1:$stun_udp" \
  --stun-listen-tcp 127.0.0.1:0 --coordinator-database-sqlite-path "$work/c11d.sqlite" 2>/dev/null &
c11d=$!
run_bounded httpport "$bin" serve --http-listen "127.0.0.1:$http" --stun-listen-udp 127.0.0.1:0 \
  --stun-listen-tcp 127.0.0.1:0 --coordinator-database-sqlite-path "$work/c11e.sqlite" 2>/dev/null &
c11e=$!
wait "$c11a" "$c11b" "$c11c" "$c11d" "$c11e" || true
python3 - "$work" "$stun_tcp" "$stun_udp" "$work/operator.json" "$http" <<'PY'
import json, re, sys
work, tcp, udp, out, http = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
def run(name):
    log = open(f"{work}/{name}.log", errors="replace").read()
    return int(open(f"{work}/{name}.rc").read()), int(open(f"{work}/{name}.ns").read()) / 1e9, log
checks, figures = [], {}
def check(name, ok, detail, gating=True):
    checks.append({"name": name, "ok": bool(ok), "detail": detail, "gating": gating})
    mark = "ok  " if ok else ("FAIL" if gating else "warn")
    print(f"    [{mark}] {name} ({detail})")
def last_line(log):
    lines = [l for l in log.strip().splitlines() if l.strip()]
    return lines[-1][:160] if lines else "(no output)"
def started(rc):
    return "still running after 5 s (killed)" if rc in (124, 137) else f"exit {rc}"
rc, sec, log = run("flag")
figures["unknown_flag"] = {"exit": rc, "seconds": round(sec, 1), "last_line": last_line(log)}
check("`serve --turn-relay-port 1` exits non-zero within 5 s naming --turn-relay-port",
      rc not in (0, 124, 137) and re.search(r"--turn-relay-port(?![s\w-])", log),
      f"{started(rc)} after {sec:.1f} s: {last_line(log)}")
rc, sec, log = run("yaml")
figures["misspelled_yaml_key"] = {"exit": rc, "seconds": round(sec, 1), "last_line": last_line(log)}
check("YAML with `turn: { relays: {} }` exits non-zero naming the key",
      rc not in (0, 124, 137) and "relays" in log, f"{started(rc)} after {sec:.1f} s: {last_line(log)}")
rc, sec, log = run("tcpport")
figures["tcp_port_taken"] = {"exit": rc, "seconds": round(sec, 1), "last_line": last_line(log)}
check(f"second server on STUN TCP 127.0.0.1:{tcp} fails naming the address and transport",
      rc not in (0, 124, 137) and f"127.0.0.1:{tcp}" in log and re.search(r"\btcp\b", log, re.I),
      f"{started(rc)} after {sec:.1f} s: {last_line(log)}")
rc, sec, log = run("udpport")
figures["udp_port_taken"] = {"exit": rc, "seconds": round(sec, 1), "last_line": last_line(log)}
check(f"second server on STUN UDP 127.0.0.1:{udp} fails naming the address and transport",
      rc not in (0, 124, 137) and f"udp 127.0.0.1:{udp}" in log, f"{started(rc)} after {sec:.1f} s: {last_line(log)}")
rc, sec, log = run("httpport")
figures["http_port_taken"] = {"exit": rc, "seconds": round(sec, 1), "last_line": last_line(log)}
check(f"second server on HTTP 127.0.0.1:{http} fails naming the address and transport",
      rc not in (0, 124, 137) and f"http 127.0.0.1:{http}" in log, f"{started(rc)} after {sec:.1f} s: {last_line(log)}")
verdict = "PASS" if all(c["ok"] for c in checks if c["gating"]) else "FAIL"
print(f"  11 operator clarity: {verdict}")
json.dump({"title": "operator clarity (flag, YAML key, port)", "verdict": verdict, "rss_mib": None,
           "fds": None, "prober": None, "checks": checks, "figures": figures}, open(out, "w"), indent=2)
PY

set +e
timeout -s TERM 230 python3 scripts/hostile/hostile.py --pid "$main" --http "$http" --stun-udp "$stun_udp" \
  --stun-tcp "$stun_tcp" --stun-tls "$stun_tls" --strict-pid "$strict" --strict-stun-udp "$strict_stun" \
  --results "$results" --operator "$work/operator.json" ${HOSTILE_CASES:+--cases "$HOSTILE_CASES"}
status=$?
set -e
if ! kill -0 "$main" 2>/dev/null; then
  echo "the server died during the suite; its log ends:"; tail -n 20 "$work/main.log"; status=1
fi
cp "$work/main.log" "$results/server.log" 2>/dev/null || true
if [ "$status" -eq 124 ]; then echo "the suite ran over its time limit"; fi
exit "$status"
