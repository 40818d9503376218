#!/usr/bin/env bash
# coturn's turnutils_uclient against PartyLine's TURN relay on loopback, with turnutils_peer as the peer
# (both from Debian's coturn package). Every case must deliver every packet back (zero loss). CI runs this
# after `swift test`. The RFC 6062 cases (-T) relay between two clients' TCP relayed addresses; -P (an
# active plain-TCP peer) is left out because uclient counts half its packets lost against coturn too.
# PartyLine's own TURN client (`partyline probe turn:`, the machine the load tool and tests share) is checked
# against PartyLine and against coturn's turnserver, so the client is held to an implementation it did not write.
# Usage: scripts/interop-turn.sh [PATH_TO_PARTYLINE]
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/interop.sh
partyline_binary "${1:-}"
require_tools turnutils_uclient turnutils_peer turnserver
port=${INTEROP_TURN_PORT:-34790}
peer_port=$((port + 10))
log=$(mktemp)
peer_log=$(mktemp)
# Relay ports below the kernel's ephemeral range, so relay sockets never collide with client sockets; uclient
# leaves its allocations to expire, so the per-user quota is raised for the run.
"$partyline" serve --log-level debug \
  --stun-listen-udp "127.0.0.1:$port,[::1]:$port" --stun-listen-tcp "127.0.0.1:$port,[::1]:$port" \
  --turn-users alice:wonderland --turn-secrets north --turn-realm partyline \
  --turn-relay-addresses "127.0.0.1,::1" --turn-relay-ports 20000-29999 \
  --turn-peers-allowed "127.0.0.0/8,::1" --turn-quota-per-user 1000 >"$log" 2>&1 &
server=$!
turnutils_peer -p "$peer_port" -L 127.0.0.1 -L ::1 >"$peer_log" 2>&1 &
peer=$!
coturn_port=$((port + 20))
turnserver -n -L 127.0.0.1 -L ::1 --listening-port "$coturn_port" --relay-ip 127.0.0.1 --min-port 30000 --max-port 30999 \
  --lt-cred-mech --user alice:wonderland --realm partyline --allow-loopback-peers --no-tls --no-dtls \
  --no-cli --no-stdout-log --log-file /dev/null --simple-log >/dev/null 2>&1 &
coturn=$!
trap 'kill $server $peer $coturn 2>/dev/null; wait $server $peer $coturn 2>/dev/null; rm -f "$log" "$peer_log"' EXIT
for _ in $(seq 50); do grep -q "transport=tcp" "$log" && break; sleep 0.1; done

passed=0
failed=0
# name, then uclient options; 2 clients × 50 packets of 170 bytes each way.
run() {
  local name=$1
  shift
  local out
  out=$(timeout 60 turnutils_uclient "$@" -r "$peer_port" -n 50 -m 2 -l 170 -z 5 -p "$port" 2>&1)
  if uclient_verdict "$name" "$out"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}

user=(-u alice -w wonderland)
rest=(-W north -u party-1/member-1)
run "udp channels, long-term" "${user[@]}" -c -e 127.0.0.1 127.0.0.1
run "udp channels RTP+RTCP (EVEN-PORT, RESERVATION-TOKEN)" "${user[@]}" -e 127.0.0.1 127.0.0.1
run "udp Send/Data indications" "${user[@]}" -c -s -e 127.0.0.1 127.0.0.1
run "udp DONT-FRAGMENT" "${user[@]}" -c -g -e 127.0.0.1 127.0.0.1
run "tcp channels, long-term" "${user[@]}" -t -c -e 127.0.0.1 127.0.0.1
run "tcp channels RTP+RTCP" "${user[@]}" -t -e 127.0.0.1 127.0.0.1
run "tcp Send/Data indications" "${user[@]}" -t -c -s -e 127.0.0.1 127.0.0.1
run "udp channels, REST credentials" "${rest[@]}" -c -e 127.0.0.1 127.0.0.1
run "tcp channels, REST credentials" "${rest[@]}" -t -c -e 127.0.0.1 127.0.0.1
run "tcp relay (RFC 6062: Connect, ConnectionAttempt, ConnectionBind)" "${user[@]}" -T 127.0.0.1
run "tcp relay (RFC 6062), REST credentials" "${rest[@]}" -T 127.0.0.1
run "udp IPv6 relay (REQUESTED-ADDRESS-FAMILY)" "${user[@]}" -x -e ::1 127.0.0.1
run "udp over IPv6 to the server" "${user[@]}" -c -x -e ::1 ::1

# PartyLine's TURN client: two allocations relaying to each other, against both servers.
probe() {
  local name=$1
  shift
  local out
  out=$(timeout 30 "$partyline" probe "$@" --packets 20 2>&1)
  if [ $? -eq 0 ] && grep -q "relayed     20 of 20 packets" <<<"$out"; then
    echo "PASS $name"
    passed=$((passed + 1))
  else
    echo "FAIL $name"
    sed 's/^/      /' <<<"$out"
    failed=$((failed + 1))
  fi
}
probe "partyline probe → PartyLine, udp channels, REST" "turn:127.0.0.1:$port" --secret north
probe "partyline probe → PartyLine, tcp indications, long-term" "turn:[::1]:$port?transport=tcp" \
  --username alice --password wonderland --data-path indication
probe "partyline probe → coturn, udp channels" "turn:127.0.0.1:$coturn_port" --username alice --password wonderland
probe "partyline probe → coturn, udp indications" "turn:127.0.0.1:$coturn_port" --username alice --password wonderland \
  --data-path indication
probe "partyline probe → coturn, tcp channels over IPv6" "turn:[::1]:$coturn_port?transport=tcp" \
  --username alice --password wonderland

echo "interop-turn: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
