#!/usr/bin/env bash
# Idempotent set-up for the browser test (tests/browser): headless Chromium from Debian's
# packages and playwright-core from npm (the driver library only: it never downloads a
# browser; the test points it at /usr/bin/chromium). Safe to run again; fast when done.
# Exit status: 0 when both are usable, non-zero otherwise (the browser test then skips
# only if Chromium itself is missing).
set -uo pipefail
cd "$(dirname "$0")/.."
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

if [ ! -x "$CHROMIUM" ]; then
  echo "browser-setup: installing chromium from Debian packages"
  if command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null 2>&1 || true
    apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1 || true
  fi
fi
if [ ! -x "$CHROMIUM" ]; then
  echo "browser-setup: chromium is not available at $CHROMIUM" >&2
  exit 2
fi

if ! node -e "require('playwright-core')" >/dev/null 2>&1; then
  echo "browser-setup: installing playwright-core from npm"
  npm install --no-save --no-audit --no-fund --loglevel=error playwright-core >/dev/null || true
fi
if ! node -e "require('playwright-core')" >/dev/null 2>&1; then
  echo "browser-setup: playwright-core could not be installed" >&2
  exit 3
fi
echo "browser-setup: ok ($("$CHROMIUM" --version 2>/dev/null | head -1))"
