#!/usr/bin/env bash
# Fuzzes the STUN decoder with libFuzzer for a number of seconds (default 60) and prints the figure.
# Usage: scripts/fuzz-stun.sh [SECONDS]
# Builds a separate sanitizer build in .build-fuzz; crashes are written to Fuzz/crashes/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
swift build -c release --product STUNFuzzer --scratch-path .build-fuzz \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING -Xswiftc -parse-as-library >/dev/null
binary=$(swift build -c release --product STUNFuzzer --scratch-path .build-fuzz --show-bin-path)/STUNFuzzer
work=$(mktemp -d)
cp Fuzz/corpus/* "$work/"
mkdir -p Fuzz/crashes
log=$(mktemp)
set +e
"$binary" "$work" -max_total_time="$seconds" -max_len=2048 -artifact_prefix=Fuzz/crashes/ -print_final_stats=1 >"$log" 2>&1
status=$?
set -e
runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
crashes=$(ls Fuzz/crashes 2>/dev/null | wc -l)
tail -n 5 "$log"
echo "fuzz-stun: ${seconds}s, ${runs} inputs, corpus $(ls "$work" | wc -l) files, crashes: ${crashes}, exit ${status}"
rm -rf "$work" "$log"
[ "$status" -eq 0 ] && [ "$crashes" -eq 0 ]
