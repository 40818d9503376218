#!/usr/bin/env bash
# Capacity of one node and of three nodes of a cluster on this machine (loopback, one PostgreSQL, release
# build, every node at its defaults but for loopback peers and the per-address caps a single load host
# needs):
#   signalling  MEMBERS members in groups of six, each sending RATE messages a second for SECONDS
#               (`partyline load signalling`), first all on one node, then a third on each of three nodes
#               (three load tools at once);
#   relaying    ALLOCATIONS TURN allocations echoing SIZE-byte ChannelData, one datagram per system call as
#               browsers send (`partyline load turn --send per-datagram`), first through one node's relay,
#               then through the three relays at once.
# Prints each run, and the server CPU (user + system from /proc) per member-second, per relayed signalling
# message and per relayed TURN round trip: the inputs of the sizing table in docs/operations.md. Two cores
# cannot show three nodes scaling: the three runs share the same two cores with their load tools.
# Usage: Benchmarks/cluster-capacity.sh [MEMBERS=3000] [RATE=1] [SECONDS=20] [ALLOCATIONS=32] [SIZE=100]
set -euo pipefail
cd "$(dirname "$0")/.."
members=${1:-3000}
rate=${2:-1}
seconds=${3:-20}
allocations=${4:-32}
size=${5:-100}
swift build -c release --product partyline >/dev/null
bin=$(swift build -c release --show-bin-path)/partyline
ulimit -n "$(ulimit -Hn)"
work=$(mktemp -d /tmp/partyline-capacity.XXXXXX)
base=$(scripts/test-postgres.sh start)
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

# Starts N nodes on a fresh database; their pids in node_pids.
start_nodes() {
  cleanup
  pids=()
  node_pids=()
  local database="capacity_$$_$1_$(date +%s%N)"
  "$pgbin/psql" -q "$base" -c "CREATE DATABASE $database" >/dev/null
  for n in $(seq 1 "$1"); do
    local ip="127.0.0.$n" port=$((18700 + n))
    "$bin" serve --log-level warning --http-listen "$ip:$port" --stun-listen-udp "$ip:$((34700 + n))" \
      --stun-listen-tcp "" --data-directory "$work/node-$1-$n" \
      --coordinator-database-postgres-url "${base/\/partyline_test/\/$database}" --cluster-node-id "node-$n" \
      --cluster-advertise-http "http://$ip:$port" --signalling-public-url "ws://$ip:$port/v1/signal" \
      --signalling-api-keys bench --signalling-turn-deadline 3600 --signalling-maximum-sessions 100000 \
      --http-max-connections-per-address 0 --turn-users alice:wonderland --turn-relay-addresses "$ip" \
      --turn-relay-ports "$((20000 + n * 3000))-$((22999 + n * 3000))" --turn-peers-allowed 127.0.0.0/8 \
      --turn-quota-per-user 100000 --turn-rate-limit-requests-per-second 0 >"$work/node-$1-$n.log" 2>&1 &
    pids+=($!)
    node_pids+=($!)
  done
  for n in $(seq 1 "$1"); do
    for _ in $(seq 100); do curl -sf "http://127.0.0.$n:$((18700 + n))/healthz" >/dev/null && break; sleep 0.1; done
  done
}

# Runs `load signalling` against each node at once (members split evenly); prints totals.
signalling() {
  local nodes=$1 share=$((members / $1)) before=() after=() loads=()
  for pid in "${node_pids[@]}"; do before+=("$(ticks "$pid")"); done
  for n in $(seq 1 "$nodes"); do
    "$bin" load signalling --target "http://127.0.0.$n:$((18700 + n))" --api-key bench --members "$share" \
      --rate "$rate" --duration "$seconds" --server-pid "${node_pids[$((n - 1))]}" >"$work/signalling-$nodes-$n" 2>&1 &
    loads+=($!)
  done
  for load in "${loads[@]}"; do wait "$load"; done
  for pid in "${node_pids[@]}"; do after+=("$(ticks "$pid")"); done
  echo "--- signalling, $nodes node(s), $members members, $rate messages/s each, $seconds s"
  for n in $(seq 1 "$nodes"); do
    echo "node-$n: $(grep -E 'relayed/s|p99|server memory|server CPU|members connected|errors' "$work/signalling-$nodes-$n" | tr -s ' ' | tr '\n' ';')"
  done
}

# Runs `load turn` against each node's relay at once; prints each node's round trips/s and CPU per round trip.
relaying() {
  local nodes=$1 loads=() before=() after=()
  for pid in "${node_pids[@]}"; do before+=("$(ticks "$pid")"); done
  for n in $(seq 1 "$nodes"); do
    "$bin" load turn --target "127.0.0.$n:$((34700 + n))" --username alice --password wonderland \
      --send per-datagram --allocations "$allocations" --window 8 --size "$size" --duration "$seconds" \
      >"$work/turn-$nodes-$n" 2>&1 &
    loads+=($!)
  done
  for load in "${loads[@]}"; do wait "$load"; done
  for pid in "${node_pids[@]}"; do after+=("$(ticks "$pid")"); done
  echo "--- relaying, $nodes node(s), $allocations allocations x 8 in flight, $size B, per-datagram, $seconds s"
  local total=0
  for n in $(seq 1 "$nodes"); do
    local echoes cpu
    echoes=$(awk '$1 == "echoes" { print $2 }' "$work/turn-$nodes-$n" | tail -1)
    cpu=$(( (${after[$((n - 1))]} - ${before[$((n - 1))]}) ))
    total=$((total + ${echoes:-0}))
    python3 -c "
e, t = ${echoes:-0}, $cpu / $hz
print(f'node-$n: {e / $seconds:,.0f} round trips/s, server CPU {t:.1f} s = {t / $seconds * 100:.0f} % of a core, {t / max(e, 1) * 1e6:.1f} us per round trip')"
  done
  python3 -c "print(f'all: {$total / $seconds:,.0f} round trips/s ({2 * $total / $seconds:,.0f} relayed packets/s)')"
}

for nodes in 1 3; do
  start_nodes "$nodes"
  signalling "$nodes"
  relaying "$nodes"
done
