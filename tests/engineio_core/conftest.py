"""Test setup for the engineio_core tests (helpers live in `eio_support.py`).

The project root must be importable: `tests/engineio_core/` is a directory without an
`__init__.py`, and when only `tests/` is on sys.path it is taken for a namespace package that
shadows the real `engineio_core` (the editable install's finder runs after the path finder).
Appending the root is enough: a regular package wins over namespace portions.
"""

from __future__ import annotations

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.append(ROOT)
_stale = sys.modules.get("engineio_core")
if _stale is not None and getattr(_stale, "__file__", None) is None:
    del sys.modules["engineio_core"]  # a namespace package picked up before the fix
