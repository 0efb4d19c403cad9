"""Security defaults: what a user gets without configuring anything.

* CORS is same-origin by default (CVE-2020-28481), and the Origin check guards WebSocket
  upgrades too (cross-site WebSocket hijacking, CVE-2019-13611), on the users' stack.
* Engine.IO session ids (the bearer token of a polling session) come from the OS CSPRNG and
  carry 128 bits; Socket.IO sids come from the CSPRNG too.
* No ``pickle`` anywhere in our packages (CVE-2025-61765: the message queue is JSON only), and
  none of the reference stack's packages (python-socketio, python-engineio, simple-websocket,
  gevent-websocket) is imported at runtime, even though they are installed for interop tests.
* Static files cannot escape their folder (``..``, encoded dots, absolute paths, symlinks, NUL).
* Every size limit is on by default, with the values docs/security.md documents.
"""

from __future__ import annotations

import ast
import base64
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest
from hard_support import ROOT, RawWS, SioEnv, flask_env, handshake, http, serve_gevent

import engineio_core
from engineio_core.config import EngineConfig

PACKAGES = ("engineio_core", "socketio_core", "flask_socketio")
EVIL = "http://evil.example"


@pytest.fixture(scope="module")
def env() -> Iterator[SioEnv]:
    with flask_env() as e:  # default options: no cors_allowed_origins
        yield e


# -- CORS and Origin --------------------------------------------------------------------------------


def own_origin(env: SioEnv) -> str:
    return f"http://127.0.0.1:{env.port}"


@pytest.mark.parametrize("origin", [EVIL, "null", "http://127.0.0.1", "https://127.0.0.1:{port}",
                                    "http://127.0.0.1:{port}.evil.example", "http://localhost:{port}"])
def test_foreign_origins_are_refused_by_default(env: SioEnv, origin: str) -> None:
    origin = origin.format(port=env.port)
    resp = http(env.port, "GET", "/socket.io/?EIO=4&transport=polling", headers={"Origin": origin})
    assert (resp.status, resp.error()) == (400, "Not an accepted origin.")
    assert "access-control-allow-origin" not in resp.headers
    env.assert_served()


def test_same_origin_is_allowed_and_echoed_never_star(env: SioEnv) -> None:
    resp = http(env.port, "GET", "/socket.io/?EIO=4&transport=polling", headers={"Origin": own_origin(env)})
    assert resp.status == 200 and resp.text.startswith('0{"sid":')
    assert resp.headers["access-control-allow-origin"] == own_origin(env)
    # No Origin at all (a non-browser client): nothing cross-site to check.
    assert http(env.port, "GET", "/socket.io/?EIO=4&transport=polling").status == 200


def test_cswsh_websocket_with_a_foreign_origin_is_refused(env: SioEnv) -> None:
    """CVE-2019-13611: a page on another site opening a WebSocket to us (with the user's
    cookies) gets a 400, never a 101 — both a new WebSocket and the upgrade of a session."""
    ws = RawWS(env.port, headers={"Origin": EVIL})
    assert (ws.status, ws.response.error()) == (400, "Not an accepted origin.")
    ws.close()
    sid = handshake(env.port)
    ws = RawWS(env.port, query=f"EIO=4&transport=websocket&sid={sid}", headers={"Origin": EVIL})
    assert (ws.status, ws.response.error()) == (400, "Not an accepted origin.")
    ws.close()
    resp = http(env.port, "POST", f"/socket.io/?EIO=4&transport=polling&sid={sid}", body="40",
                headers={"Origin": EVIL})
    assert (resp.status, resp.error()) == (400, "Not an accepted origin.")
    good = RawWS(env.port, headers={"Origin": own_origin(env)})
    assert good.status == 101
    good.sio_connect()
    good.close()
    env.assert_served()


def test_proxy_headers_name_the_public_origin(env: SioEnv) -> None:
    """Behind a proxy the public origin is built from X-Forwarded-Proto/-Host (first values);
    a browser cannot set those on a WebSocket, so they do not open a hijacking path."""
    headers = {"Origin": "https://chat.example", "X-Forwarded-Proto": "https, http",
               "X-Forwarded-Host": "chat.example, internal"}
    assert http(env.port, "GET", "/socket.io/?EIO=4&transport=polling", headers=headers).status == 200
    headers["Origin"] = "https://internal"
    assert http(env.port, "GET", "/socket.io/?EIO=4&transport=polling", headers=headers).status == 400


