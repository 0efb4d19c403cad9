"""Worker tags in session ids (pure) and the hand-over of connections between workers
(engineio_core/cluster): two servers of one process stand for two workers, with their Unix
sockets in one directory; a raw HTTP/1.1 client checks which one answers each request."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from engineio_core.cluster import tags
from engineio_core.cluster.tags import new_sid, set_worker_tag, sid_tag


@pytest.fixture
def tagged() -> Iterator[Callable[[str], None]]:
    yield set_worker_tag
    set_worker_tag("")


def test_a_sid_names_its_worker_and_stays_unguessable(tagged: Callable[[str], None]) -> None:
    assert "." not in new_sid() and len(new_sid()) == 22  # one process: as before
    tagged("3")
    sids = {new_sid() for _ in range(1000)}
    assert len(sids) == 1000
    for sid in sids:
        tag, token = sid.split(".")
        assert tag == "3" and len(token) == 22  # 128 random bits, base64url
        assert re.fullmatch(r"[A-Za-z0-9_-]+", token)
    assert tags.worker_tag() == "3"
    with pytest.raises(ValueError):
        tagged("a.b")


@pytest.mark.parametrize(("target", "tag"), [
    ("/socket.io/?EIO=4&transport=polling&sid=2.abc", "2"),
    ("/socket.io/?sid=11.x-y_z&EIO=4", "11"),
    ("/socket.io/?EIO=4&transport=polling", None),  # a handshake: any worker
    ("/socket.io/?EIO=4&sid=abcdef", None),  # no tag (one process)
    ("/socket.io/?EIO=4&xsid=2.abc", None),  # another parameter
    ("/socket.io/?sid=&x=2.a", None),
    ("/socket.io/?sid=2&x=.a", None),  # the dot is not in the sid
    ("/socket.io/?sid=a%2Eb.c", None),  # a tag is letters and digits
    ("/sid=2.abc", None),  # not in the query
])
def test_sid_tag_reads_the_tag_of_the_sid_parameter(target: str, tag: str | None) -> None:
    assert sid_tag(target) == tag


class Workers:
    """Two HTTP servers with routers "0" and "1" on one hub, in a thread."""

    def __init__(self, directory: Path, loads: Any = None) -> None:
        self.directory = directory
        self.loads = loads
        self.ready = threading.Event()
        self.box: dict[str, Any] = {}
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.ready.wait(10)

    def _run(self) -> None:
        import gevent
        import gevent.event

        from engineio_core.cluster.router import Router
        from engineio_core.serving import make_server

        servers = []
        for tag in ("0", "1"):
            def app(environ: dict[str, Any], start_response: Any, tag: str = tag) -> list[bytes]:
                body = environ["wsgi.input"].read()
                start_response("200 OK", [("Content-Type", "text/plain")])
                return [f"{tag} {environ['QUERY_STRING']} {body.decode()}".encode()]

            server = make_server(app, "127.0.0.1", 0)
            server.start()
            router = Router(str(self.directory), tag, loads=self.loads, slot=int(tag), count=2)
            server.router = router
            router.start(server)
            servers.append((server, router))
        self.box.update(servers=servers, hub=gevent.get_hub(), stop=gevent.event.Event())
        self.ready.set()
        self.box["stop"].wait()
        for server, router in servers:
            router.close()
            server.stop(timeout=1)

    def port(self, index: int) -> int:
        return int(self.box["servers"][index][0].server_port)

    def router(self, index: int) -> Any:
        return self.box["servers"][index][1]

    def close(self) -> None:
        self.box["hub"].loop.run_callback_threadsafe(self.box["stop"].set)
        self.thread.join(5)


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    served = Workers(tmp_path)
    try:
        yield served
    finally:
        served.close()


def exchange(sock: socket.socket, request: bytes) -> bytes:
    """Send one request, read one Content-Length response (its body)."""
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, "connection closed"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"Content-Length: (\d+)", head).group(1))  # type: ignore[union-attr]
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk
        body += chunk
    return body


def test_a_keep_alive_connection_moves_to_the_worker_of_each_request(workers: Workers) -> None:
    with socket.create_connection(("127.0.0.1", workers.port(0)), timeout=10) as sock:
        assert exchange(sock, b"GET /a?sid=1.x HTTP/1.1\r\nHost: h\r\n\r\n") == b"1 sid=1.x "
        assert exchange(sock, b"GET /a?sid=0.y HTTP/1.1\r\nHost: h\r\n\r\n") == b"0 sid=0.y "
        assert exchange(sock, b"GET /a?n=1 HTTP/1.1\r\nHost: h\r\n\r\n") == b"0 n=1 "  # stays where it is
        body = b"4:abcd" * 2000
        request = b"POST /a?sid=1.z HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        assert exchange(sock, request) == b"1 sid=1.z " + body  # the body's start was read already
        assert exchange(sock, b"GET /a?sid=1.z HTTP/1.1\r\nHost: h\r\n\r\n") == b"1 sid=1.z "
        # Two requests in one packet: the second travels with the first.
        sock.sendall(b"GET /a?sid=0.p HTTP/1.1\r\nHost: h\r\n\r\nGET /a?sid=0.q HTTP/1.1\r\nHost: h\r\n\r\n")
        data = b""
        while data.count(b"HTTP/1.1 200") < 2 or not data.endswith(b"0 sid=0.q "):
            data += sock.recv(65536)
        assert b"0 sid=0.p " in data
    assert workers.router(1).handed_over >= 1 and workers.router(0).handed_over >= 2


def test_a_request_for_a_missing_worker_is_served_where_it_is(workers: Workers) -> None:
    with socket.create_connection(("127.0.0.1", workers.port(1)), timeout=10) as sock:
        assert exchange(sock, b"GET /a?sid=7.x HTTP/1.1\r\nHost: h\r\n\r\n") == b"1 sid=7.x "


def test_worker_count_reads_auto_and_refuses_nonsense() -> None:
    import os

    from engineio_core.cluster.supervisor import worker_count

    assert worker_count(None) == 1
    assert worker_count(3) == 3
    assert worker_count("auto") == len(os.sched_getaffinity(0))
    for bad in (0, -2, "4", 2.5, True):
        with pytest.raises(ValueError):
            worker_count(bad)  # type: ignore[arg-type]


def test_workers_refuse_tls_before_binding_anything() -> None:
    from engineio_core.cluster.workers import serve_workers

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        return []

    with pytest.raises(ValueError, match="TLS"):
        serve_workers(app, "127.0.0.1", 0, 2, certfile="cert.pem", keyfile="key.pem")


def test_run_with_workers_needs_the_gevent_server_and_no_reloader() -> None:
    from flask import Flask

    from flask_socketio import SocketIO

    app = Flask(__name__)
    threaded = SocketIO(app, async_mode="threading")
    with pytest.raises(ValueError, match="gevent"):
        threaded.run(app, port=0, workers=2, allow_unsafe_werkzeug=True)
    app2 = Flask(__name__)
    with pytest.raises(ValueError, match="reloader"):
        SocketIO(app2).run(app2, port=0, workers=2, use_reloader=True)


def test_handshakes_go_to_the_worker_that_kept_the_fewest(tmp_path: Path) -> None:
    import mmap

    served = Workers(tmp_path, mmap.mmap(-1, 16))
    try:
        answers = []
        for _ in range(8):  # every handshake reaches worker 0 first
            with socket.create_connection(("127.0.0.1", served.port(0)), timeout=10) as sock:
                answers.append(exchange(sock, b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: h\r\n\r\n"))
        kept = [a.split(b" ")[0] for a in answers]
        # worker 0 keeps a handshake unless it is more than one ahead: then worker 1 gets it
        assert kept == [b"0", b"0", b"1", b"0", b"1", b"0", b"1", b"0"], kept
        # A request with a session, or no Engine.IO request at all, is never balanced.
        with socket.create_connection(("127.0.0.1", served.port(0)), timeout=10) as sock:
            assert exchange(sock, b"GET /other HTTP/1.1\r\nHost: h\r\n\r\n").startswith(b"0 ")
            assert exchange(sock, b"GET /socket.io/?EIO=4&sid=0.a HTTP/1.1\r\nHost: h\r\n\r\n").startswith(b"0 ")
    finally:
        served.close()
