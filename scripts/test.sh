#!/usr/bin/env bash
# The whole test suite: starts a throwaway PostgreSQL on loopback (installed from Debian's packages if
# missing) so the storage tests run against both SQLite and PostgreSQL, then runs `swift test`.
set -euo pipefail
cd "$(dirname "$0")/.."
PARTYLINE_TEST_POSTGRES_URL=$(scripts/test-postgres.sh start)
export PARTYLINE_TEST_POSTGRES_URL
trap 'scripts/test-postgres.sh stop' EXIT
swift test "$@"
