"""The sans-I/O line holds at package level: importing any PURE module of engineio_core or
socketio_core, in a fresh interpreter, loads none of the I/O libraries.

The pure modules are those pyproject.toml does not exempt from ruff's banned-import rule
(TID251): ruff checks each pure module's own imports; this test checks what they pull in
through others (a package ``__init__`` that imports the server, say).

`time` is a built-in module the interpreter itself loads at start-up (``importlib`` uses it),
so it is in every interpreter before any import and cannot be told apart here; ruff's rule is
what keeps it out of the pure modules."""

from __future__ import annotations

import fnmatch
import json
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("engineio_core", "socketio_core")
BANNED = ("gevent", "socket", "threading", "flask", "redis")

_PROBE = """
import importlib, json, sys
before = set(sys.modules)
importlib.import_module(sys.argv[1])
banned = sys.argv[2].split(",")
loaded = set(sys.modules) - before
print(json.dumps({
    "loaded": sorted(n for n in loaded if n.split(".")[0] in banned),
    "time_at_start": "time" in before,
}))
"""


def _exempt_globs() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    ignores = config["tool"]["ruff"]["lint"]["per-file-ignores"]
    return [glob for glob, rules in ignores.items() if "TID251" in rules]


def pure_modules() -> list[str]:
    globs = _exempt_globs()
    modules = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if any(fnmatch.fnmatch(rel, glob) for glob in globs):
                continue
            name = rel[: -len(".py")].replace("/", ".")
            modules.append(name[: -len(".__init__")] if name.endswith(".__init__") else name)
    return modules


def _probe(module: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, module, ",".join(BANNED)], cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    data: dict[str, object] = json.loads(result.stdout)
    return data


def test_the_pure_list_is_the_one_ruff_enforces() -> None:
    modules = pure_modules()
    assert {"engineio_core", "engineio_core.session", "engineio_core.state", "socketio_core",
            "socketio_core.protocol.codec", "socketio_core.server",
            "socketio_core.server.manager"} <= set(modules)
    assert "engineio_core.server" not in modules
    assert "socketio_core.server.server" not in modules


@pytest.mark.parametrize("module", pure_modules())
def test_a_pure_module_loads_no_io_library(module: str) -> None:
    data = _probe(module)
    assert data["loaded"] == []
    assert data["time_at_start"] is True  # see the module docstring


def test_the_probe_sees_an_io_module_load_them() -> None:
    loaded = _probe("engineio_core.serving")["loaded"]
    assert isinstance(loaded, list)
    assert {"gevent", "socket", "threading"} <= set(loaded)


def _runtime_imports(module: str) -> set[str]:
    """The package modules `module` imports when it runs (not under ``if TYPE_CHECKING``)."""
    import ast

    path = ROOT / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = ROOT / module.replace(".", "/") / "__init__.py"
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
               for n in ast.walk(node)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped or not isinstance(node, ast.ImportFrom) or not node.level:
            continue
        base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
        found.add(".".join(base + ([node.module] if node.module else [])))
    return found


@pytest.mark.parametrize("module", [m for m in pure_modules() if m.startswith("engineio_core")])
def test_a_pure_engine_module_imports_pure_modules_only(module: str) -> None:
    """A pure module names the driver and connection types through the pure `driver` and
    `connection` modules, never through `drivers/` or `transports/` (issue 22)."""
    pure = set(pure_modules()) | {"engineio_core"}
    assert sorted(_runtime_imports(module) - pure) == []
