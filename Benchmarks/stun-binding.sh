#!/usr/bin/env bash
# Binding responses/s on loopback: PartyLine vs coturn (Debian's turnserver), same load tool, same run.
# Usage: Benchmarks/stun-binding.sh [SECONDS=10] [INFLIGHT=256] [ROUNDS=4]
# Rounds alternate between the servers; the median and best of each are compared, since a shared 2-core
# machine varies by ±15 % from run to run. The load tool sends with UDP GSO where Linux has it.
# Both servers listen on 127.0.0.1 only; the load tool is `partyline load stun`.
# PL_FLAGS: extra `serve` flags (e.g. "--stun-udp-io event-loop"); the figures are then not the defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
inflight=${2:-256}
rounds=${3:-4}
command -v turnserver >/dev/null || { echo "needs coturn: apt-get install coturn"; exit 1; }
swift build -c release --product partyline >/dev/null
partyline=$(swift build -c release --show-bin-path)/partyline
pl_port=34790
co_port=34792
"$partyline" serve --stun-listen-udp "127.0.0.1:$pl_port" --stun-listen-tcp "" --log-level warning ${PL_FLAGS:-} \
  >/dev/null 2>&1 &
pl=$!
turnserver -n -L 127.0.0.1 --listening-port "$co_port" --no-tls --no-dtls --no-tcp --no-cli \
  --no-stdout-log --log-file /dev/null --simple-log >/dev/null 2>&1 &
co=$!
trap 'kill $pl $co 2>/dev/null; wait 2>/dev/null' EXIT
sleep 2
rate() { echo "$1" | grep 'responses/s' | grep -o '[0-9]*$'; }
declare -a pl_rates co_rates
for round in $(seq "$rounds"); do
  out=$("$partyline" load stun --target "127.0.0.1:$pl_port" --duration "$seconds" --inflight "$inflight")
  echo "--- PartyLine, round $round"; echo "$out" | sed -n '/^result/,$p'
  pl_rates+=("$(rate "$out")")
  out=$("$partyline" load stun --target "127.0.0.1:$co_port" --duration "$seconds" --inflight "$inflight")
  echo "--- coturn $(turnserver --version 2>/dev/null | head -1), round $round"; echo "$out" | sed -n '/^result/,$p'
  co_rates+=("$(rate "$out")")
done
echo "PartyLine (${PL_FLAGS:-defaults}) rounds: ${pl_rates[*]}  coturn rounds: ${co_rates[*]}"
python3 - "${pl_rates[*]}" "${co_rates[*]}" <<'PY'
import statistics, sys
pl = [int(x) for x in sys.argv[1].split()]
co = [int(x) for x in sys.argv[2].split()]
pm, cm = statistics.median(pl), statistics.median(co)
print(f"median responses/s: PartyLine {pm:.0f}, coturn {cm:.0f}, ratio {pm / cm:.2f}x")
print(f"best responses/s:   PartyLine {max(pl)}, coturn {max(co)}, ratio {max(pl) / max(co):.2f}x")
PY
