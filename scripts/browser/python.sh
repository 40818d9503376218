#!/usr/bin/env bash
# Prints a Python interpreter that has selenium 4.20 or later: the system one when it has it or can
# install it from PyPI, else a virtual environment made under .build/ (a system Python that refuses
# pip installs, PEP 668).
set -euo pipefail
cd "$(dirname "$0")/../.."
has_selenium() { "$1" -c 'import selenium, sys; sys.exit(tuple(map(int, selenium.__version__.split(".")[:2])) < (4, 20))' 2>/dev/null; }
if has_selenium python3; then echo python3; exit 0; fi
if python3 -m pip install -q 'selenium>=4.20' >/dev/null 2>&1 && has_selenium python3; then echo python3; exit 0; fi
venv=.build/browser-venv
if ! has_selenium "$venv/bin/python"; then
  python3 -m venv "$venv" >/dev/null 2>&1 || {
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
    python3 -m venv "$venv" >/dev/null
  }
  "$venv/bin/pip" install -q 'selenium>=4.20' >/dev/null
fi
echo "$venv/bin/python"
