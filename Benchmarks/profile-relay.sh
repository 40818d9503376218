#!/usr/bin/env bash
# Where the relay spends its CPU: PartyLine (release build, its defaults) under `partyline load turn`, sampled
# by perf on the server process only. Prints the top symbols by self time, user and kernel.
# Usage: Benchmarks/profile-relay.sh [SECONDS=15] [SEND=per-datagram] [TRANSPORT=udp] [SIZE=100]
# PARTYLINE=/path/to/partyline profiles that binary instead of building this checkout.
# Needs perf (Debian's linux-perf) and permission to sample (root, or kernel.perf_event_paranoid <= 1).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-15}
send=${2:-per-datagram}
transport=${3:-udp}
size=${4:-100}
command -v perf >/dev/null || { echo "needs perf: apt-get install linux-perf"; exit 1; }
if [ -z "${PARTYLINE:-}" ]; then
  swift build -c release --product partyline >/dev/null
fi
partyline=${PARTYLINE:-$(swift build -c release --show-bin-path)/partyline}
work=$(mktemp -d)
port=34798
"$partyline" serve --log-level warning --stun-listen-udp "127.0.0.1:$port" --stun-listen-tcp "127.0.0.1:$port" \
  --stun-listen-tls "" --http-listen 127.0.0.1:0 --data-directory "$work/data" \
  --turn-users alice:wonderland --turn-realm partyline --turn-relay-addresses 127.0.0.1 \
  --turn-relay-ports 40000-44999 --turn-peers-allowed 127.0.0.0/8 --turn-quota-per-user 100000 \
  --turn-rate-limit-requests-per-second 0 >"$work/log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
sleep 2
"$partyline" load turn --target "127.0.0.1:$port" --username alice --password wonderland --transport "$transport" \
  --send "$send" --allocations 32 --window 8 --size "$size" --duration $((seconds + 4)) >"$work/load" &
load=$!
sleep 2
perf record -F 1999 -g -o "$work/perf.data" -p "$server" -- sleep "$seconds" 2>/dev/null
wait $load
sed -n '/^result/,$p' "$work/load"
echo "--- CPU by binary (PartyLine at its defaults, client sends $send over $transport, $size B)"
perf report -i "$work/perf.data" --no-children --sort dso --stdio 2>/dev/null | grep -E '^ +[0-9]' \
  | sed -E 's/ +$//' | head -12
echo "--- top symbols by self time"
perf report -i "$work/perf.data" --no-children --sort dso,symbol --percent-limit 0.5 --stdio 2>/dev/null \
  | grep -E '^ +[0-9]' | sed -E 's/ +(- +)*$//' | cut -c1-150 | head -50
