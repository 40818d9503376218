#!/usr/bin/env bash
# TURN relay throughput on loopback: PartyLine at its defaults vs coturn (Debian's turnserver) vs the floor (a
# bare relay hop with no protocol work, UDP or TCP, Benchmarks/relay-floor.c), same load tool, same run.
# Usage: Benchmarks/turn-relay.sh [SECONDS=10] [ALLOCATIONS=32] [WINDOW=8] [ROUNDS=3] [SIZES="100 1000"]
# Environment: MODES (default "per-datagram sendmmsg gso"), TRANSPORTS ("udp tcp"), LATENCY_SECONDS (30 per server in 3
# alternating rounds, over 100,000 round trips here; 0 skips the latency phase: one allocation, one packet in
# flight, per-datagram, 100 B), PIN=1 (servers on CPU 0,
# the tool on CPU 1), BEFORE=/path/to/an/older/partyline (a third server in the same rounds: a change's cost),
# PL_FLAGS (extra `serve` flags: the figures are then not the defaults, and the table says so).
#
# `partyline load turn` sets up ALLOCATIONS allocations with a channel each toward its own echo peer and keeps
# WINDOW packets in flight per allocation: client -> relay -> peer -> relay -> client. One echo is one round
# trip through the relay (two relayed packets). The client's send mode is the one that matters for a relay:
#   per-datagram  one sendmsg per datagram, as browsers and phones (libwebrtc) send: the comparison mode
#   sendmmsg      a read burst's replies in one sendmmsg, no GSO
#   gso           runs of one size as one UDP GSO write (the tool's cheapest; no real client sends so)
# The echo peer replies in the same mode. Over TCP, per-datagram is one write per frame and the others one
# write per burst. Rounds alternate between the servers and medians are compared (a shared 2-core machine
# varies by about ±10 %). The server's CPU time per echo (user + system from /proc) is the figure the load
# tool's share of the cores does not blur.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
allocations=${2:-32}
window=${3:-8}
rounds=${4:-3}
sizes=${5:-100 1000}
modes=${MODES:-per-datagram sendmmsg gso}
transports=${TRANSPORTS:-udp tcp}
command -v turnserver >/dev/null || { echo "needs coturn: apt-get install coturn"; exit 1; }
command -v cc >/dev/null || { echo "needs a C compiler for the floor"; exit 1; }
swift build -c release --product partyline >/dev/null
partyline=$(swift build -c release --show-bin-path)/partyline
work=$(mktemp -d)
cc -O2 -pthread -o "$work/relay-floor" Benchmarks/relay-floor.c
pl_port=34790
co_port=34792
fl_port=34794
bf_port=34796
server_cpu=()
tool_cpu=()
if [ "${PIN:-0}" = 1 ]; then server_cpu=(taskset -c 0); tool_cpu=(taskset -c 1); fi
configuration="defaults"
if [ -n "${PL_FLAGS:-}" ] || env | grep -q '^PARTYLINE_'; then
  configuration="NOT the defaults: ${PL_FLAGS:-} $(env | grep '^PARTYLINE_' | tr '\n' ' ')"
fi
start_partyline() { # binary port relay-ports
  "${server_cpu[@]}" "$1" serve --log-level warning --stun-listen-udp "127.0.0.1:$2" --stun-listen-tcp "127.0.0.1:$2" \
    --stun-listen-tls "" --http-listen 127.0.0.1:0 --data-directory "$work/data-$2" ${PL_FLAGS:-} \
    --turn-users alice:wonderland --turn-realm partyline --turn-relay-addresses 127.0.0.1 \
    --turn-relay-ports "$3" --turn-peers-allowed 127.0.0.0/8 --turn-quota-per-user 100000 \
    --turn-rate-limit-requests-per-second 0 >"$work/log-$2" 2>&1 &
}
start_partyline "$partyline" "$pl_port" 20000-24999
pl=$!
"${server_cpu[@]}" turnserver -n -L 127.0.0.1 --listening-port "$co_port" --relay-ip 127.0.0.1 --min-port 25000 \
  --max-port 29999 --lt-cred-mech --user alice:wonderland --realm partyline --allow-loopback-peers --no-tls --no-dtls \
  --no-cli --no-stdout-log --log-file /dev/null --simple-log >/dev/null 2>&1 &
co=$!
"${server_cpu[@]}" "$work/relay-floor" "$fl_port" 2 2>/dev/null &
fl=$!
bf=""
if [ -n "${BEFORE:-}" ]; then
  start_partyline "$BEFORE" "$bf_port" 30000-34999
  bf=$!
fi
trap 'kill $pl $co $fl $bf 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
sleep 2
coturn_version=$(turnserver --version 2>/dev/null | head -1)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
field() { echo "$1" | grep "^  $2 " | sed "s|^  $2 *||"; }
results="$work/results"
echo "PartyLine at $configuration; coturn $coturn_version (2 relay threads); floor: relay-floor.c, 2 threads"
for transport in $transports; do
  servers="PartyLine coturn floor"
  [ -n "$bf" ] && servers="before $servers"
  for mode in $modes; do
    [ "$transport" = tcp ] && [ "$mode" = gso ] && continue
    for size in $sizes; do
      for round in $(seq "$rounds"); do
        for server in $servers; do
          case $server in
            PartyLine) port=$pl_port pid=$pl ;;
            coturn) port=$co_port pid=$co ;;
            floor) port=$fl_port pid=$fl ;;
            before) port=$bf_port pid=$bf ;;
          esac
          before=$(ticks "$pid")
          out=$("${tool_cpu[@]}" "$partyline" load turn --target "127.0.0.1:$port" --username alice \
            --password wonderland --transport "$transport" --send "$mode" --allocations "$allocations" \
            --window "$window" --size "$size" --duration "$seconds")
          echo "--- $server, $transport, $mode, $size B, round $round"
          echo "$out" | sed -n '/^result/,$p'
          rate=$(field "$out" "echoes/s")
          p99=$(field "$out" "p99 round trip")
          lost=$(field "$out" "lost" | cut -d' ' -f1)
          echoes=$(field "$out" "echoes")
          cpu=$(python3 -c "print(round(($(ticks "$pid") - $before) * 1e6 / $(getconf CLK_TCK) / max(1, $echoes), 2))")
          echo "  server CPU per echo  $cpu µs"
          echo "$server $transport $mode $size $rate $lost $cpu $p99" >>"$results"
        done
      done
    done
  done
