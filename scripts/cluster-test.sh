#!/usr/bin/env bash
# Cluster test: three nodes of `partyline serve` on one PostgreSQL, on loopback (127.0.0.1, .2 and .3), and
# one party played by real WebSocket clients (`partyline load party`, its API calls through node 3):
#   - groups are placed on all three nodes;
#   - node 1, holding the coordinator, is killed (SIGKILL) mid-party: another node takes the coordinator
#     over (the take-over time is printed) and the party goes on; node 1 is started again;
#   - node 2, carrying groups, is killed mid-turn: its groups' sessions are made again on the others;
#   - at the end every member has exactly one outcome, and no acknowledged vote, registration or validation
#     is lost; the deposit ledger balances;
#   - 200 subject prefixes revoked through node 1 all reach node 3's relay: the fan-out (publication on node
#     1 to allocations closed on node 3) is printed, p50 and p99, with that of the party's own revocations.
# That a revoked subject's stream stops at another node's relay is shown by the Swift test
# "a subject revoked through one node is refused by another node's relay" (Tests/RelayServerTests).
#   scripts/cluster-test.sh [MEMBERS]
set -euo pipefail
cd "$(dirname "$0")/.."
members="${1:-60}"
swift build --product partyline >/dev/null
bin="$(swift build --show-bin-path)/partyline"
work=$(mktemp -d /tmp/partyline-cluster.XXXXXX)
base=$(scripts/test-postgres.sh start)
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
database="cluster_$$_$(date +%s)"
"$pgbin/psql" -q "$base" -c "CREATE DATABASE $database" >/dev/null
db="${base/\/partyline_test/\/$database}"
sql() { "$pgbin/psql" -qAt "$db" -c "$1"; }
export PARTYLINE_COORDINATOR_ADMIN_KEYS=cluster-admin
export PARTYLINE_COORDINATOR_DATABASE_POSTGRES_URL="$db"
declare -A pids
address() { echo "127.0.0.$1"; }
port() { echo $((18600 + $1)); }
start_node() {
  local n=$1 ip port
  ip=$(address "$n")
  port=$(port "$n")
  # Thousands of logins from one address: the per-address login limit is off for this test.
  "$bin" serve --http-listen "$ip:$port" --stun-listen-udp "$ip:0" --stun-listen-tcp "" \
    --data-directory "$work/node-$n" --coordinator-rate-limit-logins-per-second 0 \
    --signalling-public-url "ws://$ip:$port/v1/signal" --cluster-node-id "node-$n" \
    --cluster-advertise-http "http://$ip:$port" --cluster-heartbeat-interval 0.5 --cluster-dead-after 2 \
    --log-levels cluster=debug \
    >>"$work/node-$n.log" 2>&1 &
  pids[$n]=$!
  for _ in $(seq 1 100); do
    curl -sf "http://$ip:$port/healthz" >/dev/null && return 0
    sleep 0.1
  done
  echo "node $n did not start"; cat "$work/node-$n.log"; exit 1
}
nodes() { curl -sf -H "Authorization: Bearer cluster-admin" "http://$(address "$1"):$(port "$1")/v1/cluster/nodes"; }
# The id of the live node holding the coordinator, as node $1 sees the cluster.
holder() {
  nodes "$1" | python3 -c '
import json, sys
held = [n["id"] for n in json.load(sys.stdin)["nodes"] if n["coordinator"] and n["live"]]
print(held[0] if held else "")' 2>/dev/null || true
}
now_ms() { date +%s%3N; }
# (Never `kill 0`: that is every process of the caller's group, CI included.)
cleanup() {
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  if [ -n "${load:-}" ]; then kill -9 "$load" 2>/dev/null || true; fi
}
trap cleanup EXIT

start_node 1
for _ in $(seq 1 100); do [ "$(holder 1)" = node-1 ] && break; sleep 0.1; done
[ "$(holder 1)" = node-1 ] || { echo "node 1 did not take the coordinator"; exit 1; }
start_node 2
start_node 3
echo "three nodes up; node-1 holds the coordinator"

"$bin" load party --target "http://$(address 3):$(port 3)" --admin-key cluster-admin --members "$members" \
  --start-in 10 --vote-delay-ms 1500 --acked-votes "$work/votes" --acked-validations "$work/validated" \
  >"$work/party.log" 2>&1 &
load=$!
touch "$work/votes" "$work/validated"
wait_for_votes() {
  for _ in $(seq 1 2400); do
    [ "$(wc -l <"$work/votes")" -ge "$1" ] && return 0
    kill -0 "$load" 2>/dev/null || { echo "the load ended early"; cat "$work/party.log"; exit 1; }
    sleep 0.05
  done
  echo "fewer than $1 votes were acknowledged"; cat "$work/party.log"; exit 1
}

