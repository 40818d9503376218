#!/usr/bin/env bash
# TURN allocations/s on loopback: PartyLine at its defaults vs coturn (Debian's turnserver), long-term and REST
# credentials, UDP and TCP, same load tool, alternating rounds.
# Usage: Benchmarks/turn-allocations.sh [ALLOCATIONS=2000] [ROUNDS=3]
# Each allocation is what a WebRTC client makes: its own socket (or connection), Allocate answered 401, the
# authenticated Allocate, a ChannelBind toward the tool's echo peer; `partyline load turn --rate 0` sets them
# up 256 at a time and ends each with Refresh 0. The server's CPU time (user + system from /proc) over the
# whole run, divided by ALLOCATIONS, is the cost of one allocation's life; allocations/s is the tool's
# setup time, and the tool (on the same 2 cores) is the bottleneck here, so compare the CPU figure.
# PartyLine runs with --stun-stream-max-connections-per-address 0 (its default cap of 256 TCP connections
# from one address would refuse the tool): that one setting is not the default.
set -euo pipefail
cd "$(dirname "$0")/.."
allocations=${1:-2000}
rounds=${2:-3}
command -v turnserver >/dev/null || { echo "needs coturn: apt-get install coturn"; exit 1; }
swift build -c release --product partyline >/dev/null
partyline=$(swift build -c release --show-bin-path)/partyline
ulimit -n "$(ulimit -Hn)"
work=$(mktemp -d)
pl_port=34890
co_port=34892
cr_port=34894
"$partyline" serve --log-level warning --stun-listen-udp "127.0.0.1:$pl_port" --stun-listen-tcp "127.0.0.1:$pl_port" \
  --stun-listen-tls "" --http-listen 127.0.0.1:0 --data-directory "$work/data" \
  --turn-users alice:wonderland --turn-secrets north --turn-realm partyline --turn-relay-addresses 127.0.0.1 \
  --turn-relay-ports 10000-24999 --turn-peers-allowed 127.0.0.0/8 --turn-quota-per-user 100000 \
  --turn-rate-limit-requests-per-second 0 --stun-stream-max-connections-per-address 0 >"$work/log" 2>&1 &
pl=$!
coturn_flags=(-n -L 127.0.0.1 --relay-ip 127.0.0.1 --realm partyline --allow-loopback-peers --no-tls --no-dtls
  --no-cli --no-stdout-log --log-file /dev/null --simple-log)
turnserver "${coturn_flags[@]}" --listening-port "$co_port" --min-port 25000 --max-port 29999 --lt-cred-mech \
  --user alice:wonderland >/dev/null 2>&1 &
co=$!
turnserver "${coturn_flags[@]}" --listening-port "$cr_port" --min-port 30000 --max-port 34999 --use-auth-secret \
  --static-auth-secret north >/dev/null 2>&1 &
cr=$!
trap 'kill $pl $co $cr 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
sleep 2
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
results="$work/results"
for transport in udp tcp; do
  for credential in long-term rest; do
    for round in $(seq "$rounds"); do
      for server in PartyLine coturn; do
        if [ "$server" = PartyLine ]; then pid=$pl port=$pl_port; else pid=$co port=$co_port; fi
        auth=(--username alice --password wonderland)
        if [ "$credential" = rest ]; then
          auth=(--secret north)
          [ "$server" = coturn ] && pid=$cr port=$cr_port
        fi
        before=$(ticks "$pid")
        out=$("$partyline" load turn --target "127.0.0.1:$port" --transport "$transport" "${auth[@]}" \
          --allocations "$allocations" --rate 0 --duration 0.5)
        sleep 1
        cpu=$(python3 -c "print(round(($(ticks "$pid") - $before) * 1e6 / $(getconf CLK_TCK) / $allocations))")
        rate=$(echo "$out" | grep -E '^ +allocations +[0-9]' | sed -E 's/.*\(([0-9]+)\/s\).*/\1/')
        echo "--- $server, $transport, $credential, round $round: $rate allocations/s, $cpu µs server CPU each"
        echo "$server $transport $credential $rate $cpu" >>"$results"
      done
    done
  done
done
python3 - "$results" "$allocations" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
print(f"\nmedians; {sys.argv[2]} allocations a run, 256 set up at once")
print("| transport | credentials | PartyLine allocations/s | coturn | PartyLine ÷ coturn "
      "| server CPU µs per allocation PartyLine | coturn | PartyLine CPU ÷ coturn |")
print("|---|---|---|---|---|---|---|---|")
for transport in ("udp", "tcp"):
    for credential in ("long-term", "rest"):
        def median(server, column):
            return statistics.median(float(r[column]) for r in rows
                                     if r[0] == server and r[1] == transport and r[2] == credential)
        p, c = median("PartyLine", 3), median("coturn", 3)
        pc, cc = median("PartyLine", 4), median("coturn", 4)
        print(f"| {transport} | {credential} | {p:.0f} | {c:.0f} | {p / c:.2f}× | {pc:.0f} | {cc:.0f} | {pc / cc:.2f} |")
PY
