"""The browser tests import helpers as ``tests.…``: put the repository root on sys.path
(the rootdir conftest puts only tests/ there)."""

from __future__ import annotations

import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)
