"""Helpers for the connection-state-recovery tests: an interactive socket.io-client@4 driver.

`NodeClients` runs ``tests/node/recovery_client.js`` (one node process, `count` clients) and
exchanges one command line for one JSON answer line, each with a bounded timeout.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
from typing import Any

from tests.conftest import NODE_DIR, ROOT, node_available

TIMEOUT = 20.0


class NodeClients:
    def __init__(self, url: str, count: int = 1, room: str = "r", transports: list[str] | None = None,
                 parser: str = "default", **client_opts: Any) -> None:
        assert node_available(), "node and the npm packages are required: run scripts/setup.sh"
        opts: dict[str, Any] = dict(client_opts)
        if transports is not None:
            opts["transports"] = transports
        options = {"url": url, "count": count, "room": room, "opts": opts, "parser": parser}
        self.proc = subprocess.Popen(
            ["node", os.path.join(NODE_DIR, "recovery_client.js"), json.dumps(options)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.joined = self.answer("joined")

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("{"):
                self._lines.put(line)
        self._lines.put(None)

    def answer(self, phase: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"node gave no {phase!r} answer within {timeout}s") from None
        if line is None:
            err = self.proc.stderr.read() if self.proc.stderr else ""
            raise AssertionError(f"node exited before {phase!r}: {err}")
        result: dict[str, Any] = json.loads(line)
        assert result["phase"] == phase, result
        return result

    def command(self, line: str, phase: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.answer(phase, timeout)

    def close(self) -> None:
        try:
            if self.proc.poll() is None and self.proc.stdin is not None:
                self.proc.stdin.write("exit\n")
                self.proc.stdin.flush()
            self.proc.wait(5)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait(5)
