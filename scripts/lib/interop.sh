# Shared by the interop scripts (source it after `cd` to the project root):
#   partyline_binary [PATH]   sets $partyline: PATH, or the debug build (built if needed)
#   require_tools TOOL...     exits 1 naming the Debian package hint when a tool is missing
partyline_binary() {
  partyline=${1:-}
  if [ -z "$partyline" ]; then
    swift build --product partyline >/dev/null || exit 1
    partyline=$(swift build --show-bin-path)/partyline
  fi
}

require_tools() {
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install stun-client coturn)"; exit 1; }
  done
}

# uclient_verdict NAME OUTPUT: judges turnutils_uclient's summary (every packet back, none lost), prints
# PASS or FAIL with the counts, and returns 0 or 1.
uclient_verdict() {
  local name=$1 out=$2 totals sent received lost
  totals=$(echo "$out" | grep -o 'tot_send_msgs=[0-9]*, tot_recv_msgs=[0-9]*$' | tail -1)
  sent=$(echo "$totals" | grep -o 'tot_send_msgs=[0-9]*' | grep -o '[0-9]*')
  received=$(echo "$totals" | grep -o 'tot_recv_msgs=[0-9]*' | grep -o '[0-9]*')
  lost=$(echo "$out" | grep -o 'Total lost packets [0-9]*' | grep -o '[0-9]*$')
  if [ -n "$sent" ] && [ "$sent" -gt 0 ] && [ "$sent" = "$received" ] && [ "$lost" = "0" ]; then
    echo "PASS $name: sent $sent, received $received, lost $lost"
    return 0
  fi
  echo "FAIL $name: sent ${sent:-?}, received ${received:-?}, lost ${lost:-?}"
  echo "$out" | grep -iE 'error|cannot|fail' | head -5 | sed 's/^/    /'
  return 1
}
