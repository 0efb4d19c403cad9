"""Shared helpers for the socketio_core tests: running the official JavaScript parsers.

The ``js_parsers`` fixture runs ``node`` with ``socket.io-parser`` (the default parser of the
JavaScript client and server) and ``socket.io-msgpack-parser`` from ``node_modules`` (installed
by ``npm install``). Values cross the process boundary as JSON, binaries as
``{"$bin": base64}`` (``{"$u8": base64}`` asks node for a plain ``Uint8Array``, as a browser
would send, instead of a ``Buffer``; ``{"$undefined": true}`` for ``undefined``).
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
# The rootdir conftest puts tests/ on sys.path, where tests/socketio_core/ (no __init__.py)
# would be imported as a namespace package named socketio_core, shadowing the real one.
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from socketio_core import SocketPacket  # noqa: E402

JS_RUNNER = r"""
const jsonParser = require("socket.io-parser");
const msgpackParser = require("socket.io-msgpack-parser");
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));

function isBin(v) {
  return Buffer.isBuffer(v) || v instanceof ArrayBuffer || ArrayBuffer.isView(v);
}
function toWire(v) {
  if (v === undefined) return { "$undefined": true };
  if (v === null || typeof v !== "object") return v;
  if (isBin(v)) {
    const buf = v instanceof ArrayBuffer ? Buffer.from(v) : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    return { "$bin": buf.toString("base64") };
  }
  if (Array.isArray(v)) return v.map(toWire);
  const out = {};
  for (const k of Object.keys(v)) out[k] = toWire(v[k]);
  return out;
}
function fromWire(v) {
  if (v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map(fromWire);
  if (v["$bin"] !== undefined) return Buffer.from(v["$bin"], "base64");
  if (v["$u8"] !== undefined) return new Uint8Array(Buffer.from(v["$u8"], "base64"));
  if (v["$undefined"] !== undefined) return undefined;
  const out = {};
  for (const k of Object.keys(v)) out[k] = fromWire(v[k]);
  return out;
}
const results = [];
for (const job of input) {
  const parser = job.parser === "msgpack" ? msgpackParser : jsonParser;
  try {
    if (job.op === "encode") {
      const parts = new parser.Encoder().encode(fromWire(job.packet));
      results.push({ parts: parts.map((p) => (typeof p === "string" ? { t: p } : { b: Buffer.from(p).toString("base64") })) });
    } else {
      const decoder = new parser.Decoder();
      const packets = [];
      decoder.on("decoded", (p) => {
        const c = { type: p.type, nsp: p.nsp };
        if (p.data !== undefined) c.data = toWire(p.data);
        if (p.id !== undefined) c.id = p.id;
        packets.push(c);
      });
      for (const m of job.messages) decoder.add(m.t !== undefined ? m.t : Buffer.from(m.b, "base64"));
      results.push({ packets });
    }
  } catch (e) {
    results.push({ error: String(e && e.message) });
  }
}
process.stdout.write(JSON.stringify(results));
"""


class JSParsers:
    """Runs jobs through the JavaScript parsers, and converts values to and from their views."""

    def __init__(self, node: str) -> None:
        self.node = node

    def run(self, jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Run a batch of jobs in one node process.

        A job is ``{"parser": "json"|"msgpack", "op": "encode", "packet": {...}}`` (result
        ``{"parts": [{"t": text} | {"b": base64}]}``) or ``{"parser": ..., "op": "decode",
        "messages": [...]}`` (result ``{"packets": [...]}``); a thrown error gives
        ``{"error": message}``.
        """
        proc = subprocess.run(
            [self.node, "-e", JS_RUNNER],
            input=json.dumps(jobs),
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        results: list[dict[str, Any]] = json.loads(proc.stdout)
        assert len(results) == len(jobs)
        return results

    @staticmethod
    def to_wire(value: Any) -> Any:
        """A JSON-able view of packet data (binaries as ``{"$bin": base64}``)."""
        if isinstance(value, (bytes, bytearray, memoryview)):
            return {"$bin": base64.b64encode(bytes(value)).decode()}
        if isinstance(value, (list, tuple)):
            return [JSParsers.to_wire(v) for v in value]
        if isinstance(value, dict):
            return {k: JSParsers.to_wire(v) for k, v in value.items()}
        return value

    @staticmethod
    def packet_to_wire(packet: SocketPacket) -> dict[str, Any]:
        """The JSON-able view of a packet as the JavaScript parsers represent it."""
        out: dict[str, Any] = {"type": int(packet.type), "nsp": packet.namespace}
        if packet.data is not None:
            out["data"] = JSParsers.to_wire(packet.data)
        if packet.id is not None:
            out["id"] = packet.id
        return out

    @staticmethod
    def message_to_wire(message: str | bytes) -> dict[str, str]:
        if isinstance(message, str):
            return {"t": message}
        return {"b": base64.b64encode(message).decode()}

    @staticmethod
    def message_from_wire(message: dict[str, str]) -> str | bytes:
        if "t" in message:
            return message["t"]
        return base64.b64decode(message["b"])


@pytest.fixture(scope="session")
def js_parsers() -> JSParsers:
    """The official JavaScript parsers in a node subprocess; fails (never skips) when node
    is missing, as every other real-peer test does."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH: cannot cross-check with the JavaScript parsers "
                    "(run scripts/setup.sh)")
    missing = [
        name
        for name in ("socket.io-parser", "socket.io-msgpack-parser")
        if not (REPO / "node_modules" / name).is_dir()
    ]
    if missing:
        pytest.fail(
            f"node_modules lacks {', '.join(missing)}: run `npm install --no-audit --no-fund` "
            f"in {REPO}"
        )
    return JSParsers(node)
