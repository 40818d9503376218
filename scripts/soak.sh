#!/usr/bin/env bash
# Soak (not for CI): one `partyline serve` on loopback with the limits of scripts/hostile-test.sh (login
# limits raised so the party load can log its members in) for SECONDS (default 1800), under
#   - paced UDP STUN Binding load and TURN relaying (one allocation, a channel bound to a local UDP echo
#     peer on 127.0.0.3),
#   - a rotation of cheap hostile clients (idle TCP, WebSocket connect/close cycles, slowloris heads, a
#     never-reading TCP client),
#   - a whole party (`partyline load party`, 12 members) every ~30 s,
# while the suite's prober must keep being served. One line a minute: elapsed, RSS MiB, fds, prober
# ok/failed, and the load's figures; soak.json in the results folder (default results/soak).
#   scripts/soak.sh [SECONDS] [RESULTS-FOLDER]
# PARTYLINE_BIN=path/to/partyline uses that binary instead of building one. RETENTION=120 keeps finished
# sessions readable for 2 minutes instead of the default hour, so their memory comes back within the soak.
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-1800}"
results="${2:-results/soak}"
mkdir -p "$results"
rm -f "$results/parties.ok" "$results/parties.failed"
if [ -n "${PARTYLINE_BIN:-}" ]; then
  bin="$PARTYLINE_BIN"
else
  swift build --product partyline >/dev/null
  bin="$(swift build --show-bin-path)/partyline"
fi
[ -x "$bin" ] || { echo "no partyline binary at $bin"; exit 1; }

work=$(mktemp -d /tmp/partyline-soak.XXXXXX)
server=""
loop=""
cleanup() {
  touch "$work/stop"
  [ -n "$loop" ] && kill "$loop" 2>/dev/null || true
  [ -f "$work/party.pid" ] && kill "$(cat "$work/party.pid")" 2>/dev/null || true
  [ -n "$server" ] && kill -9 "$server" 2>/dev/null || true
  wait 2>/dev/null || true
  cp "$work/server.log" "$results/server.log" 2>/dev/null || true
  cp "$work/party.log" "$results/party.log" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

read -r http stun_udp stun_tcp stun_tls <<<"$(python3 scripts/hostile/free_ports.py 4)"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
  -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" -keyout "$work/key.pem" -out "$work/cert.pem" >/dev/null 2>&1

export PARTYLINE_SIGNALLING_API_KEYS=hostile-api
export PARTYLINE_COORDINATOR_ADMIN_KEYS=hostile-admin
export PARTYLINE_TURN_USERS=alice:secret
"$bin" serve --http-listen "127.0.0.1:$http" \
  --stun-listen-udp "127.0.0.1:$stun_udp" --stun-listen-tcp "127.0.0.1:$stun_tcp" \
  --stun-listen-tls "127.0.0.1:$stun_tls" --tls-certificate "$work/cert.pem" --tls-private-key "$work/key.pem" \
  --turn-realm partyline --turn-relay-addresses 127.0.0.1 --turn-relay-ports 20000-20999 \
  --turn-peers-allowed 127.0.0.0/8 --turn-rate-limit-requests-per-second 0 \
  --coordinator-database-sqlite-path "$work/soak.sqlite" \
  --stun-stream-first-message-timeout 2 --stun-stream-idle-timeout 4 \
  --stun-stream-max-connections 400 --stun-stream-max-connections-per-address 100 \
  --http-max-connections 400 --http-max-connections-per-address 100 --http-request-head-timeout 3 \
  --coordinator-rate-limit-logins-per-second 50 --coordinator-rate-limit-login-burst 200 \
  --signalling-join-timeout 3 --signalling-retention "${RETENTION:-3600}" \
  >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do
  kill -0 "$server" 2>/dev/null || { echo "server exited at start:"; cat "$work/server.log"; exit 1; }
  python3 -c "import socket; socket.create_connection(('127.0.0.1',$http),1)" 2>/dev/null && break
  sleep 0.1
done
echo "partyline $bin: pid $server, http $http, stun udp $stun_udp tcp $stun_tcp tls $stun_tls; soak $duration s"

# Parties beside the load, one at a time, until the soak ends.
end=$(( $(date +%s) + duration ))
(
  while [ ! -e "$work/stop" ] && [ "$(date +%s)" -lt $(( end - 30 )) ]; do
    timeout 120 "$bin" load party --target "http://127.0.0.1:$http" --admin-key hostile-admin --members 12 \
      --start-in 4 --vote-delay-ms 100 >>"$work/party.log" 2>&1 &
    echo $! >"$work/party.pid"
    if wait "$!"; then echo ok >>"$results/parties.ok"; else echo failed >>"$results/parties.failed"; fi
    rm -f "$work/party.pid"
    sleep 20
  done
) &
loop=$!

set +e
python3 scripts/hostile/soak.py --pid "$server" --http "$http" --stun-udp "$stun_udp" --stun-tcp "$stun_tcp" \
  --duration "$duration" --results "$results"
status=$?
set -e
exit "$status"
