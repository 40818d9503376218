#!/usr/bin/env bash
# Crash test: registrations, votes and validations are acknowledged only after their transaction commits,
# so killing the server with SIGKILL in the middle of them loses none. Starts `partyline serve` on loopback
# with a fresh SQLite file (or PostgreSQL with PARTYLINE_CRASH_POSTGRES_URL).
#   1. Runs `partyline load registration`, kills the server once registrations are flowing, restarts it on
#      the same database, and checks that every acknowledged registration is there.
#   2. Runs `partyline load party` (members join their group sessions over WebSocket and vote), kills the
#      server once votes are flowing, restarts it, and checks that every acknowledged vote (`vote-ack`) and
#      every validation announced to its prover (`turn-result` approved) is there.
# After each restart the deposit ledger must balance.
#   scripts/crash-test.sh [REGISTRATIONS] [PARTY-MEMBERS]
set -euo pipefail
cd "$(dirname "$0")/.."
count="${1:-4000}"
members="${2:-60}"
swift build --product partyline >/dev/null
bin="$(swift build --show-bin-path)/partyline"
work=$(mktemp -d /tmp/partyline-crash.XXXXXX)
port=18480
export PARTYLINE_COORDINATOR_ADMIN_KEYS=crash-admin
export PARTYLINE_COORDINATOR_DATABASE_SQLITE_PATH="$work/coordinator.sqlite"
if [ -n "${PARTYLINE_CRASH_POSTGRES_URL:-}" ]; then
  export PARTYLINE_COORDINATOR_DATABASE_POSTGRES_URL="$PARTYLINE_CRASH_POSTGRES_URL"
fi
start_server() {
  # Thousands of logins from one address: the per-address login limit is off for this test.
  "$bin" serve --http-listen "127.0.0.1:$port" --stun-listen-udp 127.0.0.1:0 --stun-listen-tcp 127.0.0.1:0 \
    --coordinator-rate-limit-logins-per-second 0 \
    >>"$work/server.log" 2>&1 &
  server=$!
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && return 0
    sleep 0.1
  done
  echo "server did not start"; cat "$work/server.log"; exit 1
}
cleanup() { if [ -n "${server:-}" ]; then kill -9 "$server" 2>/dev/null || true; fi; }
trap cleanup EXIT

start_server
now=$(date +%s)
party=$(curl -sf -H "Authorization: Bearer crash-admin" "http://127.0.0.1:$port/v1/parties" -d \
  "{\"name\":\"crash\",\"registrationOpensAt\":$((now - 60)),\"registrationClosesAt\":$((now + 86400)),\"startsAt\":$((now + 86400)),\"deposit\":10}" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
"$bin" load registration --target "http://127.0.0.1:$port" --admin-key crash-admin --count "$count" \
  --concurrency 64 --party "$party" --acked "$work/acked" >"$work/load.log" 2>&1 &
load=$!
touch "$work/acked"
# Kill once a few hundred registrations have been acknowledged.
for _ in $(seq 1 4800); do
  [ -f "$work/acked" ] && [ "$(wc -l <"$work/acked")" -ge 300 ] && break
  sleep 0.05
done
kill -9 "$server"
wait "$server" 2>/dev/null || true
# The client has written every acknowledgement it received; the rest of its run would only meet a dead port.
kill -9 "$load" 2>/dev/null || true
wait "$load" 2>/dev/null || true
acked=$(wc -l <"$work/acked")
echo "killed the server after $acked acknowledged registrations of party $party"

start_server
curl -sf "http://127.0.0.1:$port/v1/parties/$party/registrations" >"$work/registrations.json"
curl -sf -H "Authorization: Bearer crash-admin" "http://127.0.0.1:$port/v1/admin/ledger" >"$work/ledger.json"
python3 - "$work/acked" "$work/registrations.json" "$work/ledger.json" <<'PY'
import json, sys
acked = [line.strip() for line in open(sys.argv[1]) if line.strip()]
stored = set(json.load(open(sys.argv[2]))["accounts"])
ledger = json.load(open(sys.argv[3]))
missing = [account for account in acked if account not in stored]
print(f"after restart: {len(stored)} registrations stored, {len(acked)} acknowledged, {len(missing)} missing; "
      f"ledger {ledger['entries']} entries, balanced={ledger['balanced']}")
if missing or not ledger["balanced"] or not acked:
    sys.exit(1)
PY

# 2. Votes and validations.
"$bin" load party --target "http://127.0.0.1:$port" --admin-key crash-admin --members "$members" --start-in 6 \
  --vote-delay-ms 300 --acked-votes "$work/votes" --acked-validations "$work/validated" >"$work/party.log" 2>&1 &
load=$!
touch "$work/votes" "$work/validated"
for _ in $(seq 1 1200); do
  [ "$(wc -l <"$work/votes")" -ge 40 ] && break
  sleep 0.05
done
kill -9 "$server"
wait "$server" 2>/dev/null || true
kill -9 "$load" 2>/dev/null || true
wait "$load" 2>/dev/null || true
echo "killed the server after $(wc -l <"$work/votes") acknowledged votes and $(wc -l <"$work/validated") validations"

start_server
python3 - "$work/votes" "$work/validated" "http://127.0.0.1:$port" <<'PY'
import json, sys, urllib.request
votes = [line.split() for line in open(sys.argv[1]) if line.strip()]
validated = [line.split() for line in open(sys.argv[2]) if line.strip()]
base = sys.argv[3]
def get(path, admin=False):
    request = urllib.request.Request(base + path)
    if admin:
        request.add_header("Authorization", "Bearer crash-admin")
    return json.load(urllib.request.urlopen(request))
if not votes:
    print("no vote was acknowledged before the kill"); sys.exit(1)
party = votes[0][0]
stored = {(v["session"], v["turn"], v["account"]) for v in get(f"/v1/admin/parties/{party}/votes", admin=True)["votes"]}
missing = [v for v in votes if (v[1], int(v[2]), v[3]) not in stored]
unvalidated = [account for _, account in validated if get(f"/v1/registry/{account}")["level"] < 1]
ledger = get("/v1/admin/ledger", admin=True)
print(f"after restart: {len(stored)} votes stored, {len(votes)} acknowledged, {len(missing)} missing; "
      f"{len(validated)} validations announced, {len(unvalidated)} missing; ledger balanced={ledger['balanced']}")
if missing or unvalidated or not ledger["balanced"]:
    sys.exit(1)
PY
echo "crash test passed"
