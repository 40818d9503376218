#!/usr/bin/env bash
# The party web page in real browsers: six headless Chromium instances (Debian's chromium and
# chromium-driver, driven by selenium from PyPI) play whole parties against `partyline serve` on loopback,
# through PartyLine's own TURN relay. See scripts/browser/party_test.py for what is checked.
#   scripts/browser-test.sh [RESULTS-FOLDER] [--scenarios party,reconnect,join,relay] [--report FILE]
#   PARTYLINE_BROWSER_POSTGRES_URL=... scripts/browser-test.sh results/browser-cluster --scenarios cluster
#     (three nodes on PostgreSQL; the group's node killed mid-turn: the pages follow the group)
# Screenshots (360x740) land in the results folder (default results/browser).
set -euo pipefail
cd "$(dirname "$0")/.."
results="results/browser"
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
  results="$1"
  shift
fi
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
python=$(scripts/browser/python.sh)
swift build --product partyline >/dev/null
bin="$(swift build --show-bin-path)/partyline"
"$python" scripts/browser/party_test.py --binary "$bin" --results "$results" "$@"
