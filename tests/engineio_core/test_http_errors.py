"""Every HTTP answer of the Engine.IO endpoint, over real sockets against gevent's pywsgi.

One test per error response, with the exact status and body (the Node server's
``{"code":N,"message":"..."}``, issue 24: the JS client hands it to the application), and, where
an error could disturb the server, a check that another session opened beforehand still
exchanges messages afterwards.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import socket
import threading
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
import websocket
from eio_support import (
    EngineHarness,
    Response,
    handshake,
    http,
    make_harness,
    poll,
    post,
    serve_gevent,
    wait_for,
    wait_poll_pending,
)

from engineio_core.handshake import UNSUPPORTED_VERSION


@pytest.fixture
def harness() -> EngineHarness:
    return make_harness()


@pytest.fixture
def port(harness: EngineHarness) -> Iterator[int]:
    with serve_gevent(harness.app) as served:
        yield served.port


def error_body(resp: Response) -> str:
    """The message of an error body: Node's ``{"code":N,"message":"..."}`` as application/json."""
    assert resp.headers["content-type"] == "application/json", resp.headers
    body = json.loads(resp.body)
    assert set(body) == {"code", "message"} and body["code"] in range(6), body
    message: str = body["message"]
    return message


def raw_request(port: int, head: bytes, body_parts: list[bytes] = (), timeout: float = 10.0) -> bytes:  # type: ignore[assignment]
    """Send raw bytes, then read the whole response until the server closes or `timeout`."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head)
        for part in body_parts:
            sock.sendall(part)
        return read_response(sock)


def read_response(sock: socket.socket) -> bytes:
    """Read one response (headers + Content-Length body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return head + b"\r\n\r\n" + rest


def parse_raw(data: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


def ws_upgrade_headers(origin: str | None = None) -> dict[str, str]:
    headers = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
        "Sec-WebSocket-Version": "13",
    }
    if origin is not None:
        headers["Origin"] = origin
    return headers


# -- handshake-time errors ----------------------------------------------------------------------


@pytest.mark.parametrize("query", ["EIO=3&transport=polling", "transport=polling", "EIO=abc&transport=polling"])
def test_unsupported_or_missing_eio(harness: EngineHarness, port: int, query: str) -> None:
    other = handshake(port)
    resp = http(port, "GET", query)
    assert resp.status == 400
    assert error_body(resp) == UNSUPPORTED_VERSION
    assert resp.body == b'{"code":5,"message":"Unsupported protocol version"}'  # Node's, byte for byte
    harness.assert_alive(port, other)


@pytest.mark.parametrize("transport", ["flashsocket", "xhr-polling", "", "POLLING"])
def test_invalid_transport(harness: EngineHarness, port: int, transport: str) -> None:
    resp = http(port, "GET", f"EIO=4&transport={transport}")
    assert (resp.status, resp.body) == (400, b'{"code":0,"message":"Transport unknown"}')


@pytest.mark.parametrize("query", ["EIO=4", "", "EIO=3", "EIO=4&j=0"])
def test_missing_transport_is_refused(harness: EngineHarness, port: int, query: str) -> None:
    """Issue 11 item 1: as the Node server, a handshake that names no transport is a 400
    (python-engineio defaulted it to polling and opened a session). The transport is checked
    first, so it also wins over a missing or unsupported EIO."""
    resp = http(port, "GET", query)
    assert (resp.status, error_body(resp)) == (400, "Transport unknown")
    assert harness.connects == []


def test_transport_not_enabled() -> None:
    h = make_harness(transports=["websocket"])
    with serve_gevent(h.app) as served:
        resp = http(served.port, "GET", "EIO=4&transport=polling")
        assert (resp.status, error_body(resp)) == (400, "Transport unknown")


@pytest.mark.parametrize("j", ["abc", "-1", "1.5", "", "99999999999"])
def test_bad_jsonp_index(port: int, j: str) -> None:
    resp = http(port, "GET", f"EIO=4&transport=polling&j={j}")
    assert (resp.status, error_body(resp)) == (400, "Invalid JSONP index number")


def test_websocket_transport_without_upgrade(harness: EngineHarness, port: int) -> None:
    other = handshake(port)
    resp = http(port, "GET", "EIO=4&transport=websocket")
    assert (resp.status, error_body(resp)) == (400, "Bad request")  # Node's TRANSPORT_HANDSHAKE_ERROR
    resp = http(port, "GET", "EIO=4&transport=websocket", headers={"Upgrade": "h2c"})
    assert (resp.status, error_body(resp)) == (400, "Bad request")
    harness.assert_alive(port, other)


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"Sec-WebSocket-Version": "8"}, "Unsupported websocket version"),
        ({"Sec-WebSocket-Key": "short"}, "Invalid websocket key"),
        ({"Connection": "keep-alive"}, "Invalid websocket upgrade"),
    ],
)
def test_malformed_websocket_handshake(port: int, headers: dict[str, str], message: str) -> None:
    resp = http(port, "GET", "EIO=4&transport=websocket", headers={**ws_upgrade_headers(), **headers})
    assert (resp.status, error_body(resp)) == (400, message)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
