#!/usr/bin/env bash
# One port for everything, with clients PartyLine did not write: coturn's turnutils_uclient relays over TURN
# on the HTTP port (TLS with -S, then plain TCP), and a Python client (standard library ssl, verifying against
# a local CA from certs/make-local-ca.sh) fetches /healthz, creates a session, joins it over the WebSocket
# and sends a STUN Binding, all to that same port. UDP STUN/TURN listens on the same port number. Every TURN
# case must deliver every packet back. CI runs this after the TURN interop suite.
# Usage: scripts/interop-one-port.sh [PATH_TO_PARTYLINE]
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/interop.sh
partyline_binary "${1:-}"
require_tools turnutils_uclient turnutils_peer openssl python3
tls_port=${INTEROP_ONE_PORT:-34850}
plain_port=$((tls_port + 1))
peer_port=$((tls_port + 10))
dir=$(mktemp -d)
certs/make-local-ca.sh "$dir" localhost 127.0.0.1 >/dev/null
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait "${pids[@]}" 2>/dev/null; rm -rf "$dir"' EXIT

# $1 port, $2 log, then extra flags: a server whose HTTP listener also answers STUN and TURN.
serve() {
  local port=$1 log=$2 relay_ports=$3
  shift 3
  "$partyline" serve --log-level info --coordinator-database-sqlite-path "$dir/$port.sqlite" \
    --http-listen "127.0.0.1:$port" --http-stun --stun-listen-udp "127.0.0.1:$port" --stun-listen-tcp "" \
    --stun-listen-tls "" --turn-users alice:wonderland --turn-realm partyline --turn-relay-addresses 127.0.0.1 \
    --turn-relay-ports "$relay_ports" --turn-peers-allowed 127.0.0.0/8 --turn-quota-per-user 1000 \
    --signalling-api-keys one-port-key --signalling-token-secret one-port "$@" >"$log" 2>&1 &
  pids+=($!)
}
serve "$tls_port" "$dir/tls.log" 30000-31499 --tls-certificate "$dir/cert.pem" --tls-private-key "$dir/key.pem" --http-tls
serve "$plain_port" "$dir/plain.log" 31500-32999
turnutils_peer -p "$peer_port" -L 127.0.0.1 >"$dir/peer.log" 2>&1 &
pids+=($!)
for log in "$dir/tls.log" "$dir/plain.log"; do
  for _ in $(seq 100); do grep -q "transport=udp" "$log" && grep -qi "server started\|listening on" "$log" && break; sleep 0.1; done
done

passed=0
failed=0
# name, port, then uclient options; 2 clients × 50 packets of 170 bytes each way.
run() {
  local name=$1 port=$2
  shift 2
  local out
  out=$(timeout 60 turnutils_uclient "$@" -u alice -w wonderland -r "$peer_port" -n 50 -m 2 -l 170 -z 5 \
    -p "$port" -e 127.0.0.1 127.0.0.1 2>&1)
  if uclient_verdict "$name" "$out"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}
check() {
  if python3 scripts/hostile/one_port.py "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}

run "turns: over TLS on the HTTPS port (-S), channels" "$tls_port" -t -S -c
run "turns: over TLS on the HTTPS port (-S), Send/Data" "$tls_port" -t -S -c -s
run "turn: over TCP on the HTTP port, channels" "$plain_port" -t -c
run "turn: over UDP on the same port number" "$tls_port" -c
check 127.0.0.1 "$tls_port" one-port-key "$dir/ca.pem"
check 127.0.0.1 "$plain_port" one-port-key

# SIGHUP: a renewed certificate (same CA, new key) serves the next connection, and a TURN client then
# relays over it.
served() { openssl s_client -connect "127.0.0.1:$tls_port" -servername localhost </dev/null 2>/dev/null |
  openssl x509 -noout -serial; }
before=$(served)
certs/make-local-ca.sh "$dir" localhost 127.0.0.1 >/dev/null
kill -HUP "${pids[0]}"
for _ in $(seq 50); do [ "$(served)" != "$before" ] && break; sleep 0.1; done
after=$(served)
if [ -n "$before" ] && [ -n "$after" ] && [ "$before" != "$after" ] && grep -q "TLS certificate reloaded" "$dir/tls.log"; then
  passed=$((passed + 1))
  echo "PASS SIGHUP reload: $before -> $after"
else
  failed=$((failed + 1))
  echo "FAIL SIGHUP reload: before '$before', after '$after'"
fi
run "turns: over TLS after the reload" "$tls_port" -t -S -c

echo "interop-one-port: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
