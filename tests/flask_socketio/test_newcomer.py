"""What a newcomer installing from PyPI trips on (issue 24, item 6).

gunicorn's gevent worker imports ``packaging``, which only its ``gevent`` extra installs: the
line docs/deployment.md gives is installed into a fresh venv (pip's cache keeps this fast) and
the worker must load; a plain ``gunicorn`` beside it shows what the line prevents.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import flask
import pytest
import websocket

from flask_socketio import SocketIO
from flask_socketio.admin_ui_assets import PACKAGE, VERSION, AssetError, download
from socketio_core.features import admin
from tests.conftest import serve_gevent
from tests.flask_socketio.conftest import REPO

LOAD_WORKER = "from gunicorn.workers.ggevent import GeventWorker; print(GeventWorker.__name__)"


def documented_gunicorn_install() -> str:
    """The requirement of the ``pip install ...gunicorn...`` line in docs/deployment.md."""
    text = (Path(REPO) / "docs" / "deployment.md").read_text(encoding="utf-8")
    found = re.findall(r"^pip install '?(gunicorn[^'\s]*)'?$", text, re.MULTILINE)
    assert len(found) == 1, found
    return found[0]


def fresh_venv_with(path: Path, *requirements: str) -> subprocess.CompletedProcess[str]:
    """A venv without the system's packages, `requirements` installed by this pip; then the
    gevent worker loaded in it."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, timeout=120)
    python = path / "bin" / "python"
    proc = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                           "--disable-pip-version-check", *requirements],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return subprocess.run([str(python), "-c", LOAD_WORKER], capture_output=True, text=True, timeout=60)


def test_the_documented_gunicorn_line_loads_the_gevent_worker(tmp_path: Path) -> None:
    requirement = documented_gunicorn_install()
    assert requirement == "gunicorn[gevent]"
    loaded = fresh_venv_with(tmp_path / "documented", requirement)
    assert (loaded.returncode, loaded.stdout.strip()) == (0, "GeventWorker"), loaded.stderr[-2000:]


def test_plain_gunicorn_cannot_load_the_gevent_worker(tmp_path: Path) -> None:
    """Why the documentation names the extra (what a newcomer met: gevent is there, as our
    package requires it, and `pip install gunicorn` adds no `packaging`)."""
    loaded = fresh_venv_with(tmp_path / "plain", "gunicorn", "gevent")
    assert loaded.returncode != 0
    assert "No module named 'packaging'" in loaded.stderr, loaded.stderr[-2000:]