def test_wildcard_setting_still_echoes_the_origin() -> None:
    with flask_env(bystander=False, cors_allowed_origins="*") as env:
        resp = http(env.port, "GET", "/socket.io/?EIO=4&transport=polling", headers={"Origin": EVIL})
        assert resp.status == 200
        assert resp.headers["access-control-allow-origin"] == EVIL  # never a literal "*"


# -- session ids --------------------------------------------------------------------------------------

URLSAFE = re.compile(r"^[A-Za-z0-9_-]+$")


def bit_balance(ids: list[str], nbytes: int) -> tuple[float, float]:
    """The lowest and highest frequency of a 1 at each bit position over `ids`."""
    counts = [0] * (nbytes * 8)
    for sid in ids:
        raw = base64.urlsafe_b64decode(sid + "=" * (-len(sid) % 4))
        assert len(raw) == nbytes
        value = int.from_bytes(raw, "big")
        for bit in range(nbytes * 8):
            counts[bit] += (value >> bit) & 1
    return min(counts) / len(ids), max(counts) / len(ids)


def test_engine_sids_are_128_bit_csprng_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    eio = engineio_core.EngineServer()
    sids = [eio.generate_id() for _ in range(20_000)]
    assert len(set(sids)) == len(sids)
    assert all(len(s) == 22 and URLSAFE.match(s) for s in sids)
    low, high = bit_balance(sids, 16)  # 128 bits, each a fair coin (20 000 draws: sd 0.0035)
    assert 0.45 < low and high < 0.55, (low, high)
    # ...drawn from `secrets` (the OS CSPRNG), not from `random` (engineio_core.cluster.tags
    # makes them, with a worker's tag in front under workers=N).
    import engineio_core.cluster.tags as tags_module

    calls: list[int] = []
    real = tags_module.secrets.token_urlsafe
    monkeypatch.setattr(tags_module.secrets, "token_urlsafe", lambda n: calls.append(n) or real(n))
    eio.generate_id()
    assert calls == [16]


def test_sids_on_the_wire(env: SioEnv) -> None:
    """What clients actually get: 200 handshakes, all distinct 128-bit ids; Socket.IO sids
    are CSPRNG tokens too (120 bits: they name a client, they are not a credential — every
    request is authorised by its Engine.IO sid)."""
    eio_sids = [handshake(env.port) for _ in range(200)]
    assert len(set(eio_sids)) == 200
    assert all(len(s) == 22 and URLSAFE.match(s) for s in eio_sids)
    sio_sids = set()
    for _ in range(50):
        ws = RawWS(env.port)
        sio_sids.add(ws.sio_connect())
        ws.close()
    assert len(sio_sids) == 50
    assert all(len(s) >= 20 and URLSAFE.match(s) for s in sio_sids)
    import socketio_core.server.manager as manager_module

    assert "secrets.token_urlsafe(" in open(manager_module.__file__).read()


# -- no pickle; no reference stack at runtime -----------------------------------------------------------


def python_files() -> list[str]:
    out = []
    for package in PACKAGES:
        for folder, _, files in os.walk(os.path.join(ROOT, package)):
            out += [os.path.join(folder, f) for f in files if f.endswith(".py")]
    assert len(out) > 20
    return out


BANNED = {"pickle", "cPickle", "_pickle", "dill", "shelve", "marshal", "cloudpickle",
          "socketio", "engineio", "simple_websocket", "geventwebsocket", "eventlet"}
# eventlet is an optional extra since issue 25: only its driver and its server import it.
EVENTLET_MODULES = {os.path.join("engineio_core", "drivers", "eventlet_driver.py"),
                    os.path.join("engineio_core", "eventlet_serving.py")}


def test_no_pickle_and_no_reference_stack_in_the_source() -> None:
    """CVE-2025-61765: nothing in our packages can unpickle (imports and dynamic imports)."""
    found = []
    for path in python_files():
        source = open(path, encoding="utf-8").read()
        for node in ast.walk(ast.parse(source, path)):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                    "__import__", "import_module") and node.args and isinstance(node.args[0], ast.Constant):
                names = [str(node.args[0].value)]
            if os.path.relpath(path, ROOT) in EVENTLET_MODULES:
                names = [n for n in names if n.split(".")[0] != "eventlet"]
            found += [f"{path}:{node.lineno} {n}" for n in names if n.split(".")[0] in BANNED]
        if re.search(r"\bpickle\.(loads?|dumps?|Unpickler)\b", source):
            found.append(f"{path}: uses pickle")
    assert found == []


