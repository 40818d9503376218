#!/usr/bin/env bash
# Figures of the party web page in six headless Chromium browsers on this machine (one party, six turns,
# relay-only WebRTC through PartyLine's TURN on loopback): time from turn-start to the first video frame on
# every verifier (p50 and worst over 30 samples), the page's size as the browser loads it (uncompressed),
# and the CPU of a prover's whole browser streaming to five verifiers with the page's bitrate cap.
# Usage: Benchmarks/web-page.sh [REPORT=results/web-page.json]
# The page runs as shipped; the server runs a release build with the browser test's configuration (TURN on
# 127.0.0.1 with loopback peers allowed, 60 s turns). The fake camera is 640x480 at 10 fps.
set -euo pipefail
cd "$(dirname "$0")/.."
report="${1:-results/web-page.json}"
mkdir -p "$(dirname "$report")"
command -v chromium >/dev/null && command -v chromedriver >/dev/null || {
  echo "needs chromium and chromium-driver: apt-get install chromium chromium-driver"; exit 1; }
python=$(scripts/browser/python.sh)
swift build -c release --product partyline >/dev/null
partyline=$(swift build -c release --show-bin-path)/partyline
"$python" scripts/browser/party_test.py --binary "$partyline" --results results/web-page --scenarios party,reconnect \
  --report "$report" | grep -v '^  ok '
python3 - "$report" <<'PY'
import json, sys
figures = json.load(open(sys.argv[1]))
first = figures["firstFrameMillis"]
print(f"turn-start to first frame: p50 {first['p50']:.0f} ms, worst {first['worst']} ms ({first['samples']} verifier turns)")
print(f"page size: {figures['pageBytes']} bytes in {figures['pageFiles']} files (uncompressed, as loaded)")
print(f"prover CPU: {figures['proverCPUPercent']} % of one core ({figures['proverCPUNote']})")
if "relayStopMillis" in figures:
    print(f"relay stop with the pages ignoring it: last frame {figures['relayStopMillis']} ms after the decision")
PY