# -- the Admin UI's files without Node: python -m flask_socketio.admin_ui_assets download -----------
def _tarball(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


UI_FILES = {
    "package/package.json": b'{"name": "@socket.io/admin-ui"}',
    "package/ui/dist/index.html": b"<!doctype html><title>Socket.IO Admin UI</title>",
    "package/ui/dist/js/app.js": b"console.log('admin')",
    "package/dist/index.js": b"module.exports = {}",  # the server half: not taken
}


def _sri(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


@contextmanager
def fake_registry(tarball: bytes, integrity: str) -> Iterator[str]:
    """An npm registry on 127.0.0.1: the package's metadata (as npm's abbreviated document)
    naming a tarball it also serves. Yields the registry URL."""
    routes: dict[str, tuple[str, bytes]] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            content_type, body = routes.get(self.path, ("text/plain", b""))
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    meta = {"name": PACKAGE, "dist-tags": {"latest": "9.9.9"}, "versions": {
        version: {"version": version, "dist": {"tarball": f"{url}admin-ui-{version}.tgz", "integrity": integrity}}
        for version in (VERSION, "9.9.9")}}
    routes["/@socket.io%2Fadmin-ui"] = ("application/json", json.dumps(meta).encode())
    for version in (VERSION, "9.9.9"):
        routes[f"/admin-ui-{version}.tgz"] = ("application/octet-stream", tarball)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def run_download(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "flask_socketio.admin_ui_assets", "download", *args],
                          capture_output=True, text=True, timeout=120, cwd=REPO)


def test_download_verifies_and_unpacks_the_ui(tmp_path: Path) -> None:
    tarball = _tarball(UI_FILES)
    with fake_registry(tarball, _sri(tarball)) as registry:
        proc = run_download(str(tmp_path / "ui-files"), "--registry", registry)
    assert proc.returncode == 0, proc.stderr
    dist = tmp_path / "ui-files" / "ui" / "dist"
    assert proc.stdout.strip() == str(dist)
    files = sorted(str(p.relative_to(dist)) for p in dist.rglob("*") if p.is_file())
    assert files == ["index.html", os.path.join("js", "app.js")]
    assert (dist / "index.html").read_bytes() == UI_FILES["package/ui/dist/index.html"]
    assert sorted(p.name for p in (tmp_path / "ui-files").iterdir()) == ["ui"]  # no staging left


def test_a_wrong_hash_installs_nothing(tmp_path: Path) -> None:
    tarball = _tarball(UI_FILES)
    wrong = _sri(tarball + b"tampered")
    with fake_registry(tarball, wrong) as registry:
        proc = run_download(str(tmp_path / "ui-files"), "--registry", registry)
    assert proc.returncode == 1
    assert "integrity check failed" in proc.stderr and wrong[len("sha512-"):] in proc.stderr
    assert not (tmp_path / "ui-files" / "ui").exists()


def test_an_escaping_path_in_the_tarball_is_refused(tmp_path: Path) -> None:
    tarball = _tarball({**UI_FILES, "package/ui/dist/../../../../escaped.txt": b"x"})
    with fake_registry(tarball, _sri(tarball)) as registry:
        with pytest.raises(AssetError, match="unsafe path"):
            download(str(tmp_path / "ui-files"), registry=registry)
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "ui-files" / "ui").exists()


def test_the_default_directory_is_where_ui_path_looks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Downloaded without a DIR, the files land in the cache that `default_ui_dir` searches
    after node_modules (hidden here, as a pip user has none); a dist-tag picks its version."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(admin, "_UI_DIST", os.path.join("no-node-modules-here", "ui", "dist"))
    assert admin.default_ui_dir() is None
    tarball = _tarball(UI_FILES)
    with fake_registry(tarball, _sri(tarball)) as registry:
        monkeypatch.setenv("npm_config_registry", registry)
        dist = download(version="latest")
    assert dist == str(tmp_path / "cache" / "flask-socketio-ng" / "admin-ui" / "ui" / "dist")
    assert admin.default_ui_dir() == dist


# -- an ack with a null: what socket.io-client's retry tests expect of cb(null) -------------------
def test_none_acks_with_no_value_and_a_one_tuple_acks_with_null() -> None:
    """A handler's None acknowledges with no value (``30[]``, as the reference); Node's
    ``cb(null)`` is ``return (None,)`` (``30[null]``). socket.io-client's retry queue takes a
    first ack value that is not null as an error, so a twin of Node's echo must return a tuple."""
    app = flask.Flask(__name__)
    socketio = SocketIO(app)

    @socketio.on("as_none")
    def as_none(arg: Any) -> None:
        return None

    @socketio.on("as_tuple")
    def as_tuple(arg: Any) -> tuple[Any]:
        return (arg,)

    with serve_gevent(app) as served:
        ws = websocket.create_connection(f"ws://127.0.0.1:{served.port}/socket.io/?EIO=4&transport=websocket",
                                         timeout=10)
        try:
            assert ws.recv().startswith("0{")
            ws.send("40")
            assert ws.recv().startswith("40{")
            ws.send('421["as_none",null]')
            assert ws.recv() == "431[]"
            ws.send('422["as_tuple",null]')
            assert ws.recv() == "432[null]"
        finally:
            ws.close()


def test_a_checkouts_node_modules_is_found_from_any_directory(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The source checkout's node_modules is found wherever the app runs (the module moved to
    socketio_core/features/ one level deeper; the checkout is three levels up)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty-cache"))
    assert admin.default_ui_dir() == os.path.join(REPO, "node_modules", "@socket.io", "admin-ui", "ui", "dist")