# 1. The coordinator's node dies mid-party.
wait_for_votes 10
echo "sessions placed per node: $(sql "SELECT node || '=' || count(*) FROM cluster_sessions GROUP BY node ORDER BY node" | tr '\n' ' ')"
killed=$(now_ms)
kill -9 "${pids[1]}"
wait "${pids[1]}" 2>/dev/null || true
for _ in $(seq 1 300); do
  successor=$(holder 3)
  if [ -n "$successor" ] && [ "$successor" != node-1 ] &&
    curl -sf "http://$(address 3):$(port 3)/v1/parties" >/dev/null; then
    break
  fi
  sleep 0.02
done
[ -n "$successor" ] && [ "$successor" != node-1 ] || { echo "no node took the coordinator over"; exit 1; }
echo "coordinator take-over: $successor answers through node-3 $(($(now_ms) - killed)) ms after node-1 was killed"
grep -h "took the coordinator over" "$work"/node-*.log | tail -1 || true
start_node 1

# 2. A node carrying groups dies mid-turn.
wait_for_votes "$(($(wc -l <"$work/votes") + 20))"
carried=$(sql "SELECT count(*) FROM cluster_sessions WHERE node = 'node-2'")
kill -9 "${pids[2]}"
wait "${pids[2]}" 2>/dev/null || true
echo "killed node-2 (it had been given $carried sessions) after $(wc -l <"$work/votes") acknowledged votes"

if ! wait "$load"; then
  echo "the load failed"; cat "$work/party.log"; exit 1
fi
unset load
cat "$work/party.log"
python3 - "$work/votes" "$work/validated" "http://$(address 3):$(port 3)" "$members" <<'PY'
import json, sys, urllib.request
votes = [line.split() for line in open(sys.argv[1]) if line.strip()]
validated = [line.split() for line in open(sys.argv[2]) if line.strip()]
base, members = sys.argv[3], int(sys.argv[4])
def get(path, admin=False):
    request = urllib.request.Request(base + path)
    if admin:
        request.add_header("Authorization", "Bearer cluster-admin")
    return json.load(urllib.request.urlopen(request))
party = votes[0][0]
stored = {(v["session"], v["turn"], v["account"]) for v in get(f"/v1/admin/parties/{party}/votes", admin=True)["votes"]}
missing = [v for v in votes if (v[1], int(v[2]), v[3]) not in stored]
registered = get(f"/v1/parties/{party}/registrations")["accounts"]
unvalidated = [account for _, account in validated if get(f"/v1/registry/{account}")["level"] < 1]
ledger = get("/v1/admin/ledger", admin=True)
print(f"party {party}: {len(registered)} registered; {len(stored)} votes stored, {len(votes)} acknowledged, "
      f"{len(missing)} missing; {len(validated)} validations announced, {len(unvalidated)} missing; "
      f"ledger balanced={ledger['balanced']}")
if len(registered) != members or missing or unvalidated or not ledger["balanced"]:
    sys.exit(1)
open(sys.argv[1] + ".party", "w").write(party)
PY
party=$(cat "$work/votes.party")
outcomes=$(sql "SELECT count(*) || ' outcomes for ' || count(DISTINCT account) || ' members' FROM outcomes WHERE party = '$party'")
echo "$outcomes; by outcome: $(sql "SELECT outcome || '=' || count(*) FROM outcomes WHERE party = '$party' GROUP BY outcome ORDER BY outcome" | tr '\n' ' ')"
[ "$outcomes" = "$members outcomes for $members members" ] || { echo "not every member has one outcome"; exit 1; }
placed=$(sql "SELECT count(DISTINCT node) FROM cluster_sessions")
echo "sessions placed per node over the party: $(sql "SELECT node || '=' || count(*) FROM cluster_sessions GROUP BY node ORDER BY node" | tr '\n' ' ')"
[ "$placed" = 3 ] || { echo "sessions did not land on all three nodes"; exit 1; }

# 3. Revocation fan-out: node 1 revokes, node 3's relay applies.
for i in $(seq 1 200); do
  curl -sf -H "Authorization: Bearer cluster-admin" "http://$(address 1):$(port 1)/v1/admin/revocations" \
    -d "{\"subjectPrefix\":\"fanout-probe/$i/\"}" >/dev/null
  sleep 0.01
done
sleep 1
python3 - "$work/node-3.log" <<'PY'
import re, sys
probes, party = [], []
for line in open(sys.argv[1]):
    if "revocation applied" not in line:
        continue
    fanout = int(re.search(r"fanoutMicroseconds=(\d+)", line).group(1)) / 1000
    (probes if "fanout-probe/" in line else party).append(fanout)
def quantiles(values):
    values = sorted(values)
    pick = lambda q: values[min(len(values) - 1, int(q * len(values)))]
    return f"p50 {pick(0.5):.2f} ms, p99 {pick(0.99):.2f} ms, max {values[-1]:.2f} ms"
print(f"revocation fan-out node-1 -> node-3: {len(probes)} of 200 applied; {quantiles(probes)}")
if party:
    print(f"the party's own revocations applied on node-3 (from the other nodes): {len(party)}; {quantiles(party)}")
if len(probes) != 200:
    sys.exit(1)
PY
echo "cluster test passed"