RUNTIME_PROBE = r"""
import json, sys
import flask
import gevent
import gevent.socket
import flask_socketio
from engineio_core.serving import make_server

app = flask.Flask("probe")
sio = flask_socketio.SocketIO(app, async_mode="gevent")

@sio.on("echo")
def echo(data):
    return data

client = sio.test_client(app)
assert client.emit("echo", {"x": 1}, callback=True) == {"x": 1}
server = make_server(app, "127.0.0.1", 0)
server.start()
s = gevent.socket.create_connection(("127.0.0.1", server.server_port), timeout=10)
s.sendall(b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
data = b""
while chunk := s.recv(65536):
    data += chunk
assert b'0{"sid":' in data, data
print(json.dumps(sorted(sys.modules)))
"""


def test_reference_packages_are_never_imported_at_runtime() -> None:
    proc = subprocess.run([sys.executable, "-c", RUNTIME_PROBE], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    modules = set(json.loads(proc.stdout.strip().splitlines()[-1]))
    assert "flask_socketio" in modules and "engineio_core" in modules
    reference = {m for m in modules if m.split(".")[0] in
                 ("socketio", "engineio", "simple_websocket", "geventwebsocket", "eventlet")}
    assert reference == set()
    # pickle itself is loaded by Jinja2's bytecode cache (a Flask dependency), never by us:
    # see test_no_pickle_and_no_reference_stack_in_the_source.


# -- static files ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def static_port() -> Iterator[int]:
    root = tempfile.mkdtemp(prefix="hardening-static-")
    public = os.path.join(root, "public")
    os.makedirs(os.path.join(public, "sub"))
    with open(os.path.join(root, "secret.txt"), "w") as fh:
        fh.write("TOP SECRET")
    with open(os.path.join(public, "ok.txt"), "w") as fh:
        fh.write("public text")
    with open(os.path.join(public, "index.html"), "w") as fh:
        fh.write("<p>index</p>")
    with open(os.path.join(public, "sub", "index.html"), "w") as fh:
        fh.write("<p>sub</p>")
    os.symlink(os.path.join(root, "secret.txt"), os.path.join(public, "link.txt"))
    os.symlink(root, os.path.join(public, "dirlink"))
    os.symlink(os.path.join(public, "ok.txt"), os.path.join(public, "inner-link.txt"))
    eio = engineio_core.EngineServer(logger=logging.getLogger("hardening.static"))
    app = engineio_core.WSGIApp(eio, static_files={"/static": public, "/": os.path.join(public, "index.html"),
                                                   "/files": {"filename": public, "content_type": "text/x-test"}})
    with serve_gevent(app) as served:
        yield served.port


@pytest.mark.parametrize("target", [
    "/static/../secret.txt", "/static/%2e%2e/secret.txt", "/static/%2E%2E%2Fsecret.txt", "/static/..%2fsecret.txt",
    "/static/....//secret.txt", "/static/sub/../../secret.txt", "/static/%2e%2e%5csecret.txt", "/static/..\\secret.txt",
    "/static//etc/passwd", "/static/%2Fetc%2Fpasswd", "/static/link.txt", "/static/dirlink/secret.txt",
    "/static/%00", "/static/ok.txt%00.png", "/static/%C0%AE%C0%AE/secret.txt", "/static/" + "x" * 4000,
    "/files/../secret.txt", "/files/dirlink/public/../secret.txt", "/../secret.txt", "/%2e%2e/secret.txt",
])
def test_static_files_cannot_escape_their_folder(static_port: int, target: str) -> None:
    resp = http(static_port, "GET", target)
    assert resp.status in (400, 404), (resp.status, resp.body[:100])
    assert b"TOP SECRET" not in resp.body


def test_absolute_form_request_target_stays_in_the_folder(static_port: int) -> None:
    resp = http(static_port, raw_head=b"GET http://127.0.0.1/static/../secret.txt HTTP/1.1\r\nHost: x\r\n\r\n")
    assert resp.status in (400, 404) and b"TOP SECRET" not in resp.body


@pytest.mark.parametrize(("target", "body", "ctype"), [
    ("/static/ok.txt", b"public text", "text/plain"),
    ("/static/inner-link.txt", b"public text", "text/plain"),  # a symlink that stays inside
    ("/static/sub/", b"<p>sub</p>", "text/html"),
    ("/", b"<p>index</p>", "text/html"),
    ("/files/ok.txt", b"public text", "text/x-test"),
])
def test_static_files_inside_are_served(static_port: int, target: str, body: bytes, ctype: str) -> None:
    resp = http(static_port, "GET", target)
    assert (resp.status, resp.body) == (200, body)
    assert resp.headers["content-type"] == ctype
    assert resp.headers["x-content-type-options"] == "nosniff"  # issue 21 #3


# -- size limits on by default, as documented -------------------------------------------------------------


def documented_limits() -> dict[str, str]:
    """The `| name | default |` rows of the "Limits" table in docs/security.md."""
    text = open(os.path.join(ROOT, "docs", "security.md"), encoding="utf-8").read()
    section = text.split("## Limits", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = cells[1].strip("`").replace(" ", "").replace("_", "")
    return rows


def actual_limits() -> dict[str, Any]:
    from engineio_core import handshake, session
    from engineio_core import server as engine_server
    from engineio_core.drivers import gevent_driver
    from socketio_core.protocol import codec, packets
    from socketio_core.server import pubsub, server

    cfg = EngineConfig()
    sio = server.SocketServer(async_mode="threading")
    return {
        "max_http_buffer_size": cfg.max_http_buffer_size,
        "max_outbox_bytes": cfg.max_outbox_bytes,
        "max_outbox_messages": cfg.max_outbox_messages,
        "max_decode_packets": cfg.max_decode_packets,
        "max_sessions": cfg.max_sessions,
        "ping_interval": cfg.ping_interval,
        "ping_timeout": cfg.ping_timeout,
        "websocket_compression": cfg.websocket_compression,
        "cors_allowed_origins": cfg.cors_allowed_origins,
        "connect_timeout": sio.connect_timeout,
        "max_attachments": codec.JSONCodec().max_attachments,
        "MAX_ACK_ID": packets.MAX_ACK_ID,
        "MAX_HELD_MESSAGES": server.MAX_HELD_MESSAGES,
        "MAX_SID_LENGTH": handshake.MAX_SID_LENGTH,
        "CLOSING_GRACE": session.CLOSING_GRACE,
        "FLUSH_GRACE": gevent_driver.FLUSH_GRACE,
        "high_water_mark": cfg.high_water_mark,
        "low_water_mark": cfg.low_water_mark,
        "stall_timeout": cfg.stall_timeout,
        "stall_patience": cfg.stall_patience,
        "max_unwaited_bytes": cfg.max_unwaited_bytes,
        "MAX_INBOX": pubsub.MAX_INBOX,
        "THREAD_WINDOW": engine_server.THREAD_WINDOW,
        "CORK_LIMIT": gevent_driver.CORK_LIMIT,
        "MAX_PUBLISH_BACKLOG": pubsub.MAX_PUBLISH_BACKLOG,
        "MAX_QUEUE_MESSAGE_BYTES": pubsub.MAX_QUEUE_MESSAGE_BYTES,
        **recovery_limits(),
    }


def recovery_limits() -> dict[str, Any]:
    """The connection state recovery bounds (issue 21), on whenever recovery is."""
    from socketio_core.features.recovery_store import RecoveryOptions

    options = RecoveryOptions()
    return {name: getattr(options, name) for name in (
        "max_buffered_packets", "max_buffered_bytes", "max_total_buffered_bytes", "max_parked_sessions",
        "max_parked_bytes", "max_session_bytes")}


def test_every_limit_is_on_by_default_with_its_documented_value() -> None:
    documented = documented_limits()
    actual = actual_limits()
    assert set(actual) <= set(documented), f"undocumented: {set(actual) - set(documented)}"
    for name, value in actual.items():
        assert documented[name] == str(value), (
            name, documented[name], value)
    # "On": every bound is finite and positive, except the two documented as bounded by
    # something else (max_decode_packets by max_http_buffer_size, max_sessions by the
    # file-descriptor limit).
    for name, value in actual.items():
        if name in ("max_decode_packets", "max_sessions", "websocket_compression", "cors_allowed_origins"):
            continue
        assert value > 0, name


def test_flask_socketio_passes_the_defaults_through(env: SioEnv) -> None:
    cfg = env.sio.eio.config
    assert (cfg.max_http_buffer_size, cfg.max_outbox_bytes, cfg.max_outbox_messages) == (
        1_000_000, 16 * 1024 * 1024, 10_000)
    assert cfg.cors_allowed_origins is None and env.sio.connect_timeout == 45
