"""Fixtures of the hardening tests; the helpers themselves live in `hard_support.py`."""

from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
