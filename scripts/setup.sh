#!/usr/bin/env bash
# Idempotent set-up for a fresh machine: the venv with the project and its test tools,
# and the JavaScript peers (official clients) from npm. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.installed-$(cat pyproject.toml | sha1sum | cut -c1-12)
if [ ! -f "$stamp" ]; then
  echo "setup: installing Python packages"
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
  .venv/bin/python -m pip install -q -e '.[test]' 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/python -c "import flask, gevent, wsproto, msgpack, pytest, socketio" 
  rm -f .venv/.installed-* && touch "$stamp"
fi
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  nstamp=node_modules/.installed-$(cat package.json | sha1sum | cut -c1-12)
  if [ ! -f "$nstamp" ]; then
    echo "setup: installing npm packages"
    npm install --no-audit --no-fund --loglevel=error >/dev/null
    rm -f node_modules/.installed-* && touch "$nstamp"
  fi
else
  echo "setup: node/npm not found; installing from Debian packages"
  apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
  exec "$0" "$@"
fi
