#!/usr/bin/env bash
# The one test command: set up, lint, type-check, run every test.
# pytest exiting 5 ("no tests collected") is a failure here, never a pass.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
bash scripts/services-setup.sh || { echo "could not install redis-server/rabbitmq-server/nginx" >&2; exit 1; }
bash scripts/browser-setup.sh || { echo "could not install chromium/playwright-core" >&2; exit 1; }
export PATH="$PWD/.venv/bin:$PATH"
echo "== ruff"; ruff check . || exit 1
echo "== mypy (strict on the cores)"; mypy || exit 1
echo "== pytest"
pytest "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: failing" >&2
  exit 1
fi
exit $rc
