"""The shape of socketio_core: no import cycle between its modules, a package that loads no I/O
library on import, and a client-manager interface that the server uses without probing.

The import graph is read from the source with `ast` (every import counts: module level, inside
functions, and under ``if TYPE_CHECKING``), so a cycle hidden from the interpreter by a lazy or
type-only import still fails here.
"""

from __future__ import annotations

import ast
import fnmatch
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

from socketio_core.server.manager import ClientManager, LocalManager
from socketio_core.server.pubsub import PubSubManager
from socketio_core.server.server import SocketServer

PACKAGE = "socketio_core"
ROOT = Path(__file__).resolve().parents[2]


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported_modules(path: Path, modules: set[str]) -> set[str]:
    """The modules of the package that `path` imports, resolved to names in `modules`."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            # `from . import x` / `from .pkg import mod` may name a submodule.
            targets = [stem] + [f"{stem}.{alias.name}" for alias in node.names]
        for target in targets:
            # `import a.b.c` loads a, a.b and a.b.c; the package's own __init__ is where
            # everything starts, so an edge to it is not a cycle between modules.
            if target in modules and target != PACKAGE:
                found.add(target)
    found.discard(name)
    return found


def import_graph() -> dict[str, set[str]]:
    files = sorted((ROOT / PACKAGE).rglob("*.py"))
    modules = {_module_name(f) for f in files}
    return {_module_name(f): _imported_modules(f, modules) for f in files}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a path (first node repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_the_graph_sees_relative_and_type_only_imports() -> None:
    graph = import_graph()
    # from ..protocol.rooms import ...
    assert "socketio_core.protocol.rooms" in graph["socketio_core.server.manager"]
    assert "socketio_core.server.manager" in graph["socketio_core.server.server"]  # from .manager
    assert "socketio_core.protocol" in graph["socketio_core.server.server"]  # from ..protocol import x


def test_socketio_core_has_no_import_cycle() -> None:
    assert find_cycle(import_graph()) is None


def test_importing_the_package_loads_no_io_library() -> None:
    """``import socketio_core`` is pure; the server and the pub/sub manager come on demand."""
    code = (
        "import sys, socketio_core\n"
        "banned = ('gevent', 'socket', 'threading', 'flask', 'redis', 'engineio_core')\n"
        "print(sorted(n for n in banned if n in sys.modules))\n"
        "from socketio_core.server import SocketServer\n"
        "from socketio_core.pubsub import PubSubManager  # the path before the split\n"
        "print(socketio_core.SocketServer is SocketServer, socketio_core.PubSubManager is PubSubManager)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=ROOT, check=True).stdout.split("\n")
    assert out[0] == "[]"
    assert out[1] == "True True"


def test_an_unknown_package_attribute_raises_attribute_error() -> None:
    import socketio_core

    with pytest.raises(AttributeError):
        socketio_core.NoSuchThing  # noqa: B018


def test_both_managers_implement_every_method_of_the_interface() -> None:
    assert ClientManager.__abstractmethods__  # the interface is abstract…
    for cls in (LocalManager, PubSubManager):
        assert issubclass(cls, ClientManager)
        assert not cls.__abstractmethods__  # …and both managers are complete
    with pytest.raises(TypeError):
        ClientManager()  # type: ignore[abstract]


@pytest.mark.parametrize("async_mode", ["threading", "gevent"])
def test_the_manager_guards_its_rooms_with_the_server_lock(async_mode: str) -> None:
    """The manager is given the server's lock when attached (a real RLock under threads), so
    the rooms and ack table are guarded as the manager's docstring says. (The server used to
    hand itself over before it had made its lock, so the manager kept a no-op lock.)"""
    server = SocketServer(async_mode=async_mode)
    manager = server.manager
    assert isinstance(manager, LocalManager)
    assert manager.lock is server.lock


def test_every_io_exemption_in_pyproject_names_existing_files() -> None:
    """The TID251 exemptions say which modules may do I/O (the others are pure): a stale entry
    (a file that was renamed or removed) would silently exempt whatever takes its name."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    ignores = config["tool"]["ruff"]["lint"]["per-file-ignores"]
    files = [p.relative_to(ROOT).as_posix() for p in ROOT.rglob("*.py")
             if not {".venv", "node_modules", ".git"} & set(p.relative_to(ROOT).parts)]
    stale = [pattern for pattern, rules in ignores.items()
             if "TID251" in rules and not any(fnmatch.fnmatch(f, pattern) for f in files)]
    assert ignores and stale == []
