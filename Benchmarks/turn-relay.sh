#!/usr/bin/env bash
# TURN relay throughput on loopback: PartyLine vs coturn (Debian's turnserver), same load tool, same run.
# Usage: Benchmarks/turn-relay.sh [SECONDS=10] [ALLOCATIONS=32] [WINDOW=8] [ROUNDS=3] [SIZES="100 1000"]
# `partyline load turn` sets up ALLOCATIONS UDP allocations with a channel each toward its own echo peer
# and keeps WINDOW packets in flight per allocation: client -> relay -> peer -> relay -> client. The
# figure is echoes/s (every echo is two relayed ChannelData/datagram pairs), with loss and p99 round trip.
# Rounds alternate between the servers; medians are compared (a shared 2-core machine varies by ±15 %).
# The server's CPU time per echo (user + system, from /proc) is reported too: it is the figure the load
# tool's own share of the cores does not blur. PIN=1 runs the servers on CPU 0 and the tool on CPU 1.
# BEFORE=/path/to/an/older/partyline adds that build as a third server in the same rounds (a change's cost,
# e.g. of metrics: build the commit before it in a git worktree with `swift build -c release`).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
allocations=${2:-32}
window=${3:-8}
rounds=${4:-3}
sizes=${5:-100 1000}
command -v turnserver >/dev/null || { echo "needs coturn: apt-get install coturn"; exit 1; }
# UDP GSO in the relay (turn.udpSegmentation) is off by default; loopback carries it safely.
export PARTYLINE_TURN_UDP_SEGMENTATION=${PARTYLINE_TURN_UDP_SEGMENTATION:-true}
swift build -c release --product partyline >/dev/null
partyline=$(swift build -c release --show-bin-path)/partyline
pl_port=34790
co_port=34792
server_cpu=()
tool_cpu=()
if [ "${PIN:-0}" = 1 ]; then server_cpu=(taskset -c 0); tool_cpu=(taskset -c 1); fi
"${server_cpu[@]}" "$partyline" serve --log-level warning --stun-listen-udp "127.0.0.1:$pl_port" --stun-listen-tcp "" ${PL_FLAGS:-} \
  --turn-users alice:wonderland --turn-realm partyline --turn-relay-addresses 127.0.0.1 \
  --turn-relay-ports 20000-24999 --turn-peers-allowed 127.0.0.0/8 --turn-quota-per-user 100000 \
  --turn-rate-limit-requests-per-second 0 >/dev/null 2>&1 &
pl=$!
"${server_cpu[@]}" turnserver -n -L 127.0.0.1 --listening-port "$co_port" --relay-ip 127.0.0.1 --min-port 25000 --max-port 29999 \
  --lt-cred-mech --user alice:wonderland --realm partyline --allow-loopback-peers --no-tls --no-dtls --no-tcp \
  --no-cli --no-stdout-log --log-file /dev/null --simple-log >/dev/null 2>&1 &
co=$!
servers="PartyLine coturn"
bf=""
if [ -n "${BEFORE:-}" ]; then
  "${server_cpu[@]}" "$BEFORE" serve --log-level warning --stun-listen-udp "127.0.0.1:$((pl_port + 4))" --stun-listen-tcp "" \
    --http-listen 127.0.0.1:0 --coordinator-database-sqlite-path "$(mktemp -d)/before.sqlite" ${PL_FLAGS:-} \
    --turn-users alice:wonderland --turn-realm partyline --turn-relay-addresses 127.0.0.1 \
    --turn-relay-ports 30000-34999 --turn-peers-allowed 127.0.0.0/8 --turn-quota-per-user 100000 \
    --turn-rate-limit-requests-per-second 0 >/dev/null 2>&1 &
  bf=$!
  servers="before PartyLine coturn"
fi
trap 'kill $pl $co $bf 2>/dev/null; wait 2>/dev/null' EXIT
sleep 2
coturn_version=$(turnserver --version 2>/dev/null | head -1)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
field() { echo "$1" | grep "^  $2 " | sed "s|^  $2 *||"; }
results=$(mktemp)
for size in $sizes; do
  for round in $(seq "$rounds"); do
    for server in $servers; do
      port=$pl_port
      pid=$pl
      [ "$server" = coturn ] && port=$co_port && pid=$co
      [ "$server" = before ] && port=$((pl_port + 4)) && pid=$bf
      before=$(ticks "$pid")
      out=$("${tool_cpu[@]}" "$partyline" load turn --target "127.0.0.1:$port" --username alice --password wonderland \
        --allocations "$allocations" --window "$window" --size "$size" --duration "$seconds")
      label=$server
      [ "$server" = coturn ] && label="coturn ($coturn_version)"
      [ "$server" = before ] && label="PartyLine before ($BEFORE)"
      echo "--- $label, $size B, round $round"
      echo "$out" | sed -n '/^result/,$p'
      rate=$(field "$out" "echoes/s")
      p99=$(field "$out" "p99 round trip")
      lost=$(field "$out" "lost" | cut -d' ' -f1)
      echoes=$(field "$out" "echoes")
      cpu=$(python3 -c "print(round(($(ticks "$pid") - $before) * 1e6 / $(getconf CLK_TCK) / max(1, $echoes), 2))")
      echo "  server CPU per echo  $cpu µs"
      echo "$server $size $rate $lost $cpu $p99" >>"$results"
    done
  done
done
python3 - "$results" <<'PY'
import statistics, sys
rows = [line.split(maxsplit=5) for line in open(sys.argv[1])]
def micros(text):
    value, unit = text.split()
    return float(value) * (1000 if unit == "ms" else 1)
for size in sorted({int(r[1]) for r in rows}):
    stats = {}
    for server in ("PartyLine", "coturn"):
        mine = [r for r in rows if r[0] == server and int(r[1]) == size]
        stats[server] = (statistics.median(int(r[2]) for r in mine), sum(int(r[3]) for r in mine),
                         statistics.median(float(r[4]) for r in mine), statistics.median(micros(r[5]) for r in mine))
    (pr, pl, pc, pp), (cr, cl, cc, cp) = stats["PartyLine"], stats["coturn"]
    print(f"{size:>5} B  echoes/s median: PartyLine {pr:.0f} (lost {pl}, p99 {pp:.0f} µs, {pc:.2f} µs CPU/echo), "
          f"coturn {cr:.0f} (lost {cl}, p99 {cp:.0f} µs, {cc:.2f} µs CPU/echo), ratio {pr / cr:.2f}x")
    before = [r for r in rows if r[0] == "before" and int(r[1]) == size]
    if before:
        br = statistics.median(int(r[2]) for r in before)
        bc = statistics.median(float(r[4]) for r in before)
        bl = sum(int(r[3]) for r in before)
        print(f"{size:>5} B  before: {br:.0f} echoes/s (lost {bl}, {bc:.2f} µs CPU/echo); now vs before: "
              f"{pr / br:.3f}x echoes/s, CPU per echo {100 * (pc - bc) / bc:+.1f} %")
PY
rm -f "$results"