@pytest.mark.parametrize("query", ["EIO=4&transport=polling", "transport=polling", "EIO=4&transport=websocket"])
def test_handshake_is_get_only(harness: EngineHarness, port: int, method: str, query: str) -> None:
    """Issue 11 item 2: a request with no sid whose method is not GET (an OPTIONS that is no
    CORS preflight included) is the Node server's 400 "Bad handshake method", checked before
    the protocol version, not a 405."""
    resp = http(port, method, query, body="4hello")
    assert (resp.status, error_body(resp)) == (400, "Bad handshake method")
    assert harness.connects == []


def test_head_without_sid(harness: EngineHarness, port: int) -> None:
    resp = http(port, "HEAD", "EIO=4&transport=polling")
    assert (resp.status, resp.body) == (400, b"")  # a response to HEAD has no body
    assert harness.connects == []


def test_connect_handler_refuses_with_401() -> None:
    h = make_harness(connect=lambda sid, environ: environ.get("HTTP_X_TOKEN") == "good")
    with serve_gevent(h.app) as served:
        resp = http(served.port, "GET")
        assert (resp.status, error_body(resp)) == (401, "Unauthorized")
        assert h.eio.session_count == 0
        sid = handshake(served.port, headers={"X-Token": "good"})
        assert h.connects == [sid]
        # Refused over WebSocket too: the socket is closed with 1008 (policy violation).
        ws = websocket.create_connection(
            f"ws://127.0.0.1:{served.port}/engine.io/?EIO=4&transport=websocket", timeout=10
        )
        try:
            opcode, data = ws.recv_data(control_frame=True)
            assert opcode == websocket.ABNF.OPCODE_CLOSE
            assert int.from_bytes(data[:2], "big") == 1008
        finally:
            ws.close()
        assert h.eio.session_count == 1
        h.assert_alive(served.port, sid)


def test_connect_handler_exception_refuses() -> None:
    def boom(sid: str, environ: dict[str, Any]) -> None:
        raise RuntimeError("handler bug")

    h = make_harness(connect=boom)
    with serve_gevent(h.app) as served:
        resp = http(served.port, "GET")
        assert (resp.status, error_body(resp)) == (401, "Unauthorized")


# -- unknown and odd session ids ----------------------------------------------------------------


def test_unknown_sid(harness: EngineHarness, port: int) -> None:
    other = handshake(port)
    for method in ("GET", "POST"):
        resp = http(port, method, "EIO=4&transport=polling&sid=AAAAAAAAAAAAAAAAAAAAAA", body="4x")
        assert (resp.status, error_body(resp)) == (400, "Session ID unknown")
    harness.assert_alive(port, other)


