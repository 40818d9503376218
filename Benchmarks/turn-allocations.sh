#!/usr/bin/env bash
# TURN allocations/s on loopback: PartyLine at its defaults vs coturn (Debian's turnserver), long-term and REST
# credentials, UDP and TCP, same load tool, alternating rounds.
# Usage: Benchmarks/turn-allocations.sh [ALLOCATIONS=10000] [ROUNDS=3] [INFLIGHT=500]
# The tool is Benchmarks/turn-allocate.c (C, one thread, epoll; needs libssl-dev for HMAC and MD5), light
# enough that the server sets the rate. Each allocation is what a WebRTC client makes: its own socket (or
# TCP connection), Allocate answered 401, the authenticated Allocate, then Refresh 0 to end it; INFLIGHT of
# them run at once. The server's CPU time (user + system from /proc) over the run, divided by ALLOCATIONS, is
# the cost of one allocation's life. Runs are 3 s apart and each server has 15,000 relay ports: coturn holds
# a deleted allocation's port for a few seconds.
# PartyLine runs with --stun-stream-max-connections-per-address 0 (its default cap of 256 TCP connections
# from one address would refuse the tool): that one setting is not the default.
set -euo pipefail
cd "$(dirname "$0")/.."
allocations=${1:-10000}
rounds=${2:-3}
inflight=${3:-500}
command -v turnserver >/dev/null || { echo "needs coturn: apt-get install coturn"; exit 1; }
[ -f /usr/include/openssl/hmac.h ] || { echo "needs libssl-dev for the load tool"; exit 1; }
swift build -c release --product partyline >/dev/null
partyline=$(swift build -c release --show-bin-path)/partyline
ulimit -n "$(ulimit -Hn)"
work=$(mktemp -d)
cc -O2 -o "$work/turn-allocate" Benchmarks/turn-allocate.c -lcrypto
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
turnserver "${coturn_flags[@]}" --listening-port "$co_port" --min-port 25000 --max-port 39999 --lt-cred-mech \
  --user alice:wonderland >/dev/null 2>&1 &
co=$!
turnserver "${coturn_flags[@]}" --listening-port "$cr_port" --min-port 40000 --max-port 54999 --use-auth-secret \
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
        auth=(alice wonderland)
        if [ "$credential" = rest ]; then
          auth=(--secret north)
          [ "$server" = coturn ] && pid=$cr port=$cr_port
        fi
        before=$(ticks "$pid")
        out=$("$work/turn-allocate" 127.0.0.1 "$port" "$transport" "$allocations" "$inflight" "${auth[@]}") || true
        sleep 3
        cpu=$(python3 -c "print(round(($(ticks "$pid") - $before) * 1e6 / $(getconf CLK_TCK) / $allocations, 1))")
        rate=$(echo "$out" | sed -E 's/.*\(([0-9]+)\/s\).*/\1/')
        failed=$(echo "$out" | sed -E 's/.*failed ([0-9]+).*/\1/')
        echo "--- $server, $transport, $credential, round $round: $rate allocations/s, $cpu µs server CPU each, $failed failed"
        echo "$server $transport $credential $rate $cpu $failed" >>"$results"
      done
    done
  done
done
python3 - "$results" "$allocations" "$inflight" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
print(f"\nmedians; {sys.argv[2]} allocations a run, {sys.argv[3]} at once")
print("| transport | credentials | PartyLine allocations/s | coturn | PartyLine ÷ coturn "
      "| server CPU µs per allocation PartyLine | coturn | PartyLine CPU ÷ coturn | failed (PL/coturn) |")
print("|---|---|---|---|---|---|---|---|---|")
for transport in ("udp", "tcp"):
    for credential in ("long-term", "rest"):
        def mine(server):
            return [r for r in rows if r[0] == server and r[1] == transport and r[2] == credential]
        def median(server, column):
            return statistics.median(float(r[column]) for r in mine(server))
        p, c = median("PartyLine", 3), median("coturn", 3)
        pc, cc = median("PartyLine", 4), median("coturn", 4)
        failed = [sum(int(r[5]) for r in mine(server)) for server in ("PartyLine", "coturn")]
        print(f"| {transport} | {credential} | {p:.0f} | {c:.0f} | {p / c:.2f}× | {pc:.1f} | {cc:.1f} | {pc / cc:.2f} "
              f"| {failed[0]}/{failed[1]} |")
PY
