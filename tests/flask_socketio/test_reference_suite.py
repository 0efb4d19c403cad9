"""Flask-SocketIO 5.7's own test file, run unchanged against this package.

The file is not part of this repository: it is fetched at test time from the Flask-SocketIO
5.7.0 source distribution on PyPI (``pip download``), kept in ``.cache/`` (git-ignored), and run
in a subprocess whose ``flask_socketio`` is ours. It drives the test client the way users'
suites do (rooms, namespaces, acks, error handlers, sessions, class-based namespaces,
``request.event``, callbacks…), so a regression in any of those fails here.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".cache" / "reference-suite"
SDIST = "flask_socketio-5.7.0"


def _reference_test_file() -> Path:
    target = CACHE / "test_socketio.py"
    if target.exists():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    download = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
         "--disable-pip-version-check", "-d", str(CACHE), "flask-socketio==5.7.0"],
        capture_output=True, text=True, timeout=180,
    )
    assert download.returncode == 0, f"could not fetch the reference sdist from PyPI:\n{download.stderr}"
    with tarfile.open(CACHE / f"{SDIST}.tar.gz") as tar:
        member = tar.getmember(f"{SDIST}/test_socketio.py")
        extracted = tar.extractfile(member)
        assert extracted is not None
        target.write_bytes(extracted.read())
    return target


def test_flask_socketio_5_7_test_file_passes_unchanged() -> None:
    test_file = _reference_test_file()
    env = dict(os.environ, PYTHONPATH=str(REPO))
    # Run from the cache folder, so that `flask_socketio` can only be ours (from PYTHONPATH).
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
         "-c", os.devnull, "--rootdir", str(CACHE), str(test_file)],
        cwd=CACHE, env=env, capture_output=True, text=True, timeout=300,
    )
    tail = proc.stdout[-4000:] + proc.stderr[-2000:]
    assert proc.returncode == 0, tail
    probe = subprocess.run(
        [sys.executable, "-c", "import flask_socketio, socketio_core; print(flask_socketio.__file__)"],
        cwd=CACHE, env=env, capture_output=True, text=True, timeout=60,
    )
    assert probe.stdout.strip().startswith(str(REPO)), probe.stdout + probe.stderr
    assert " passed" in proc.stdout and " failed" not in proc.stdout, tail