@pytest.mark.parametrize(
    ("sid", "message"),
    [
        ("__proto__", "Session ID unknown"),
        ("constructor", "Session ID unknown"),
        ("x" * 7_000, "Session ID unknown"),
        ("%C3%A9t%C3%A9", "Session ID unknown"),
        ("%00", "Session ID unknown"),
        ("%FF%FE", "Session ID unknown"),
        ("", "Session ID unknown"),
    ],
)
def test_odd_sids(harness: EngineHarness, port: int, sid: str, message: str) -> None:
    other = handshake(port)
    for method in ("GET", "POST"):
        resp = http(port, method, f"EIO=4&transport=polling&sid={sid}", body="4x")
        assert (resp.status, error_body(resp)) == (400, message)
    resp = http(port, "GET", f"EIO=4&transport=websocket&sid={sid}", headers=ws_upgrade_headers())
    assert (resp.status, error_body(resp)) == (400, message)
    harness.assert_alive(port, other)


def test_10kb_sid(harness: EngineHarness, port: int) -> None:
    """A 10 KB sid does not even reach the engine: pywsgi refuses request lines over 8 KB."""
    other = handshake(port)
    resp = http(port, "GET", "EIO=4&transport=polling&sid=" + "x" * 10_240)
    assert resp.status == 414
    harness.assert_alive(port, other)


# -- bad POST bodies -----------------------------------------------------------------------------


def assert_closed(harness: EngineHarness, port: int, sid: str, reason: str = "transport error") -> None:
    assert harness.wait_disconnect(sid)[0] == reason
    resp = poll(port, sid)
    assert (resp.status, error_body(resp)) == (400, "Session ID unknown")


@pytest.mark.parametrize("body", ["abc", "4ok\x1ex", "4ok\x1e", "b!!!", "0", "2", "0{}\x1e4late"])
def test_bad_packet_in_post_closes_the_session(harness: EngineHarness, port: int, body: str) -> None:
    other = handshake(port)
    sid = handshake(port)
    resp = post(port, sid, body)
    assert (resp.status, error_body(resp)) == (400, "Bad request")
    assert_closed(harness, port, sid)
    assert all(data != "late" for _, data in harness.messages)
    harness.assert_alive(port, other)


def test_empty_post(harness: EngineHarness, port: int) -> None:
    sid = handshake(port)
    resp = post(port, sid, b"")
    assert (resp.status, error_body(resp)) == (400, "Bad request")
    assert_closed(harness, port, sid)


def test_non_utf8_post(harness: EngineHarness, port: int) -> None:
    other = handshake(port)
    sid = handshake(port)
    resp = post(port, sid, b"4\xff\xfe\xfd")
    assert (resp.status, error_body(resp)) == (400, "Bad request")
    assert_closed(harness, port, sid)
    harness.assert_alive(port, other)


def test_octet_stream_post(harness: EngineHarness, port: int) -> None:
    """Engine.IO v4 polling payloads are text; a binary POST is refused (CVE-2026-59725)."""
    other = handshake(port)
    sid = handshake(port)
    resp = post(port, sid, b"\x01\x02\x03", headers={"Content-Type": "application/octet-stream"})
    assert (resp.status, error_body(resp)) == (400, "Bad request")
    assert_closed(harness, port, sid)
    # Even when the bytes happen to decode as a valid text payload.
    sid = handshake(port)
    resp = post(port, sid, "4hello", headers={"Content-Type": "application/octet-stream"})
    assert (resp.status, error_body(resp)) == (400, "Bad request")
    assert_closed(harness, port, sid)
    assert harness.messages == []
    harness.assert_alive(port, other)


