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
