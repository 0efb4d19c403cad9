"""Side by side with the Node engine.io@6 server: the status and error of every method × sid ×
transport × Origin combination (issue 11 items 1 and 2).

Both servers run on 127.0.0.1 (ours on gevent, Node's from tests/node/eio_server.js) and get the
same raw requests. Each answer is reduced to (status, Engine.IO error code, error message,
allowed origin). Our error bodies are Node's ``{"code":N,"message":"..."}`` (application/json),
word for word (issue 24: the JS client hands them to the application); Node answers a refused
WebSocket upgrade with the bare message instead (no code: only the message is compared there).
The places where we deliberately answer otherwise are decided by `deliberate_difference`, each
with its reason; every other cell must be equal. The test fails (never skips) when node or the
npm packages are missing.
"""

from __future__ import annotations

import base64
import http.client as httpclient
import json
import os
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import websocket
from eio_support import handshake, make_harness, serve_gevent

from tests.conftest import NODE_DIR, ROOT, node_available

pytestmark = pytest.mark.node

PATH = "/engine.io/"
ALLOWED = "http://allowed.example"
UNKNOWN_SID = "AAAAAAAAAAAAAAAAAAAA"
METHODS = ["GET", "POST", "PUT", "DELETE", "OPTIONS", "HEAD"]
SIDS = ["none", "unknown", "valid"]
TIMEOUT = 10.0



@dataclass(frozen=True)
class Answer:
    status: int
    message: str | None  # the error message, None for a success
    allow_origin: str | None
    code: int | None = None  # the Engine.IO error code of a JSON error body
    content_type: str | None = None