def test_post_over_limit_by_content_length_answers_at_once() -> None:
    """413 (Node's answer, no body) as soon as the headers say too much: the body is never
    read (the reference blocked for more than 30 s here, then answered 400)."""
    h = make_harness(max_http_buffer_size=1000)
    with serve_gevent(h.app) as served:
        other = handshake(served.port)
        sid = handshake(served.port)
        head = (
            f"POST /engine.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{served.port}\r\nContent-Type: text/plain\r\n"
            f"Content-Length: 10000000\r\n\r\n"
        ).encode()
        # Only the first bytes of the promised 10 MB are sent; the answer must not wait.
        status, headers, body = parse_raw(raw_request(served.port, head, [b"4" + b"x" * 100], timeout=5))
        assert (status, body) == (413, b"")
        assert headers.get("connection") == "close"
        assert_closed(h, served.port, sid)
        # Exactly at the limit is fine.
        sid2 = handshake(served.port)
        resp = post(served.port, sid2, "4" + "y" * 999)
        assert (resp.status, resp.text) == (200, "ok")
        h.assert_alive(served.port, other)


def test_post_over_limit_by_chunked_body() -> None:
    h = make_harness(max_http_buffer_size=1000)
    with serve_gevent(h.app) as served:
        other = handshake(served.port)
        sid = handshake(served.port)
        head = (
            f"POST /engine.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{served.port}\r\nContent-Type: text/plain\r\n"
            f"Transfer-Encoding: chunked\r\n\r\n"
        ).encode()
        chunk = b"4" + b"x" * 599
        parts = [b"%x\r\n%s\r\n" % (len(chunk), chunk)] * 2  # 1200 bytes, and no final chunk:
        # the server must refuse once past the limit, without waiting for the end of the body.
        status, _, body = parse_raw(raw_request(served.port, head, parts, timeout=5))
        assert (status, body) == (413, b"")
        assert_closed(h, served.port, sid)
        # A chunked body within the limit is accepted.
        sid2 = handshake(served.port)
        head2 = head.replace(sid.encode(), sid2.encode())
        small = b"4chunked"
        status, _, body = parse_raw(
            raw_request(served.port, head2, [b"%x\r\n%s\r\n0\r\n\r\n" % (len(small), small)])
        )
        assert (status, body) == (200, b"ok")
        assert (sid2, "chunked") in h.messages
        h.assert_alive(served.port, other)


# -- duplicate polls and requests after the upgrade ------------------------------------------------


