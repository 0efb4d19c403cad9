#!/usr/bin/env bash
# Runs the official engine.io-client and socket.io-client mocha suites (from a copy of the
# socketio/socket.io repository, never committed here) against this project's twins of their
# support servers (eio_twin.py: test/support/hooks.js; sio_twin.py: test/support/server.ts),
# each suite twice, and prints the counts (issue 24).
#
# usage: scripts/client_suites/run.sh SUITES_DIR
#   SUITES_DIR/eioc: packages/engine.io-client of the repository with `build/` from the npm
#                    tarball of the same version and its test deps installed (mocha, expect.js,
#                    @sinonjs/fake-timers, engine.io-parser, ws, xmlhttprequest-ssl, cookie ...)
#   SUITES_DIR/sioc: packages/socket.io-client likewise (plus tsx, text-blob-builder, has-cors,
#                    base64-arraybuffer, engine.io-client, socket.io-parser)
# The suites run without their hooks (`--require test/support/...`): the twin is the server.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
python="${PYTHON:-$here/../../.venv/bin/python}"
suites="$1"

run_suite() {  # name twin dir mocha-args...
    local name="$1" twin="$2" dir="$3"; shift 3
    "$python" "$here/$twin" > "/tmp/$name-twin.log" 2>&1 &
    local pid=$!
    sleep 3
    for i in 1 2; do
        (cd "$dir" && timeout 600 npx mocha --exit --reporter spec "$@" > "/tmp/$name-run$i.txt" 2>&1)
        echo "$name run $i: $(grep -E 'passing|failing|pending' "/tmp/$name-run$i.txt" | tr -s ' ' | tr '\n' ' ')"
    done
    kill "$pid"
    wait "$pid" 2>/dev/null
}

run_suite engine.io-client eio_twin.py "$suites/eioc" test/index.js
run_suite socket.io-client sio_twin.py "$suites/sioc" --import=tsx test/index.ts
