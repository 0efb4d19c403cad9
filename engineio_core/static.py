"""Static files for `WSGIApp` (``static_files={'/': 'index.html', '/static': './public'}``).

Paths are resolved and must stay inside their configured folder: ``..``, absolute parts and
symlinks that escape are refused with 404 (the reference only rejects a literal ``../``).
"""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

_TYPES = {
    ".html": "text/html", ".htm": "text/html", ".css": "text/css",
    ".js": "application/javascript", ".mjs": "application/javascript",
    ".json": "application/json", ".map": "application/json", ".txt": "text/plain",
    ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
    ".svg": "image/svg+xml", ".ico": "image/x-icon",
}


def content_type(path: str) -> str:
    ext = os.path.splitext(path)[1].lower()
    return _TYPES.get(ext) or mimetypes.guess_type(path)[0] or "application/octet-stream"


def resolve(static_files: Mapping[str, Any], path: str) -> tuple[str, str] | None:
    """The (filename, content type) to serve for a URL path, or None."""
    if "\x00" in path:
        # ``GET /static/%00``: os.path functions raise ValueError on a NUL byte (a 500 with a
        # traceback before this check; found by tests/hardening/test_security_defaults.py).
        return None
    # Longest matching prefix first.
    for prefix in sorted(static_files, key=len, reverse=True):
        if prefix and path != prefix and not path.startswith(prefix.rstrip("/") + "/") and prefix != "/":
            continue
        if prefix == "/" and not path.startswith("/"):
            continue
        target = static_files[prefix]
        ctype: str | None = None
        if isinstance(target, dict):
            ctype = target.get("content_type")
            target = target["filename"]
        rest = path[len(prefix.rstrip("/")):] if prefix not in ("", "/") else path
        if rest in ("", "/") or os.path.isfile(target) and not os.path.isdir(target):
            if os.path.isdir(target):
                index = static_files.get("", "index.html")
                filename = os.path.join(target, index if isinstance(index, str) else "index.html")
            elif rest in ("", "/") or prefix not in ("", "/"):
                filename = target
            else:
                continue
        else:
            if not os.path.isdir(target):
                continue
            base = os.path.realpath(target)
            candidate = os.path.realpath(os.path.join(base, rest.lstrip("/")))
            if candidate != base and not candidate.startswith(base + os.sep):
                return None
            if os.path.isdir(candidate):
                index = static_files.get("", "index.html")
                candidate = os.path.join(candidate, index if isinstance(index, str) else "index.html")
            filename = candidate
        if not os.path.isfile(filename):
            return None
        return filename, ctype or content_type(filename)
    return None


def serve_file(filename: str, ctype: str, start_response: Callable[..., Any]) -> Iterable[bytes]:
    with open(filename, "rb") as fh:
        data = fh.read()
    start_response("200 OK", [("Content-Type", ctype), ("Content-Length", str(len(data))),
                              ("X-Content-Type-Options", "nosniff")])
    return [data]
