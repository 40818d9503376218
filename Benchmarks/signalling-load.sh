#!/usr/bin/env bash
# Signalling under load on loopback: MEMBERS members in groups of six, each connected over WebSocket,
# sending RATE timestamped messages a second along its turn's edges for DURATION seconds.
# Usage: Benchmarks/signalling-load.sh [MEMBERS=10000] [RATE=1] [DURATION=20]
# Reports relay latency percentiles (send → receive through the server) and the server's resident memory
# per connected member. Needs MEMBERS file descriptors in each process (`ulimit -n`).
# PIN=1 pins the server to CPU 0 and the load tool to CPU 1 (taskset), so neither steals the other's core.
# PL_FLAGS adds server flags, e.g. PL_FLAGS="--signalling-heartbeat 5".
set -euo pipefail
cd "$(dirname "$0")/.."
members=${1:-10000}
rate=${2:-1}
duration=${3:-20}
swift build -c release --product partyline >/dev/null
partyline=$(swift build -c release --show-bin-path)/partyline
ulimit -n "$(ulimit -Hn)"
# Turns last longer than the run, so every group stays in its first turn while messages flow.
# Every member connects from 127.0.0.1: the per-address HTTP connection cap is off for the benchmark.
server_cpu=(); tool_cpu=()
if [ "${PIN:-0}" = 1 ]; then server_cpu=(taskset -c 0); tool_cpu=(taskset -c 1); fi
"${server_cpu[@]}" "$partyline" serve --log-level warning --stun-listen-udp 127.0.0.1:34890 --stun-listen-tcp "" \
  --http-listen 127.0.0.1:18080 --signalling-api-keys bench --signalling-turn-deadline 3600 ${PL_FLAGS:-} \
  --signalling-maximum-sessions 100000 --http-max-connections-per-address 0 >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait 2>/dev/null' EXIT
for _ in $(seq 50); do curl -sf http://127.0.0.1:18080/healthz >/dev/null && break; sleep 0.2; done
"${tool_cpu[@]}" "$partyline" load signalling --target http://127.0.0.1:18080 --api-key bench --members "$members" \
  --rate "$rate" --duration "$duration" --server-pid "$server"
