"""TLS on our HTTP server (``socketio.run(app, certfile=..., keyfile=...)``): long-polling and
WebSocket over ``https``/``wss`` with a self-signed certificate made for the test.

A TLS socket has no raw non-blocking socket under it, so there is no takeover: the WebSocket
is read by the request's greenlet and written through the draining greenlet."""

from __future__ import annotations

import http.client
import json
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import websocket
from eio_support import EngineHarness, make_harness, serve_gevent


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    if shutil.which("openssl") is None:
        pytest.fail("openssl is needed to make the test certificate")
    folder: Path = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )
    return str(cert), str(key)


@pytest.fixture
def harness() -> EngineHarness:
    return make_harness()


@pytest.fixture
def port(harness: EngineHarness, certificate: tuple[str, str]) -> Iterator[int]:
    cert, key = certificate
    with serve_gevent(harness.app, certfile=cert, keyfile=key) as served:
        yield served.port


def _unverified() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _https(port: int, method: str, target: str, body: str | None = None) -> tuple[int, str]:
    conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=_unverified())
    try:
        conn.request(method, target, body=body)
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


def test_polling_over_tls(harness: EngineHarness, port: int) -> None:
    status, body = _https(port, "GET", "/engine.io/?EIO=4&transport=polling")
    assert status == 200 and body.startswith("0")
    sid = json.loads(body[1:])["sid"]
    assert _https(port, "POST", f"/engine.io/?EIO=4&transport=polling&sid={sid}", "4over tls") == (200, "ok")
    assert _https(port, "GET", f"/engine.io/?EIO=4&transport=polling&sid={sid}") == (200, "4over tls")


def test_websocket_over_tls(harness: EngineHarness, port: int) -> None:
    ws = websocket.create_connection(f"wss://127.0.0.1:{port}/engine.io/?EIO=4&transport=websocket",
                                     timeout=10, sslopt={"cert_reqs": ssl.CERT_NONE, "check_hostname": False})
    try:
        opened = ws.recv()
        assert isinstance(opened, str) and opened.startswith("0")
        sid = json.loads(opened[1:])["sid"]
        for i in range(50):
            ws.send(f"4message {i}")
        assert [ws.recv() for _ in range(50)] == [f"4message {i}" for i in range(50)]
    finally:
        ws.close()
    assert harness.wait_disconnect(sid)[0] == "transport close"


def test_tls_websocket_outlives_the_http_idle_timeout(certificate: tuple[str, str]) -> None:
    """Over TLS the request's greenlet reads the WebSocket with the socket's own `recv`: the
    HTTP `idle_timeout` must be lifted at the 101, or a quiet WebSocket would be cut."""
    cert, key = certificate
    harness = make_harness(ping_interval=0.5, ping_timeout=5)
    with serve_gevent(harness.app, certfile=cert, keyfile=key, idle_timeout=0.1) as served:
        ws = websocket.create_connection(
            f"wss://127.0.0.1:{served.port}/engine.io/?EIO=4&transport=websocket",
            timeout=10, sslopt={"cert_reqs": ssl.CERT_NONE, "check_hostname": False})
        try:
            assert ws.recv().startswith("0")
            assert ws.recv() == "2"  # the ping, 0.5 s later: five idle timeouts have passed
            ws.send("3")
            ws.send("4still here")
            assert ws.recv() == "4still here"
        finally:
            ws.close()
