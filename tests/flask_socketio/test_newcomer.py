"""What a newcomer installing from PyPI trips on (issue 24, item 6).

gunicorn's gevent worker imports ``packaging``, which only its ``gevent`` extra installs: the
line docs/deployment.md gives is installed into a fresh venv (pip's cache keeps this fast) and
the worker must load; a plain ``gunicorn`` beside it shows what the line prevents.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

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
