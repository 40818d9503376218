#!/usr/bin/env bash
# Real clients against PartyLine's STUN server on loopback: Debian's stun-client (RFC 3489) and coturn's
# turnutils_stunclient (RFC 5389/8489), each must get the mapped address it really has; plus partyline
# probe over UDP, TCP and IPv6 (neither Debian tool speaks STUN over TCP). CI runs this after `swift test`.
# Usage: scripts/interop-stun.sh [PATH_TO_PARTYLINE]
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/interop.sh
partyline_binary "${1:-}"
require_tools stun turnutils_stunclient
port=${INTEROP_PORT:-34780}
log=$(mktemp)
"$partyline" serve --stun-listen-udp "127.0.0.1:$port,[::1]:$port" --stun-listen-tcp "127.0.0.1:$port" >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 50); do grep -q "transport=tcp" "$log" && break; sleep 0.1; done

passed=0
failed=0
check() { # name, condition result (0 = pass), details
  if [ "$2" -eq 0 ]; then passed=$((passed + 1)); echo "PASS $1: $3"; else failed=$((failed + 1)); echo "FAIL $1: $3"; fi
}

# Vovida stun-client: its first socket's port must come back as MappedAddress.
out=$(timeout 20 stun "127.0.0.1:$port" -v 2>&1)
opened=$(echo "$out" | grep -m1 -o 'Opened port [0-9]*' | grep -o '[0-9]*$')
mapped=$(echo "$out" | grep -m1 -o 'MappedAddress = [0-9.]*:[0-9]*' | sed 's/MappedAddress = //')
[ -n "$opened" ] && [ "$mapped" = "127.0.0.1:$opened" ]; check "stun-client udp" $? "opened $opened, mapped ${mapped:-none}"

# coturn's turnutils_stunclient over IPv4 and IPv6 (it prints the reflexive address it was told).
for host in 127.0.0.1 ::1; do
  out=$(timeout 20 turnutils_stunclient -p "$port" "$host" 2>&1)
  reflexive=$(echo "$out" | grep -m1 -o 'UDP reflexive addr: .*' | sed 's/UDP reflexive addr: //')
  case "$host" in
    ::1) expected='^\[?::1\]?:[0-9]+$' ;;
    *) expected='^127\.0\.0\.1:[0-9]+$' ;;
  esac
  echo "$reflexive" | grep -Eq "$expected"; check "turnutils_stunclient udp $host" $? "reflexive ${reflexive:-none}"
done

# partyline probe: the mapped port must be the probe's own local port.
for url in "stun://127.0.0.1:$port" "stun://127.0.0.1:$port?transport=tcp" "stun://[::1]:$port"; do
  out=$("$partyline" probe "$url" 2>&1)
  mapped_port=$(echo "$out" | grep '^mapped' | grep -o '[0-9]*$')
  local_port=$(echo "$out" | grep '^local' | grep -o '[0-9]*$')
  [ -n "$mapped_port" ] && [ "$mapped_port" = "$local_port" ]; check "partyline probe $url" $? "mapped port ${mapped_port:-none}, local ${local_port:-none}"
done

echo "interop-stun: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
