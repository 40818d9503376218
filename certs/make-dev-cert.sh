#!/usr/bin/env bash
# Makes a self-signed development certificate for localhost, 127.0.0.1 and ::1.
# Usage: certs/make-dev-cert.sh [OUTPUT_DIR] [DAYS]   (default: certs/dev, 825 days)
# Never use it for real traffic: anyone with the key can impersonate the server.
set -euo pipefail
out=${1:-"$(dirname "$0")/dev"}
days=${2:-825}
mkdir -p "$out"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 -days "$days" \
  -subj "/CN=localhost" \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
  -keyout "$out/key.pem" -out "$out/cert.pem" 2>/dev/null
chmod 600 "$out/key.pem"
echo "wrote $out/cert.pem and $out/key.pem"
echo "run: swift run -c release partyline serve --tls-certificate $out/cert.pem --tls-private-key $out/key.pem"
