#!/usr/bin/env bash
# Makes a local certificate authority (once) and a server certificate it signs, for development and tests:
# clients that trust ca.pem (a browser, curl --cacert, Python's ssl) accept the server without warnings.
# Usage: certs/make-local-ca.sh [OUTPUT_DIR] [NAME...]   (default: certs/local, localhost 127.0.0.1 ::1)
# Writes OUTPUT_DIR/ca.pem and ca-key.pem (kept if present), cert.pem (server certificate, then the CA) and
# key.pem. Run it again to renew the server certificate under the same CA. Never use it for real traffic.
set -euo pipefail
out=${1:-"$(dirname "$0")/local"}
shift || true
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(localhost 127.0.0.1 ::1)
mkdir -p "$out"
umask 077
if [ ! -f "$out/ca.pem" ] || [ ! -f "$out/ca-key.pem" ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 -days 3650 \
    -subj "/CN=PartyLine local development CA" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$out/ca-key.pem" -out "$out/ca.pem" 2>/dev/null
fi
san=""
for name in "${names[@]}"; do
  if [[ $name =~ ^[0-9.]+$ || $name == *:* ]]; then san+="IP:$name,"; else san+="DNS:$name,"; fi
done
san=${san%,}
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 -subj "/CN=${names[0]}" \
  -keyout "$out/key.pem" -out "$out/server.csr" 2>/dev/null
printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' \
  "$san" >"$out/server.ext"
# 397 days: the longest validity browsers accept for a server certificate.
openssl x509 -req -in "$out/server.csr" -CA "$out/ca.pem" -CAkey "$out/ca-key.pem" -CAcreateserial \
  -days 397 -sha256 -extfile "$out/server.ext" -out "$out/server.pem" 2>/dev/null
cat "$out/server.pem" "$out/ca.pem" >"$out/cert.pem"
rm -f "$out/server.csr" "$out/server.ext" "$out/server.pem" "$out/ca.srl"
chmod 644 "$out/ca.pem" "$out/cert.pem"
echo "wrote $out/cert.pem and $out/key.pem, signed by $out/ca.pem ($san)"
echo "run: partyline serve --tls-certificate $out/cert.pem --tls-private-key $out/key.pem --http-tls"
echo "trust: curl --cacert $out/ca.pem, or import ca.pem into a browser's authorities"
