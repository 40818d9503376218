#!/usr/bin/env bash
# Proves docker/Dockerfile's runtime stage without a container registry: builds the binary as the build stage
# does (release, Swift's runtime linked statically), puts it with the page's resources into a minimal Debian
# bookworm root file system made here with debootstrap (what debian:bookworm-slim holds, plus
# ca-certificates), and runs it there as uid 10001 with no Swift toolchain in sight. From outside it checks
# /healthz and /readyz (with `partyline healthcheck`, the image's health check), the party page, a STUN
# Binding and a TURN allocation (coturn's turnutils_uclient when installed).
# Usage (root): docker/prove-runtime.sh [ROOTFS_DIR=/tmp/partyline-rootfs]
set -euo pipefail
cd "$(dirname "$0")/.."
root=${1:-/tmp/partyline-rootfs}
port=${PROVE_PORT:-34870}
if ! command -v debootstrap >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi
if [ ! -x "$root/usr/bin/apt-get" ]; then
  debootstrap --variant=minbase --include=ca-certificates bookworm "$root" http://deb.debian.org/debian >/dev/null
fi
swift build -c release --product partyline --static-swift-stdlib >/dev/null
bin=$(swift build -c release --show-bin-path)
install -m 0755 "$bin/partyline" "$root/usr/local/bin/partyline"
rm -rf "$root/usr/local/bin/PartyLine_WebPage.resources"
cp -R "$bin/PartyLine_WebPage.resources" "$root/usr/local/bin/"
chroot "$root" sh -c 'id partyline >/dev/null 2>&1 || useradd --system --uid 10001 --home-dir /var/lib/partyline \
  --shell /usr/sbin/nologin partyline; mkdir -p /var/lib/partyline; chown partyline:partyline /var/lib/partyline'
echo "libraries the binary loads (from the root file system's glibc):"
chroot "$root" ldd /usr/local/bin/partyline | sed 's/^/  /'
if chroot "$root" ldd /usr/local/bin/partyline | grep -qi swift; then echo "FAIL: a Swift library is loaded"; exit 1; fi
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
cleanup() {
  [ -n "${server:-}" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  umount "$root/proc" "$root/dev" 2>/dev/null || true
}
trap cleanup EXIT
chroot --userspec=10001:10001 "$root" env HOME=/var/lib/partyline /usr/local/bin/partyline serve \
  --http-listen "127.0.0.1:$port" --stun-listen-udp "127.0.0.1:$((port + 1))" --stun-listen-tcp "127.0.0.1:$((port + 1))" \
  --data-directory /var/lib/partyline --coordinator-database-sqlite-path /var/lib/partyline/partyline.sqlite \
  --turn-users alice:wonderland --turn-relay-addresses 127.0.0.1 --turn-relay-ports 36000-36999 \
  --turn-peers-allowed 127.0.0.0/8 --log-format json >"$root/tmp/partyline.log" 2>&1 &
server=$!
for _ in $(seq 100); do "$bin/partyline" healthcheck --url "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
failed=0
check() { if "$@"; then echo "PASS $*"; else echo "FAIL $*"; failed=1; fi; }
check "$bin/partyline" healthcheck --url "http://127.0.0.1:$port/healthz"
check "$bin/partyline" healthcheck --url "http://127.0.0.1:$port/readyz"
pid=$(pgrep -f "partyline serve --http-listen 127.0.0.1:$port" | head -1)
echo "server process $pid runs as uid $(ps -o uid= -p "$pid" | tr -d ' ')"
check test "$(ps -o uid= -p "$pid" | tr -d ' ')" = 10001
page=$(curl -fsS "http://127.0.0.1:$port/" | head -c 2000 || true)
check grep -q "<html" <<<"$page"
check "$bin/partyline" probe "stun://127.0.0.1:$((port + 1))"
if command -v turnutils_uclient >/dev/null; then
  turnutils_peer -p "$((port + 10))" -L 127.0.0.1 >/dev/null 2>&1 &
  peer=$!
  out=$(timeout 30 turnutils_uclient -u alice -w wonderland -e 127.0.0.1 -r "$((port + 10))" -n 20 -m 1 -l 100 \
    -p "$((port + 1))" 127.0.0.1 2>&1 || true)
  kill "$peer"
  check grep -q "Total lost packets 0 " <<<"$out"
fi
check test -f "$root/var/lib/partyline/keys/evidence-ed25519.key"
check test "$(stat -c %a "$root/var/lib/partyline/keys/evidence-ed25519.key")" = 600
check grep -q '"subsystem":"relay"' "$root/tmp/partyline.log"
[ "$failed" -eq 0 ] && echo "runtime stage: all checks passed" || { echo "runtime stage: FAILED"; exit 1; }