def test_duplicate_polls_close_the_session(harness: EngineHarness, port: int) -> None:
    """Spec: "a client MUST NOT have more than one active GET request. Should it happen, the
    server MUST return an HTTP 400 error status and close the session"; the pending poll ends
    with the CLOSE packet (engine.io-protocol test-suite)."""
    other = handshake(port)
    sid = handshake(port)
    results: list[Response] = []
    lock = threading.Lock()

    def one_poll() -> None:
        resp = poll(port, sid)
        with lock:
            results.append(resp)

    threads = [threading.Thread(target=one_poll) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(15)
    assert len(results) == 2
    by_status = sorted(results, key=lambda r: r.status)
    assert [r.status for r in by_status] == [200, 400]
    assert by_status[0].text == "1"
    assert error_body(by_status[1]) == "Duplicate poll request"
    assert_closed(harness, port, sid)
    harness.assert_alive(port, other)


def upgrade(port: int, sid: str) -> websocket.WebSocket:
    ws = websocket.create_connection(
        f"ws://127.0.0.1:{port}/engine.io/?EIO=4&transport=websocket&sid={sid}", timeout=10
    )
    ws.send("2probe")
    assert ws.recv() == "3probe"
    ws.send("5")
    return ws


def test_http_after_upgrade(harness: EngineHarness, port: int) -> None:
    other = handshake(port)
    sid = handshake(port)
    ws = upgrade(port, sid)
    try:
        # The upgrade is complete once a message sent over the socket is echoed over it.
        ws.send("4over-ws")
        assert ws.recv() == "4over-ws"
        for method in ("GET", "POST"):
            resp = http(port, method, f"EIO=4&transport=polling&sid={sid}", body="4x")
            assert (resp.status, error_body(resp)) == (400, "Bad request")
        # A second WebSocket for the same session is accepted and closed at once (as Node).
        resp = http(port, "GET", f"EIO=4&transport=websocket&sid={sid}", headers=ws_upgrade_headers())
        assert resp.status == 101
        ws.send("4still-on-ws")
        assert ws.recv() == "4still-on-ws"
        assert not harness.disconnected(sid)
    finally:
        ws.close()
    assert harness.wait_disconnect(sid)[0] == "transport close"
    harness.assert_alive(port, other)


def test_websocket_with_sid_but_no_upgrade_header(port: int) -> None:
    sid = handshake(port)
    resp = http(port, "GET", f"EIO=4&transport=websocket&sid={sid}")
    assert (resp.status, error_body(resp)) == (400, "Bad request")  # Node's TRANSPORT_MISMATCH
    resp = http(port, "POST", f"EIO=4&transport=websocket&sid={sid}", body="4x")
    assert (resp.status, error_body(resp)) == (400, "Bad request")


# -- methods, CORS and origins -----------------------------------------------------------------------


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS"])
def test_other_methods_with_a_sid(harness: EngineHarness, port: int, method: str) -> None:
    """A polling request with a live sid and a method other than GET/POST: a 400 (the Node
    server answers 500 from its polling transport); the session is not closed."""
    sid = handshake(port)
    resp = http(port, method, f"EIO=4&transport=polling&sid={sid}", body="4x")
    assert (resp.status, error_body(resp)) == (400, "Bad request method")
    harness.assert_alive(port, sid)


def test_options_200(port: int) -> None:
    resp = http(port, "OPTIONS", headers={"Origin": f"http://127.0.0.1:{port}",
                                          "Access-Control-Request-Headers": "x-token"})
    assert (resp.status, resp.text) == (200, "OK")
    assert resp.headers["access-control-allow-origin"] == f"http://127.0.0.1:{port}"
    assert resp.headers["access-control-allow-methods"] == "OPTIONS, GET, POST"
    assert resp.headers["access-control-allow-headers"] == "x-token"
    assert resp.headers["access-control-allow-credentials"] == "true"


def test_foreign_origin_on_polling(harness: EngineHarness, port: int) -> None:
    other = handshake(port)
    for method, query in (("GET", "EIO=4&transport=polling"), ("POST", f"EIO=4&transport=polling&sid={other}"),
                          ("OPTIONS", "EIO=4&transport=polling")):
        resp = http(port, method, query, body="4x", headers={"Origin": "http://evil.example"})
        assert (resp.status, error_body(resp)) == (400, "Not an accepted origin.")
        assert "access-control-allow-origin" not in resp.headers
    assert harness.messages == []
    # The same origin as the server is allowed by default, and echoed.
    same = f"http://127.0.0.1:{port}"
    resp = http(port, "GET", headers={"Origin": same})
    assert resp.status == 200
    assert resp.headers["access-control-allow-origin"] == same
    harness.assert_alive(port, other)


def test_foreign_origin_on_websocket_upgrade(harness: EngineHarness, port: int) -> None:
    """Cross-site WebSocket hijacking (CVE-2019-13611): the Origin check guards upgrades."""
    other = handshake(port)
    resp = http(port, "GET", "EIO=4&transport=websocket", headers=ws_upgrade_headers("http://evil.example"))
    assert (resp.status, error_body(resp)) == (400, "Not an accepted origin.")
    # ... also for the upgrade of an existing session.
    resp = http(port, "GET", f"EIO=4&transport=websocket&sid={other}",
                headers=ws_upgrade_headers("http://evil.example"))
    assert (resp.status, error_body(resp)) == (400, "Not an accepted origin.")
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        websocket.create_connection(
            f"ws://127.0.0.1:{port}/engine.io/?EIO=4&transport=websocket",
            origin="http://evil.example", timeout=10,
        )
    assert info.value.status_code == 400
    assert harness.connects == [other]
    ws = websocket.create_connection(
        f"ws://127.0.0.1:{port}/engine.io/?EIO=4&transport=websocket",
        origin=f"http://127.0.0.1:{port}", timeout=10,
    )
    try:
        assert ws.recv().startswith('0{"sid":')
    finally:
        ws.close()
    harness.assert_alive(port, other)


@pytest.mark.parametrize(
    ("setting", "good", "bad"),
    [
        (["http://a.example", "http://b.example"], "http://b.example", "http://c.example"),
        ("http://a.example", "http://a.example", "http://127.0.0.1"),
        ("*", "http://anything.example", None),
        (lambda origin: origin.endswith(".good"), "http://x.good", "http://x.bad"),
        (lambda origin, environ: environ["REQUEST_METHOD"] == "GET" and "ok" in origin, "http://ok", "http://no"),
        ([], "http://anything.example", None),
    ],
)
def test_allowed_origins(setting: Any, good: str, bad: str | None) -> None:
    h = make_harness(cors_allowed_origins=setting)
    with serve_gevent(h.app) as served:
        resp = http(served.port, "GET", headers={"Origin": good})
        assert resp.status == 200
        if setting == []:
            assert "access-control-allow-origin" not in resp.headers  # CORS handling off
        else:
            assert resp.headers["access-control-allow-origin"] == good
        ws = websocket.create_connection(
            f"ws://127.0.0.1:{served.port}/engine.io/?EIO=4&transport=websocket", origin=good, timeout=10
        )
        ws.close()
        if bad is not None:
            resp = http(served.port, "GET", headers={"Origin": bad})
            assert (resp.status, error_body(resp)) == (400, "Not an accepted origin.")
            resp = http(served.port, "GET", "EIO=4&transport=websocket", headers=ws_upgrade_headers(bad))
            assert (resp.status, error_body(resp)) == (400, "Not an accepted origin.")


def test_cors_credentials_off() -> None:
    h = make_harness(cors_allowed_origins="*", cors_credentials=False)
    with serve_gevent(h.app) as served:
        resp = http(served.port, "GET", headers={"Origin": "http://a.example"})
        assert resp.status == 200
        assert "access-control-allow-credentials" not in resp.headers


# -- successful answers: formats and options ----------------------------------------------------------


def test_handshake_and_post_answers(harness: EngineHarness, port: int) -> None:
    resp = http(port, "GET")
    assert resp.status == 200
    assert resp.headers["content-type"] == "text/plain; charset=UTF-8"
    value = json.loads(resp.text[1:])
    assert list(value) == ["sid", "upgrades", "pingTimeout", "pingInterval", "maxPayload"]
    assert value["upgrades"] == ["websocket"]
    assert (value["pingTimeout"], value["pingInterval"], value["maxPayload"]) == (20000, 25000, 1000000)
    assert len(value["sid"]) == 22
    sid = value["sid"]
    resp = post(port, sid, "4hello\x1ebAQIDBA==\x1e6\x1e5")
    assert (resp.status, resp.text) == (200, "ok")  # the spec's `ok`, lower case
    resp = poll(port, sid)
    assert (resp.status, resp.text) == (200, "4hello\x1ebAQIDBA==")
    assert harness.messages == [(sid, "hello"), (sid, b"\x01\x02\x03\x04")]


def test_no_upgrades_advertised_without_websocket() -> None:
    for options in ({"allow_upgrades": False}, {"transports": ["polling"]}):
        h = make_harness(**options)
        with serve_gevent(h.app) as served:
            resp = http(served.port, "GET")
            assert json.loads(resp.text[1:])["upgrades"] == []


def test_jsonp(harness: EngineHarness, port: int) -> None:
    """JSONP for the server's own pages (a same-origin script: issue 21 #3), served as a
    script that is never sniffed."""
    same = {"Sec-Fetch-Site": "same-origin"}
    resp = http(port, "GET", "EIO=4&transport=polling&j=3", headers=same)
    assert resp.status == 200
    assert resp.headers["content-type"].startswith("text/javascript")
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert resp.text.startswith('___eio[3]("0{') and resp.text.endswith('");')
    inner = json.loads(resp.text[len("___eio[3]("):-2])
    sid = json.loads(inner[1:])["sid"]
    resp = http(port, "POST", f"EIO=4&transport=polling&sid={sid}&j=3",
                body="d=4say%20%22hi%22%1E4two", headers={"Content-Type": "application/x-www-form-urlencoded", **same})
    assert (resp.status, resp.text) == (200, "ok")
    resp = http(port, "GET", f"EIO=4&transport=polling&sid={sid}&j=3", headers=same)
    assert resp.text == '___eio[3]("4say \\"hi\\"\\u001e4two");'


def test_connection_close_is_echoed(port: int) -> None:
    head = (f"GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Connection: close\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        status, headers, body = parse_raw(read_response(sock))
        assert status == 200 and body.startswith(b"0{")
        assert headers["connection"] == "close"
        assert sock.recv(1) == b""  # and the server did close the connection
    # Without it, the connection is kept alive for the next request.
    head = head.replace(b"Connection: close\r\n", b"")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        status, headers, _ = parse_raw(read_response(sock))
        assert status == 200 and headers.get("connection") != "close"
        sock.sendall(head)
        assert parse_raw(read_response(sock))[0] == 200


@pytest.mark.parametrize(("accept", "encoding"), [("gzip", "gzip"), ("br, deflate;q=0.5, gzip", "deflate"),
                                                  ("identity", None), ("", None)])
def test_http_compression(harness: EngineHarness, port: int, accept: str, encoding: str | None) -> None:
    sid = handshake(port)
    big = "x" * 2048
    harness.eio.send(sid, big)
    resp = poll(port, sid, headers={"Accept-Encoding": accept} if accept else {})
    assert resp.status == 200
    assert resp.headers.get("content-encoding") == encoding
    body = resp.body
    if encoding == "gzip":
        body = gzip.decompress(body)
        assert len(resp.body) < 100
    elif encoding == "deflate":
        body = zlib.decompress(body)
    assert body == b"4" + big.encode()
    assert int(resp.headers["content-length"]) == len(resp.body)
    # Below the threshold (1024 bytes by default) nothing is compressed.
    harness.eio.send(sid, "small")
    resp = poll(port, sid, headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in resp.headers
    assert resp.text == "4small"


def test_http_compression_off_and_threshold() -> None:
    for options, expected in (({"http_compression": False}, None), ({"compression_threshold": 10}, "gzip")):
        h = make_harness(**options)
        with serve_gevent(h.app) as served:
            sid = handshake(served.port)
            h.eio.send(sid, "y" * 2048 if expected is None else "y" * 20)
            resp = poll(served.port, sid, headers={"Accept-Encoding": "gzip"})
            assert resp.headers.get("content-encoding") == expected


@pytest.mark.parametrize(
    ("cookie", "expected"),
    [
        ("io", "io={sid}; path=/; SameSite=Lax"),
        ({"name": "my_cookie", "path": "/app", "SameSite": "Strict", "Secure": True, "HttpOnly": True,
          "Domain": None}, "my_cookie={sid}; path=/app; SameSite=Strict; Secure; HttpOnly"),
        ({}, "io={sid}; path=/; SameSite=Lax"),
    ],
)
def test_cookie_option(cookie: Any, expected: str) -> None:
    h = make_harness(cookie=cookie)
    with serve_gevent(h.app) as served:
        resp = http(served.port, "GET")
        sid = json.loads(resp.text[1:])["sid"]
        if cookie == {}:
            assert "set-cookie" not in resp.headers  # an empty dict is falsy: no cookie
            return
        assert resp.headers["set-cookie"] == expected.format(sid=sid)
        # Later requests of the session do not set it again.
        resp = post(served.port, sid, "4x")
        assert "set-cookie" not in resp.headers
        # A WebSocket-only session gets it on the 101 response.
        ws = websocket.create_connection(
            f"ws://127.0.0.1:{served.port}/engine.io/?EIO=4&transport=websocket", timeout=10
        )
        try:
            ws_sid = json.loads(ws.recv()[1:])["sid"]
            assert ws.getheaders()["set-cookie"] == expected.format(sid=ws_sid)
        finally:
            ws.close()


def test_no_cookie_by_default(port: int) -> None:
    assert "set-cookie" not in http(port, "GET").headers


def test_paths_outside_the_engine(port: int) -> None:
    resp = http(port, "GET", "", path="/elsewhere")
    assert (resp.status, resp.text) == (404, "Not Found")
    resp = http(port, "GET", "EIO=4&transport=polling", path="/engine.io")
    assert resp.status == 200


def test_client_close_packet_ends_the_pending_poll(harness: EngineHarness, port: int) -> None:
    """engine.io-protocol test-suite: a pending GET answers "6" when the client POSTs "1";
    the session is then gone."""
    sid = handshake(port)
    polled: list[Response] = []
    poller = threading.Thread(target=lambda: polled.append(poll(port, sid)))
    poller.start()
    wait_poll_pending(harness.eio, sid)
    resp = post(port, sid, "1")
    assert (resp.status, resp.text) == (200, "ok")
    poller.join(10)
    assert [(r.status, r.text) for r in polled] == [(200, "6")]
    assert harness.wait_disconnect(sid)[0] == "client disconnect"
    resp = poll(port, sid)
    assert (resp.status, error_body(resp)) == (400, "Session ID unknown")


def test_max_sessions() -> None:
    h = make_harness(max_sessions=1)
    with serve_gevent(h.app) as served:
        sid = handshake(served.port)
        resp = http(served.port, "GET")
        assert (resp.status, error_body(resp)) == (503, "Server at capacity")
        resp = http(served.port, "GET", "EIO=4&transport=websocket", headers=ws_upgrade_headers())
        assert (resp.status, error_body(resp)) == (503, "Server at capacity")
        h.assert_alive(served.port, sid)
        assert post(served.port, sid, "1").status == 200
        h.wait_disconnect(sid)
        assert http(served.port, "GET").status == 200  # room again


def test_concurrent_posts_close_the_session(harness: EngineHarness, port: int) -> None:
    """Spec: a second POST while one is still being read closes the session (engine.io's
    "data request overlap from client")."""
    other = handshake(port)
    sid = handshake(port)
    first = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        first.sendall(
            f"POST /engine.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\n"
            "Host: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\n4h".encode()
        )
        wait_for(lambda: getattr(harness.eio._conns.get(sid), "posting", False))
        resp = post(port, sid, "4second")
        assert (resp.status, error_body(resp)) == (400, "Bad request")
        assert_closed(harness, port, sid)
    finally:
        first.close()
    assert all(data != "second" for _, data in harness.messages)
    harness.assert_alive(port, other)


def test_pending_poll_is_released_by_the_heartbeat() -> None:
    """A long-poll waits with no timeout of its own: the heartbeat bounds it. The server's
    PING ends a pending poll; a client that then keeps a poll pending without answering has it
    released by the ping timeout (with a NOOP: the session is already gone), and its next
    request is refused."""
    harness = make_harness(ping_interval=0.3, ping_timeout=0.3)
    with serve_gevent(harness.app) as served:
        sid = handshake(served.port)
        first = poll(served.port, sid)  # nothing to send: held until the first PING
        assert (first.status, first.text) == (200, "2")
        second = poll(served.port, sid)  # no PONG was sent: released by the ping timeout
        assert (second.status, second.text) == (200, "6")
        assert harness.wait_disconnect(sid)[0] == "ping timeout"
        after = poll(served.port, sid)
        assert (after.status, error_body(after)) == (400, "Session ID unknown")