@contextmanager
def node_server(options: dict[str, Any]) -> Iterator[int]:
    if not node_available():
        pytest.fail("node and the npm packages are required: run scripts/setup.sh")
    proc = subprocess.Popen(
        ["node", os.path.join(NODE_DIR, "eio_server.js"), json.dumps({"path": PATH, **options})],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("{"), f"the Node server did not start: {line!r}"
        yield int(json.loads(line)["port"])
    finally:
        assert proc.stdin is not None
        proc.stdin.close()  # the script exits when its stdin ends
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@contextmanager
def our_server(**options: Any) -> Iterator[int]:
    harness = make_harness(**options)
    with serve_gevent(harness.app) as served:
        yield served.port


def ws_headers() -> dict[str, str]:
    return {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode()}


def error_message(body: bytes, ours: bool) -> tuple[int | None, str]:
    """(code, message) of an error body: ours are always {"code","message"}; Node's too,
    except the bare message of a refused upgrade (code None)."""
    text = body.decode("utf-8")
    if ours or text.startswith("{"):
        error = json.loads(text)
        assert set(error) == {"code", "message"}, text
        assert isinstance(error["code"], int) and isinstance(error["message"], str), text
        return error["code"], error["message"]
    return None, text


def request(port: int, method: str, target: str, headers: dict[str, str], sid: str, ours: bool) -> Answer:
    if "Upgrade" in headers:
        return _upgrade_request(port, method, target, headers, sid, ours)
    conn = httpclient.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        body = b"4x" if method in ("POST", "PUT") else None
        conn.request(method, target, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        code = message = None
        if resp.status >= 400 and data:
            code, message = error_message(data, ours)
        return Answer(resp.status, message, resp.getheader("Access-Control-Allow-Origin"), code,
                      resp.getheader("Content-Type") if message else None)
    finally:
        conn.close()


def _upgrade_request(port: int, method: str, target: str, headers: dict[str, str], sid: str,
                     ours: bool) -> Answer:
    """A WebSocket handshake on a raw socket: the status line and head, and an error's body."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        sock.sendall(f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{lines}\r\n".encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                assert not buf, f"EOF inside the response head: {buf!r}"
                return Answer(0, None, None)  # the connection ended without an answer
            buf += chunk
        head, _, rest = buf.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        fields = {}
        for line in head.decode("latin-1").split("\r\n")[1:]:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
        if status == 101:
            return Answer(101, None, fields.get("access-control-allow-origin"))
        length = int(fields.get("content-length", "0"))
        if method == "HEAD":
            length = 0 if ours else length  # Node writes the body on the raw socket anyway
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        erred = length and method != "HEAD" and status >= 400
        code, message = error_message(rest[:length], ours) if erred else (None, None)
        return Answer(status, message, fields.get("access-control-allow-origin"), code)


def deliberate_difference(transport: str, method: str, sid_kind: str, origin: str | None,
                          cors: bool, node: Answer, ours: Answer) -> str | None:
    """Why our answer may differ from Node's in this cell (None: it must not)."""
    if method == "OPTIONS" and cors and origin and transport == "polling":
        # A CORS preflight: Node's cors middleware answers 204, ours the reference's 200 "OK";
        # both are what browsers need (a 2xx with the origin echoed).
        assert node.status == 204 and ours.status == 200
        assert node.allow_origin == ours.allow_origin == ALLOWED
        return "preflight: 204 (Node) and 200 (reference), both a 2xx with the origin"
    if method == "OPTIONS" and cors and not origin and transport == "polling":
        # Node's cors middleware answers every OPTIONS; we answer only real preflights (an
        # Origin is there), others go through the Engine.IO checks like any other method.
        assert node.status == 204 and ours.status == 400
        return "an OPTIONS without Origin is no preflight"
    if transport == "polling" and sid_kind == "valid" and method in ("PUT", "DELETE", "OPTIONS", "HEAD"):
        # Node's polling transport falls through to a 500; it is the client's error.
        assert node.status == 500 and ours.status == 400
        assert ours.message in (None, "Bad request method")
        return "a method other than GET/POST on a live session: 400, not Node's 500"
    if transport == "websocket" and method == "OPTIONS" and cors:
        # Node's cors middleware ends an OPTIONS upgrade request without an answer; ours
        # answers it as a preflight when it has an Origin, else goes through the checks as
        # without CORS (compared in test_without_cors_as_node).
        assert node.status == 0 and ours.status == (200 if origin else 400 if sid_kind != "valid" else 405)
        return "Node ends an OPTIONS upgrade request without an answer"
    return None


def matrix(node_port: int, our_port: int, cors: bool) -> list[tuple[str, Answer, Answer, str | None]]:
    rows = []
    for transport in ("polling", "websocket"):
        for method in METHODS:
            for sid_kind in SIDS:
                if transport == "polling" and method == "GET" and sid_kind == "valid":
                    continue  # a long-poll: held until there is something to send
                for origin in (None, ALLOWED):
                    answers = []
                    for port, ours in ((node_port, False), (our_port, True)):
                        sid = {"none": "", "unknown": UNKNOWN_SID,
                               "valid": handshake(port, path=PATH) if sid_kind == "valid" else ""}[sid_kind]
                        target = f"{PATH}?EIO=4&transport={transport}" + (f"&sid={sid}" if sid else "")
                        headers = {"Origin": origin} if origin else {}
                        if method == "OPTIONS" and origin:
                            headers["Access-Control-Request-Method"] = "POST"
                        if transport == "websocket":
                            headers.update(ws_headers())
                        answers.append(request(port, method, target, headers, sid, ours))
                    node, ours_answer = answers
                    cell = f"{transport} {method} sid={sid_kind} origin={origin}"
                    why = deliberate_difference(transport, method, sid_kind, origin, cors, node, ours_answer)
                    rows.append((cell, node, ours_answer, why))
    return rows


def assert_same(rows: list[tuple[str, Answer, Answer, str | None]], cors: bool) -> None:
    mismatched = []
    for cell, node, ours, why in rows:
        if why is not None:
            continue
        same = (node.status, node.message) == (ours.status, ours.message)
        if node.code is not None:  # a JSON body: the same code, as application/json
            same = same and (ours.code, ours.content_type) == (node.code, node.content_type)
        if cors and node.allow_origin is not None and not cell.endswith("origin=None") \
                and node.status != 101:  # browsers apply no CORS to a WebSocket's 101
            # Where Node's answer lets a browser read it, ours must too. (Node also echoes
            # its one configured origin to requests without an Origin, and puts no CORS
            # headers on a refused upgrade; ours echo the request's Origin when allowed.)
            same = same and ours.allow_origin == node.allow_origin
        if not same:
            mismatched.append(f"{cell}: node {node} ours {ours}")
    assert not mismatched, "\n".join(mismatched)
    assert sum(why is None for *_, why in rows) > len(rows) // 2  # most cells are compared


def test_without_cors_as_node() -> None:
    """Node without its `cors` option against ours with CORS handling off: every OPTIONS goes
    through the Engine.IO checks."""
    with node_server({}) as node_port, our_server(cors_allowed_origins=[]) as our_port:
        assert_same(matrix(node_port, our_port, cors=False), cors=False)


def test_with_cors_as_node() -> None:
    """Node with `cors: {origin, credentials}` against ours with the same allowed origin."""
    with node_server({"cors": {"origin": ALLOWED, "credentials": True}}) as node_port, \
            our_server(cors_allowed_origins=[ALLOWED], cors_credentials=True) as our_port:
        assert_same(matrix(node_port, our_port, cors=True), cors=True)


@pytest.mark.parametrize("query", ["", "EIO=4", "transport=polling", "EIO=3&transport=polling"])
def test_handshake_query_errors_as_node(query: str) -> None:
    """Item 1: no transport is a 400 (Node checks the transport first, then the version)."""
    with node_server({}) as node_port, our_server() as our_port:
        target = PATH + (f"?{query}" if query else "")
        node = request(node_port, "GET", target, {}, "", ours=False)
        ours = request(our_port, "GET", target, {}, "", ours=True)
        assert node.status == 400 and node.code is not None
        assert (ours.status, ours.code, ours.message) == (node.status, node.code, node.message)


def test_an_origin_we_do_not_accept() -> None:
    """A deliberate difference: Node's cors middleware only echoes its configured origin and
    lets the browser refuse; we answer 400 to an origin that is not allowed (CVE-2019-13611,
    CVE-2020-28481), for polling and for WebSocket upgrades alike."""
    with our_server(cors_allowed_origins=[ALLOWED]) as our_port:
        for transport, extra in (("polling", {}), ("websocket", ws_headers())):
            target = f"{PATH}?EIO=4&transport={transport}"
            ours = request(our_port, "GET", target, {"Origin": "http://evil.example", **extra}, "", True)
            assert (ours.status, ours.message) == (400, "Not an accepted origin.")


def _open_websocket(port: int, sid: str) -> tuple[socket.socket, int, bytes]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    lines = "".join(f"{k}: {v}\r\n" for k, v in ws_headers().items())
    sock.sendall(f"GET {PATH}?EIO=4&transport=websocket&sid={sid} HTTP/1.1\r\n"
                 f"Host: 127.0.0.1:{port}\r\n{lines}\r\n".encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        assert chunk, buf
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    return sock, int(head.split(b" ", 2)[1]), rest


def _send_text(sock: socket.socket, text: str) -> None:
    data = text.encode()
    assert len(data) < 126
    mask = os.urandom(4)
    sock.sendall(bytes([0x81, 0x80 | len(data)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))


def _next_frame(sock: socket.socket, buf: bytes) -> tuple[int, bytes, bytes]:
    """(opcode, payload, rest) of the next server frame (small frames only); opcode -1 at EOF."""
    while len(buf) < 2 or len(buf) < 2 + (buf[1] & 0x7F):
        chunk = sock.recv(65536)
        if not chunk:
            return -1, b"", b""
        buf += chunk
    n = buf[1] & 0x7F
    assert n < 126
    return buf[0] & 0x0F, buf[2:2 + n], buf[2 + n:]


def _second_websocket(port: int, upgraded: bool) -> tuple[int, int, bytes, str]:
    """A session upgraded (or with its probe pending), then a second WebSocket for it: the
    second's status, its first frame (opcode, payload), and the first socket's next text."""
    sid = handshake(port, path=PATH)
    first, status, rest = _open_websocket(port, sid)
    assert status == 101
    _send_text(first, "2probe")
    opcode, payload, rest = _next_frame(first, rest)
    assert (opcode, payload) == (1, b"3probe")
    if upgraded:
        _send_text(first, "5")
    second, status, rest2 = _open_websocket(port, sid)
    if status != 101:
        second.close()
        first.close()
        return status, -1, b"", "refused"
    opcode, payload, _ = _next_frame(second, rest2)
    second.close()
    if not upgraded:
        _send_text(first, "5")
    _send_text(first, "4hello")
    while True:  # skip NOOPs and PINGs; the echo comes back on the first socket
        got, text, rest = _next_frame(first, rest)
        assert got == 1, (got, text)
        if text == b"4hello":
            break
    first.close()
    return status, opcode, payload, "echoed"


@pytest.mark.parametrize("upgraded", [True, False], ids=["upgraded", "probe-pending"])
def test_second_websocket_as_node(upgraded: bool) -> None:
    """Item 3: both servers accept a second WebSocket for a session that has one (101) and
    close it at once with a close frame carrying no status code; the first one carries on."""
    with node_server({}) as node_port, our_server() as our_port:
        node = _second_websocket(node_port, upgraded)
        ours = _second_websocket(our_port, upgraded)
    assert node == (101, 0x8, b"", "echoed")
    assert ours == node


@pytest.mark.parametrize("upgraded", [True, False], ids=["upgraded", "probe-pending"])
def test_second_websocket_on_werkzeug(upgraded: bool) -> None:
    """The same on the Werkzeug dev server (threading driver), where the engine answers the
    handshake through the WSGI server instead of taking the connection over."""
    from tests.conftest import serve_werkzeug

    harness = make_harness(async_mode="threading")
    with serve_werkzeug(harness.app) as served:
        assert _second_websocket(served.port, upgraded) == (101, 0x8, b"", "echoed")


# -- issue 24: the error answers the JS client hands to the application --------------------------
def _raw_exchange(port: int, request_bytes: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
    """One raw HTTP/1.1 request: (status, the header lines as sent, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(request_bytes)
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            assert chunk, buf
            buf += chunk
        head, _, body = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        fields = [(n.strip().lower(), v.strip()) for n, _, v in (line.partition(":") for line in lines[1:])]
        status = int(lines[0].split(" ", 2)[1])
        if dict(fields).get("transfer-encoding") == "chunked":  # Node's res.end(body)
            while not body.endswith(b"0\r\n\r\n"):
                chunk = sock.recv(65536)
                assert chunk, body
                body += chunk
            out = b""
            while True:
                size, _, body = body.partition(b"\r\n")
                if int(size, 16) == 0:
                    return status, fields, out
                out, body = out + body[:int(size, 16)], body[int(size, 16) + 2:]
        length = int(dict(fields).get("content-length", "0"))
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
        return status, fields, body[:length]


def _oversized_post(port: int) -> tuple[int, list[tuple[str, str]], bytes]:
    sid = handshake(port, path=PATH)
    body = b"4" + b"x" * 200
    return _raw_exchange(port, f"POST {PATH}?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\n"
                               f"Host: 127.0.0.1\r\nContent-Type: text/plain;charset=UTF-8\r\n"
                               f"Content-Length: {len(body)}\r\n\r\n".encode() + body)


def test_an_oversized_polling_post_is_413_as_node() -> None:
    """Node answers 413 (no body) to a POST over maxHttpBufferSize; the JS client reports the
    status as the close description. Ours: the same, with one ``Connection: close``."""
    with node_server({"maxHttpBufferSize": 100}) as node_port, our_server(max_http_buffer_size=100) as our_port:
        node_status, _, node_body = _oversized_post(node_port)
        ours_status, ours_fields, ours_body = _oversized_post(our_port)
    assert (node_status, node_body) == (413, b"")
    assert (ours_status, ours_body) == (node_status, node_body)
    assert [v for n, v in ours_fields if n == "connection"] == ["close"]


@pytest.mark.parametrize("sid_kind", ["unknown", "implausible"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_an_unknown_session_gets_nodes_json_body(sid_kind: str, method: str) -> None:
    """Node's ``{"code":1,"message":"Session ID unknown"}`` as application/json, for a sid
    that names no session and for one that cannot be a sid at all."""
    sid = UNKNOWN_SID if sid_kind == "unknown" else "x" * 100
    answers = []
    with node_server({}) as node_port, our_server() as our_port:
        for port in (node_port, our_port):
            body = b"4x" if method == "POST" else b""
            status, fields, data = _raw_exchange(
                port, f"{method} {PATH}?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            answers.append((status, dict(fields).get("content-type"), json.loads(data)))
    assert answers[0] == (400, "application/json", {"code": 1, "message": "Session ID unknown"})
    assert answers[1] == answers[0]


def _close_for_size(port: int) -> tuple[int, bytes]:
    """A WebSocket-only session sends a message over the limit: (close code, reason bytes)."""
    ws = websocket.create_connection(f"ws://127.0.0.1:{port}{PATH}?EIO=4&transport=websocket", timeout=TIMEOUT)
    try:
        assert ws.recv().startswith("0{")
        ws.send("4" + "x" * 200)
        while True:
            opcode, data = ws.recv_data(control_frame=True)
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                return int.from_bytes(data[:2], "big"), data[2:]
    finally:
        ws.close()


def test_a_websocket_closed_for_size_gets_1009_without_reason_as_node() -> None:
    with node_server({"maxHttpBufferSize": 100}) as node_port, our_server(max_http_buffer_size=100) as our_port:
        node = _close_for_size(node_port)
        ours = _close_for_size(our_port)
    assert node == (1009, b"")
    assert ours == node
