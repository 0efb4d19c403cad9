#!/usr/bin/env python
"""Live fuzzing: random and mutated input thrown at a *running* server from several connections.

    .venv/bin/python scripts/fuzz_live.py                        # 60 s, 4 connections
    .venv/bin/python scripts/fuzz_live.py --seconds 600 --connections 8 --count 1000000
    .venv/bin/python scripts/fuzz_live.py --url http://127.0.0.1:5000   # an existing server

Without ``--url`` it starts scripts/hardening_server.py (a `socketio_core.SocketServer` on
gevent's pywsgi, 127.0.0.1, short heartbeat, 64 KB size limit, permessage-deflate allowed) in a
subprocess, so the server's RSS and error counters can be read. ``--connections`` threads each
loop over attacks, until ``--count`` inputs in total or ``--seconds`` have passed:

  http        requests built from valid Engine.IO templates (handshake, poll, POST, upgrade,
              OPTIONS) and mutated: byte flips, truncation, odd methods/paths/queries, lying or
              invalid Content-Length, chunked bodies, random/non-UTF-8 bodies, odd sids;
  ws-frames   a valid upgrade (sometimes with permessage-deflate), then random frames: reserved
              bits, unknown opcodes, lying lengths, unmasked, fragmented control frames, bad
              UTF-8, random deflate data, abrupt resets;
  eio         an open WebSocket session fed mutated Engine.IO packets;
  sio-ws      a Socket.IO client (CONNECT done) fed mutated Socket.IO packets and attachments;
  sio-poll    the same over long-polling POSTs (several packets per payload).

Mutations come from a corpus of valid packets (the §4 advisory shapes among them) with
flips, insertions, deletions, splices, number swaps (huge, negative, float), unicode.

What counts as a failure (``anomalies``): an HTTP 5xx other than the refusals 501 (a
Transfer-Encoding we don't implement) and 505 (an HTTP version we don't speak), a response that never comes (a hang),
a WebSocket close code outside {1000, 1002, 1003, 1007, 1008, 1009} (or the echo of a valid
code the client sent: 1001, 3000-4999, none), an exception that
escaped to the server's hub (``uncaught``), an ERROR logged by the server, a canary client
(checked every second meanwhile) that gets no echo, and afterwards: sessions not all reaped,
a well-behaved client not served, or the server's RSS more than ``--rss-bound-mb`` above its
baseline. Prints a JSON report (``--json``) and exits 1 on any anomaly. Reproducible with
``--seed`` (per thread: seed + index; the interleaving is not).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import socket
import struct
import sys
import threading
import time
import zlib
from collections import Counter
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from hardening_server import TargetServer  # noqa: E402

VALID_CLOSE_CODES = {1000, 1002, 1003, 1007, 1008, 1009}
READ_TIMEOUT = 6.0  # > ping_interval + ping_timeout of the target: a long-poll always ends

PLACEHOLDER = '{"_placeholder":true,"num":%s}'
SIO_CORPUS = [
    "0", '0{"token":"x"}', "0/chat,", "1", '2["echo",1]', '21["echo","a",{"b":[1,2]}]',
    '2["broadcast","hi"]', '2["stream",{"count":3,"interval":0}]', '3/x,5[1]', '31["late"]',
    '451-["echo",' + PLACEHOLDER % 0 + "]", '452-1["echo",' + PLACEHOLDER % 0 + "," + PLACEHOLDER % 1 + "]",
    '51-["x",' + PLACEHOLDER % '"splice"' + "]", '51-["x",' + PLACEHOLDER % "-1" + "]",
    '51-["x",' + PLACEHOLDER % "99" + "]", '51-["x",' + PLACEHOLDER % "1.5" + "]",
    '2[{"toString":"foo"}]', "2[]", "2{}", '2"x"', "2[1]", '5999999999-["x"]', '2["connect"]',
    '2["disconnect"]', '2["error",1]', '2["__proto__",{"__proto__":{"polluted":1}}]',
    '4{"message":"x"}', "9", '6["x"]', '2/__proto__,["x"]', "0/" + "n" * 300 + ",",
    '2123456789012345678901["echo"]', '2["' + "e" * 2000 + '"]',
]
EIO_CORPUS = ["2probe", "3probe", "3", "2", "5", "6", "1", "0", "4hello", "b" + base64.b64encode(b"\x00\x01").decode(),
              "b!!", "7", "", "4" + "x" * 500, "40", '42["echo","x"]']
WEIRD = ["\x00", "\x1e", "\ud7ff", "é", "💥", "\\", '"', "{", "[", "]", "}", ",", "-", "/", "%", "\r\n"]
NUMBERS = ["0", "-1", "1.5", "1e400", "99999999999999999999999", "NaN", "-0", "4294967296", "9007199254740993"]


class Mutator:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def text(self, base: str, corpus: list[str]) -> str:
        r = self.rng
        s = base
        for _ in range(r.choice((0, 1, 1, 2, 3, 5))):
            op = r.randrange(8)
            pos = r.randrange(len(s) + 1)
            if op == 0 and s:  # flip a character
                s = s[:pos - 1] + chr(r.randrange(32, 127)) + s[pos:]
            elif op == 1:  # insert something odd
                s = s[:pos] + r.choice(WEIRD) + s[pos:]
            elif op == 2 and s:  # delete a run
                s = s[:pos] + s[pos + r.randrange(1, 8):]
            elif op == 3:  # duplicate a run
                end = min(len(s), pos + r.randrange(1, 30))
                s = s[:end] + s[pos:end] * r.randrange(1, 20) + s[end:]
            elif op == 4:  # splice with another corpus item
                other = r.choice(corpus)
                s = s[:pos] + other[r.randrange(len(other) + 1):]
            elif op == 5:  # swap a number
                digits = [i for i, c in enumerate(s) if c.isdigit()]
                if digits:
                    i = r.choice(digits)
                    s = s[:i] + r.choice(NUMBERS) + s[i + 1:]
            elif op == 6:  # truncate
                s = s[:pos]
            else:  # deep nesting
                s = s[:pos] + "[" * r.randrange(1, 2000) + s[pos:]
        return s

    def sio(self) -> str:
        return self.text(self.rng.choice(SIO_CORPUS), SIO_CORPUS)

    def eio(self) -> str:
        return self.text(self.rng.choice(EIO_CORPUS), EIO_CORPUS)

    def blob(self, limit: int = 300) -> bytes:
        return self.rng.randbytes(self.rng.randrange(limit))


# -- wire helpers ---------------------------------------------------------------------------------


def frame(opcode: int, payload: bytes, fin: bool = True, rsv: int = 0, masked: bool = True,
          length: int | None = None) -> bytes:
    n = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | (rsv & 7) << 4 | (opcode & 0xF)])
    mbit = 0x80 if masked else 0
    if n < 126:
        head += bytes([mbit | n])
    elif n < 65536:
        head += bytes([mbit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mbit | 127]) + struct.pack("!Q", n & (2**64 - 1))
    if not masked:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def read_head(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("EOF before a response")
        buf += chunk
        if len(buf) > 1_000_000:
            raise ConnectionError("response head too long")
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, rest


def read_body(sock: socket.socket, headers: dict[str, str], rest: bytes) -> bytes:
    if "content-length" not in headers:
        return rest
    n = int(headers["content-length"])
    while len(rest) < n:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return rest[:n]


class Fuzzer:
    def __init__(self, port: int, rng: random.Random, report: Report) -> None:
        self.port = port
        self.rng = rng
        self.m = Mutator(rng)
        self.report = report

    def connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=READ_TIMEOUT)
        return sock

    def request(self, raw: bytes, shut: bool = False) -> tuple[int, bytes] | None:
        """Send raw bytes; the response status and body, or None if the server closed first."""
        with self.connect() as sock:
            try:
                sock.sendall(raw)
                if shut:
                    sock.shutdown(socket.SHUT_WR)
                status, headers, rest = read_head(sock)
                body = read_body(sock, headers, rest)
            except TimeoutError:
                self.report.anomaly("hang", raw[:120])
                return None
            except (ConnectionError, OSError):
                return None
        self.report.http(status, raw)
        return status, body

    def handshake(self) -> str | None:
        got = self.request(b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n")
        if got is None or got[0] != 200 or not got[1].startswith(b"0{"):
            return None
        sid: str = json.loads(got[1][1:])["sid"]
        return sid

    # attacks ------------------------------------------------------------------------------
    def http(self) -> None:
        r = self.rng
        sid = self.handshake() if r.random() < 0.6 else r.choice(["__proto__", "constructor", "x" * 70, "%C3%A9", "%00", ""])
        method = r.choice(["GET", "POST", "POST", "OPTIONS", "PUT", "HEAD", "DELETE", "GET\x00", "post", "CONNECT"])
        query = r.choice([
            f"EIO=4&transport=polling&sid={sid}", f"EIO=4&transport=polling&sid={sid}&j=1",
            f"EIO=3&transport=polling&sid={sid}", f"EIO=4&transport=websocket&sid={sid}",
            "EIO=4&transport=polling", "EIO=4&transport=websocket", "EIO=4&transport=flashsocket",
            "transport=polling", f"EIO=4&transport=polling&sid={sid}&sid=other", "", "EIO=4&j=abc",
        ])
        path = r.choice(["/socket.io/", "/socket.io", "/socket.io/x/../", "/SOCKET.IO/", "/", "/static/../x"])
        body = b""
        if method.upper() == "POST":
            body = r.choice([
                lambda: ("\x1e".join(self.m.sio() if r.random() < 0.5 else "4" + self.m.sio() for _ in range(r.randrange(1, 20)))).encode("utf-8", "surrogatepass"),
                lambda: self.m.blob(2000), lambda: b"4" + b"x" * r.randrange(60_000, 70_000),
                lambda: "\x1e".join(["6"] * r.randrange(1, 5000)).encode(), lambda: b"d=" + self.m.blob(100),
            ])()
        headers = [f"Host: 127.0.0.1:{self.port}"]
        style = r.randrange(6)
        if style == 0:
            headers.append(f"Content-Length: {r.choice(['abc', '-1', '99999999999999999999', str(len(body) + 5), '0'])}")
        elif style == 1 and body:
            headers.append("Transfer-Encoding: chunked")
            chunks = b""
            i = 0
            while i < len(body):
                n = r.randrange(1, 3000)
                chunks += b"%x\r\n%s\r\n" % (len(body[i:i + n]), body[i:i + n])
                i += n
            body = chunks + (b"0\r\n\r\n" if r.random() < 0.8 else b"zz\r\n")
        elif body or method.upper() == "POST":
            headers.append(f"Content-Length: {len(body)}")
        if r.random() < 0.3:
            headers.append(r.choice(["Content-Type: application/octet-stream", "Content-Type: text/plain;charset=utf-16",
                                     "Origin: http://evil.example", "Upgrade: websocket", "Connection: upgrade",
                                     "Accept-Encoding: gzip", "X-Forwarded-Host: evil", "Cookie: io=" + "x" * 100]))
        raw = f"{method} {path}?{query} HTTP/1.1\r\n".encode("utf-8", "surrogatepass") + "\r\n".join(headers).encode() + b"\r\n\r\n" + body
        if r.random() < 0.25:  # flip bytes anywhere in the request
            raw = bytearray(raw)
            for _ in range(r.randrange(1, 6)):
                raw[r.randrange(len(raw))] = r.randrange(256)
            raw = bytes(raw)
        if r.random() < 0.1:
            raw = raw[: r.randrange(len(raw))]
        # End the request stream: a mutated head or a lying Content-Length may leave the server
        # rightly waiting for more; after EOF it must answer or close, never hang.
        self.request(raw, shut=True)

    def websocket(self, deflate: bool = False) -> tuple[socket.socket, bytes] | None:
        key = base64.b64encode(os.urandom(16)).decode()
        ext = "Sec-WebSocket-Extensions: permessage-deflate\r\n" if deflate else ""
        sock = self.connect()
        try:
            sock.sendall((f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                          f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{ext}\r\n").encode())
            status, headers, rest = read_head(sock)
        except (OSError, ConnectionError):
            sock.close()
            return None
        self.report.http(status, b"upgrade")
        if status != 101:
            sock.close()
            return None
        return sock, rest

    def drain(self, sock: socket.socket, buf: bytes, seconds: float) -> None:
        """Read server frames for a while; record a close code; answer nothing."""
        sock.settimeout(seconds)
        end = time.monotonic() + seconds
        try:
            while time.monotonic() < end:
                frames, buf = split_frames(buf)
                for opcode, payload in frames:
                    if opcode == 0x8:
                        code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                        self.report.close(code)
                        return
                chunk = sock.recv(65536)
                if not chunk:
                    self.report.close(None)
                    return
                buf += chunk
        except (TimeoutError, OSError):
            return

    def finish(self, sock: socket.socket) -> None:
        if self.rng.random() < 0.3:  # vanish with a RST
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()

    def ws_frames(self) -> None:
        r = self.rng
        deflate = r.random() < 0.3
        opened = self.websocket(deflate)
        if opened is None:
            return
        sock, buf = opened
        try:
            for _ in range(r.randrange(1, 6)):
                kind = r.randrange(10)
                payload = (r.choice([self.m.sio(), self.m.eio()]).encode("utf-8", "surrogatepass")
                           if r.random() < 0.6 else self.m.blob())
                opcode = r.choice([1, 1, 2, 0, 8, 9, 10]) if kind < 7 else r.randrange(16)
                rsv = 0 if r.random() < 0.7 else r.randrange(8)
                if deflate and r.random() < 0.5:
                    c = zlib.compressobj(r.choice((1, 9)), zlib.DEFLATED, -15)
                    payload = c.compress(payload * r.randrange(1, 50)) + c.flush(zlib.Z_SYNC_FLUSH)
                    payload = payload[:-4] if r.random() < 0.8 else payload
                    rsv |= 4
                length = None
                if r.random() < 0.1:
                    length = r.choice([0, 1, 125, 126, 65535, 65536, 2**31, 2**40, 2**63, 2**64 - 1])
                data = frame(opcode, payload, fin=r.random() < 0.8, rsv=rsv, masked=r.random() < 0.95, length=length)
                sock.sendall(data)
                self.report.inputs["ws-frames"] += 1
            self.drain(sock, buf, 0.3)
        except OSError:
            pass
        finally:
            self.finish(sock)

    def eio(self) -> None:
        opened = self.websocket()
        if opened is None:
            return
        sock, buf = opened
        try:
            for _ in range(self.rng.randrange(1, 8)):
                sock.sendall(frame(1, self.m.eio().encode("utf-8", "surrogatepass")))
                self.report.inputs["eio"] += 1
            self.drain(sock, buf, 0.3)
        except OSError:
            pass
        finally:
            self.finish(sock)

    def sio_ws(self) -> None:
        r = self.rng
        opened = self.websocket()
        if opened is None:
            return
        sock, buf = opened
        try:
            if r.random() < 0.9:
                sock.sendall(frame(1, b"40"))
                sock.settimeout(2.0)
                if r.random() < 0.8:
                    got = wait_for_text(sock, buf, b'40{"sid"')
                    if got is None:
                        return
                    buf = got
            for _ in range(r.randrange(1, 10)):
                if r.random() < 0.2:
                    sock.sendall(frame(2, self.m.blob(2000)))
                else:
                    sock.sendall(frame(1, ("4" + self.m.sio()).encode("utf-8", "surrogatepass")))
                self.report.inputs["sio-ws"] += 1
            self.drain(sock, buf, 0.3)
        except OSError:
            pass
        finally:
            self.finish(sock)

    def sio_poll(self) -> None:
        r = self.rng
        sid = self.handshake()
        if sid is None:
            return
        q = f"/socket.io/?EIO=4&transport=polling&sid={sid}"
        self.request(f"POST {q} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n40".encode())
        for _ in range(r.randrange(1, 4)):
            segments = []
            for _ in range(r.randrange(1, 8)):
                if r.random() < 0.15:
                    segments.append("b" + base64.b64encode(self.m.blob()).decode())
                else:
                    segments.append("4" + self.m.sio())
            body = "\x1e".join(segments).encode("utf-8", "surrogatepass")
            got = self.request(f"POST {q} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
            self.report.inputs["sio-poll"] += 1
            if got is None or got[0] != 200:
                return
            self.request(f"GET {q} HTTP/1.1\r\nHost: x\r\n\r\n".encode())

    def one(self) -> None:
        kind = self.rng.choice(["http", "http", "ws-frames", "ws-frames", "eio", "sio-ws", "sio-ws", "sio-poll"])
        if kind == "http":
            self.report.inputs["http"] += 1
            self.http()
        elif kind == "ws-frames":
            self.ws_frames()
        elif kind == "eio":
            self.eio()
        elif kind == "sio-ws":
            self.sio_ws()
        else:
            self.sio_poll()


class Report:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.inputs: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self.closes: Counter[str] = Counter()
        self.anomalies: list[str] = []

    def total(self) -> int:
        return sum(self.inputs.values())

    def http(self, status: int, raw: bytes) -> None:
        with self.lock:
            self.statuses[status] += 1
        if status >= 500 and status not in (501, 505):
            self.anomaly(f"HTTP {status}", raw[:160])

    def close(self, code: int | None) -> None:
        with self.lock:
            self.closes[str(code)] += 1
        # 1005: an empty close echoed; 1001 and 3000-4999: a client's own valid code echoed.
        if code is not None and code not in VALID_CLOSE_CODES and code not in (1001, 1005) and not 3000 <= code <= 4999:
            self.anomaly(f"close code {code}", b"")

    def anomaly(self, what: str, detail: bytes) -> None:
        with self.lock:
            if len(self.anomalies) < 50:
                self.anomalies.append(f"{what}: {detail!r}")


# -- a well-behaved client -------------------------------------------------------------------------


def good_client_echo(port: int, token: str) -> bool:
    """Connect over WebSocket, join "/", get an ack back: the server still serves."""
    fz = Fuzzer(port, random.Random(0), Report())
    opened = fz.websocket()
    if opened is None:
        return False
    sock, buf = opened
    sock.settimeout(READ_TIMEOUT)
    try:
        sock.sendall(frame(1, b"40"))
        # Events sent before the CONNECT ack are dropped (the connect handler has not accepted
        # yet), as real clients know: wait for the ack first.
        rest = wait_for_text(sock, buf, b'40{"sid"')
        if rest is None:
            return False
        sock.sendall(frame(1, f'422["echo","{token}"]'.encode()))
        return wait_for_text(sock, rest, f'432["{token}"]'.encode()) is not None
    except OSError:
        return False
    finally:
        sock.close()


def split_frames(buf: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """The complete (unmasked, server) frames at the start of `buf`, and the rest."""
    frames = []
    while len(buf) >= 2:
        n, pos = buf[1] & 0x7F, 2
        if n == 126:
            if len(buf) < 4:
                break
            n, pos = struct.unpack("!H", buf[2:4])[0], 4
        elif n == 127:
            if len(buf) < 10:
                break
            n, pos = struct.unpack("!Q", buf[2:10])[0], 10
        if len(buf) < pos + n:
            break
        frames.append((buf[0] & 0xF, buf[pos:pos + n]))
        buf = buf[pos + n:]
    return frames, buf


def wait_for_text(sock: socket.socket, buf: bytes, prefix: bytes) -> bytes | None:
    """Read frames until a text frame starting with `prefix` (answering PINGs); the bytes
    after that frame, or None if the server closed first or nothing came in time."""
    end = time.monotonic() + READ_TIMEOUT
    while time.monotonic() < end:
        frames, rest = split_frames(buf)
        for i, (opcode, payload) in enumerate(frames):
            if opcode == 0x8:
                return None
            if opcode == 0x1 and payload == b"2":
                sock.sendall(frame(1, b"3"))  # a PING: answer, so a slow check is not timed out
            elif opcode == 0x1 and payload.startswith(prefix):
                # Re-frame what came after it (cheap: only the first frames are ever there).
                tail = b"".join(_reframe(op, p) for op, p in frames[i + 1:])
                return tail + rest
        buf = rest
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buf += chunk
    return None


def _reframe(opcode: int, payload: bytes) -> bytes:
    return frame(opcode, payload, masked=False)


def run(url: str | None, count: int, seconds: float, connections: int, seed: int,
        rss_bound_mb: float) -> dict[str, Any]:
    server = None
    if url is None:
        server = TargetServer("--ping-interval", "1", "--ping-timeout", "2",
                              "--max-http-buffer-size", "65536", "--websocket-compression").start()
        port = server.port
    else:
        port = int(url.rstrip("/").rsplit(":", 1)[1])
    report = Report()
    result: dict[str, Any] = {"seed": seed, "connections": connections}
    try:
        assert good_client_echo(port, "warm-up"), "the server does not serve a good client"
        if server is not None:
            # Warm up every code path once before the baseline, then measure.
            for i in range(20):
                Fuzzer(port, random.Random(seed - 1 - i), Report()).one()
            end = time.monotonic() + 10  # the warm-up sessions gone (a bounded wait)
            while server.stats()["sessions"] and time.monotonic() < end:
                time.sleep(0.05)
            result["rss_baseline_kb"] = server.rss_kb()
        stop = threading.Event()
        deadline = time.monotonic() + seconds
        peak = [0]
        canary_failures = [0]
        canary_checks = [0]

        def worker(index: int) -> None:
            fz = Fuzzer(port, random.Random(seed + index), report)
            while not stop.is_set() and time.monotonic() < deadline and report.total() < count:
                try:
                    fz.one()
                except Exception as exc:  # a fuzzer bug, not a server one: keep going
                    report.anomaly("fuzzer error", repr(exc).encode())

        def canary() -> None:
            i = 0
            while not stop.wait(1.0):
                i += 1
                canary_checks[0] += 1
                if not good_client_echo(port, f"canary{i}"):
                    canary_failures[0] += 1
                    report.anomaly("canary not served", str(i).encode())
                if server is not None:
                    peak[0] = max(peak[0], server.rss_kb())

        threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(connections)]
        watcher = threading.Thread(target=canary, daemon=True)
        started = time.monotonic()
        for t in threads:
            t.start()
        watcher.start()
        for t in threads:
            t.join(seconds + 60)
        stop.set()
        watcher.join(READ_TIMEOUT + 5)
        result["fuzz_seconds"] = round(time.monotonic() - started, 2)
        result["inputs"] = report.total()
        result["inputs_by_kind"] = dict(report.inputs)
        result["http_statuses"] = {str(k): v for k, v in sorted(report.statuses.items())}
        result["close_codes"] = dict(report.closes)
        result["canary_checks"] = canary_checks[0]
        result["canary_failures"] = canary_failures[0]
        result["good_client_after"] = good_client_echo(port, "after")
        if not result["good_client_after"]:
            report.anomaly("good client not served afterwards", b"")
        if server is not None:
            stats = server.stats()
            end = time.monotonic() + 30
            while stats["sessions"] > 0 and time.monotonic() < end:
                time.sleep(0.2)
                stats = server.stats()
            result["sessions_left"] = stats["sessions"]
            result["clients_left"] = stats["clients"]
            if stats["sessions"] or stats["clients"]:
                report.anomaly("sessions not reaped", json.dumps(stats).encode())
            result["server_uncaught"] = stats["uncaught"]
            result["server_logged_errors"] = stats["logged_errors"]
            if stats["uncaught"] or stats["logged_errors"]:
                report.anomaly("server errors", json.dumps(stats["last_errors"]).encode())
            result["server_disconnects"] = stats["disconnects"]
            result["rss_peak_kb"] = max(peak[0], server.rss_kb())
            result["rss_after_kb"] = server.rss_kb()
            growth = (result["rss_after_kb"] - result["rss_baseline_kb"]) / 1024
            result["rss_growth_mb"] = round(growth, 1)
            result["rss_bound_mb"] = rss_bound_mb
            if growth > rss_bound_mb:
                report.anomaly("RSS above bound", str(growth).encode())
            if not server.alive():
                report.anomaly("server died", server.log().encode())
    finally:
        if server is not None:
            server.stop()
    result["anomalies"] = report.anomalies
    result["ok"] = not report.anomalies
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="fuzz this server instead of starting one (no RSS/counters then)")
    parser.add_argument("--count", type=int, default=1_000_000, help="stop after this many inputs")
    parser.add_argument("--seconds", type=float, default=60.0, help="stop after this long")
    parser.add_argument("--connections", type=int, default=4, help="concurrent fuzzing connections")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--rss-bound-mb", type=float, default=64.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)
    result = run(args.url, args.count, args.seconds, args.connections, seed, args.rss_bound_mb)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>22}: {value}")
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
