"""The seams between the server and its features, read from the source with `ast`.

Features (socketio_core/features/) and brokers (socketio_core/brokers/) use the server, the
engine, the manager and each other through public, typed names only (server/hooks.py,
server/pipeline.py): none reads a private name (``_x``) of an object other than itself, and
none holds the server as `Any`. The server plugs its features in through hooks: it imports
none of them and tests none of them by name.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SEAMED = sorted([*(ROOT / "socketio_core" / "features").glob("*.py"), *(ROOT / "socketio_core" / "brokers").glob("*.py")])
SERVER = ROOT / "socketio_core" / "server" / "server.py"


def private_reads(source: str) -> list[str]:
    """``obj._name`` where obj is not ``self``/``cls`` (dunders and ``_``-prefixed locals'
    own attributes excepted: a module's private helpers are called by plain name)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Attribute):
            continue
        name = node.attr
        if not name.startswith("_") or (name.startswith("__") and name.endswith("__")):
            continue
        owner = node.value
        if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
            continue
        found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


def any_servers(source: str) -> list[str]:
    """Parameters or attributes named ``server`` annotated `Any`, and ``SocketServer = Any``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.arg) and node.arg == "server" and node.annotation is not None:
            if ast.unparse(node.annotation) in ("Any", "object"):
                found.append(f"line {node.lineno}: parameter server: {ast.unparse(node.annotation)}")
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "SocketServer" for t in node.targets):
            found.append(f"line {node.lineno}: SocketServer = {ast.unparse(node.value)}")
    return found


def test_the_checks_see_what_they_look_for() -> None:
    assert private_reads("server._lock\nself._ok\nx.__class__\nself.server._held[1]") == [
        "line 1: server._lock", "line 4: self.server._held"]
    assert sorted(any_servers("def f(server: Any): ...\nSocketServer = Any\ndef g(server: SocketServer): ...")) == [
        "line 1: parameter server: Any", "line 2: SocketServer = Any"]


@pytest.mark.parametrize("path", SEAMED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_feature_or_broker_reads_another_objects_private_names(path: Path) -> None:
    assert private_reads(path.read_text()) == []


@pytest.mark.parametrize("path", SEAMED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_feature_holds_the_server_as_any(path: Path) -> None:
    assert any_servers(path.read_text()) == []


def test_the_server_imports_no_feature_and_tests_none_by_name() -> None:
    tree = ast.parse(SERVER.read_text())
    imports = [ast.unparse(n) for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert [i for i in imports if "features" in i] == []
    branches = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.If, ast.IfExp, ast.BoolOp, ast.Compare)):
            for sub in ast.walk(node):
                if isinstance(sub, ast.Attribute) and sub.attr in ("admin", "recovery", "cluster"):
                    branches.append(f"line {node.lineno}: {ast.unparse(sub)}")
    assert branches == []
