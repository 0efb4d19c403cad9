"""The wheel (issue 11, item 14): each package ships ``py.typed`` (PEP 561, so users' type
checkers read our hints), and the licence is a PEP 639 SPDX expression, which setuptools
builds without its deprecation warning for the old ``{text = ...}`` table.

The wheel is built offline (no build isolation, no index) from a copy of the sources, with the
setuptools of the test environment (the test extra requires the version the build system
requires), so nothing is written into the working tree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.flask_socketio.conftest import REPO

PACKAGES = ("engineio_core", "socketio_core", "flask_socketio")


def test_wheel_ships_py_typed_and_an_spdx_licence(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(os.path.join(REPO, name), src / name)
    for package in PACKAGES:
        shutil.copytree(os.path.join(REPO, package), src / package,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path / "dist"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "-w", str(out), str(src)],
        capture_output=True, text=True, timeout=240,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-3000:]
    assert "deprecated" not in output.lower(), output[-3000:]

    wheels = list(out.glob("*.whl"))
    assert len(wheels) == 1, wheels
    with zipfile.ZipFile(wheels[0]) as wheel:
        names = set(wheel.namelist())
        metadata = next(wheel.read(n).decode() for n in names if n.endswith(".dist-info/METADATA"))
    for package in PACKAGES:
        assert f"{package}/py.typed" in names, package
    headers = [line for line in metadata.splitlines() if line.startswith("License")]
    assert headers == ["License-Expression: MIT"], headers

