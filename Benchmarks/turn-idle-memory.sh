#!/usr/bin/env bash
# Resident memory of idle TURN allocations on loopback: PartyLine vs coturn (Debian's turnserver).
# Usage: Benchmarks/turn-idle-memory.sh [ALLOCATIONS=10000]
# `partyline load turn --rate 0` sets up ALLOCATIONS UDP allocations (each with a channel to the tool's
# echo peer) and holds them idle; the server's VmRSS is read before and while they are held.
# Needs ALLOCATIONS × 2 file descriptors in each process (raise `ulimit -n` first if needed).
set -euo pipefail
cd "$(dirname "$0")/.."
allocations=${1:-10000}
command -v turnserver >/dev/null || { echo "needs coturn: apt-get install coturn"; exit 1; }
swift build -c release --product partyline >/dev/null
partyline=$(swift build -c release --show-bin-path)/partyline
ulimit -n "$(ulimit -Hn)"
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
measure() { # name pid port
  local before after out
  before=$(rss "$2")
  "$partyline" load turn --target "127.0.0.1:$3" --username alice --password wonderland \
    --allocations "$allocations" --rate 0 --duration 8 >"/tmp/turn-idle-${1%% *}.out" 2>&1 &
  local load=$!
  for _ in $(seq 120); do grep -q "allocations ready" "/tmp/turn-idle-${1%% *}.out" && break; sleep 0.5; done
  grep "allocations ready" "/tmp/turn-idle-${1%% *}.out" || { cat "/tmp/turn-idle-${1%% *}.out"; return 1; }
  sleep 3
  after=$(rss "$2")
  wait $load || true
  echo "$1: RSS $before KiB idle, $after KiB with $allocations allocations:" \
    "$(( (after - before) * 1024 / allocations )) bytes per allocation"
}
# Relay ranges below the kernel's ephemeral range (the load tool's sockets live there).
"$partyline" serve --log-level warning --stun-listen-udp 127.0.0.1:34790 --stun-listen-tcp "" \
  --turn-users alice:wonderland --turn-realm partyline --turn-relay-addresses 127.0.0.1 \
  --turn-relay-ports 8000-19999 --turn-peers-allowed 127.0.0.0/8 --turn-quota-per-user 100000 --turn-rate-limit-requests-per-second 0 \
  --turn-quota-total 100000 >/dev/null 2>&1 &
pl=$!
turnserver -n -L 127.0.0.1 --listening-port 34792 --relay-ip 127.0.0.1 --min-port 20000 --max-port 32767 \
  --lt-cred-mech --user alice:wonderland --realm partyline --allow-loopback-peers --no-tls --no-dtls --no-tcp \
  --no-cli --no-stdout-log --log-file /dev/null --simple-log >/dev/null 2>&1 &
co=$!
trap 'kill $pl $co 2>/dev/null; wait 2>/dev/null' EXIT
sleep 2
measure PartyLine $pl 34790
measure "coturn $(turnserver --version 2>/dev/null | head -1)" $co 34792