done
latency_seconds=${LATENCY_SECONDS:-30}
latencies="$work/latencies"
if [ "$latency_seconds" != 0 ]; then
  # Three alternating rounds per server (the machine drifts over minutes): medians of their p50 and p99.
  latency_servers="PartyLine coturn floor"
  [ -n "$bf" ] && latency_servers="before $latency_servers"
  for round in 1 2 3; do
    for server in $latency_servers; do
      case $server in
        PartyLine) port=$pl_port ;;
        coturn) port=$co_port ;;
        floor) port=$fl_port ;;
        before) port=$bf_port ;;
      esac
      out=$("${tool_cpu[@]}" "$partyline" load turn --target "127.0.0.1:$port" --username alice \
        --password wonderland --send per-datagram --allocations 1 --window 1 --size 100 \
        --duration "$(python3 -c "print($latency_seconds / 3)")")
      echo "--- latency, $server, round $round"
      echo "$out" | sed -n '/^result/,$p'
      echo "$server $(field "$out" "echoes") $(field "$out" "p50 round trip" | tr -d ' ') $(field "$out" "p99 round trip" | tr -d ' ')" >>"$latencies"
    done
  done
fi
python3 - "$results" "$configuration" <<'PY'
import statistics, sys
rows = [line.split(maxsplit=7) for line in open(sys.argv[1])]
def micros(text):
    value, unit = text.split()
    return float(value) * (1000 if unit == "ms" else 1)
print(f"\nmedians; PartyLine at {sys.argv[2]}")
print("| transport | client sends | size | PartyLine echoes/s | coturn | floor | PartyLine ÷ coturn "
      "| CPU µs/echo PartyLine | coturn | floor | PartyLine CPU ÷ coturn | lost (PL/coturn) |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
keys = []
for r in rows:
    key = (r[1], r[2], int(r[3]))
    if key not in keys:
        keys.append(key)
for transport, mode, size in keys:
    stats = {}
    for server in ("before", "PartyLine", "coturn", "floor"):
        mine = [r for r in rows if r[0] == server and (r[1], r[2], int(r[3])) == (transport, mode, size)]
        if mine:
            stats[server] = (statistics.median(int(r[4]) for r in mine), sum(int(r[5]) for r in mine),
                             statistics.median(float(r[6]) for r in mine), statistics.median(micros(r[7]) for r in mine))
    p, c = stats["PartyLine"], stats["coturn"]
    f = stats.get("floor")
    print(f"| {transport} | {mode} | {size} B | {p[0]:.0f} | {c[0]:.0f} | {f[0]:.0f} |" if f else
          f"| {transport} | {mode} | {size} B | {p[0]:.0f} | {c[0]:.0f} | – |", end="")
    print(f" {p[0] / c[0]:.2f}× | {p[2]:.2f} | {c[2]:.2f} | {f[2]:.2f} |" if f else
          f" {p[0] / c[0]:.2f}× | {p[2]:.2f} | {c[2]:.2f} | – |", end="")
    print(f" {p[2] / c[2]:.2f} | {p[1]}/{c[1]} |")
    if "before" in stats:
        b = stats["before"]
        print(f"|   | before | {size} B | {b[0]:.0f} echoes/s, {b[2]:.2f} µs CPU/echo, lost {b[1]}; now ÷ before "
              f"{p[0] / b[0]:.3f}×, CPU {100 * (p[2] - b[2]) / b[2]:+.1f} % |")
PY
if [ -f "$latencies" ]; then
  python3 - "$latencies" <<'PY'
import sys
def micros(text):
    for unit, scale in (("µs", 1), ("ms", 1000), ("s", 1e6)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * scale
    return float(text)
import statistics
runs = [line.split() for line in open(sys.argv[1])]
rows = {}
for server in ("before", "PartyLine", "coturn", "floor"):
    mine = [r for r in runs if r[0] == server]
    if not mine:
        continue
    rows[server] = (sum(int(r[1]) for r in mine), statistics.median(micros(r[2]) for r in mine),
                    statistics.median(micros(r[3]) for r in mine))
floor = rows["floor"]
print("\none allocation, one packet in flight, per-datagram, 100 B: round trip through the relay "
      "(medians of 3 alternating rounds)")
print("| server | round trips | p50 | p99 | added over the floor p50 | p99 |")
print("|---|---|---|---|---|---|")
for server in rows:
    n, p50, p99 = rows[server]
    print(f"| {server} | {n} | {p50:.1f} µs | {p99:.1f} µs | {p50 - floor[1]:+.1f} µs | {p99 - floor[2]:+.1f} µs |")
PY
fi
