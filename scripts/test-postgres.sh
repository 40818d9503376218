#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster on loopback for the storage tests and prints the URL to use as
# PARTYLINE_TEST_POSTGRES_URL. Installs PostgreSQL from Debian's packages when it is missing.
#   scripts/test-postgres.sh start   -> prints postgres://partyline@127.0.0.1:PORT/partyline_test
#   scripts/test-postgres.sh stop
set -euo pipefail
port="${PARTYLINE_TEST_POSTGRES_PORT:-54329}"
dir="${PARTYLINE_TEST_POSTGRES_DIR:-/tmp/partyline-test-postgres}"
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$bin" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
fi
# initdb refuses to run as root: run the cluster as the postgres user then.
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case "${1:-start}" in
start)
  if ! as_owner "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    rm -rf "$dir"
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    as_owner "$bin/initdb" -D "$dir" -U partyline --auth=trust -E UTF8 >/dev/null
    as_owner "$bin/pg_ctl" -D "$dir" -l "$dir/log" -w \
      -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c fsync=on" start >/dev/null
    as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U partyline partyline_test
  fi
  echo "postgres://partyline@127.0.0.1:$port/partyline_test?sslmode=disable"
  ;;
stop)
  as_owner "$bin/pg_ctl" -D "$dir" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$dir"
  ;;
esac
