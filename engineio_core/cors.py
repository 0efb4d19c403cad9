"""CORS and Origin policy (PURE).

Default is same-origin (CVE-2020-28481: never allow every origin by default). The same check
guards WebSocket upgrades (CVE-2019-13611, cross-site WebSocket hijacking).
``cors_allowed_origins``: None (same origin), a string, a list, ``'*'``/``['*']`` (any),
``[]`` (CORS handling off entirely) or a callable ``(origin[, environ]) -> bool``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from .config import CorsSetting


class OriginPolicy:
    def __init__(self, setting: CorsSetting, credentials: bool) -> None:
        self.credentials = credentials
        self.disabled = isinstance(setting, list) and len(setting) == 0
        self.any = setting == "*" or (isinstance(setting, list) and "*" in setting)
        self._callable: Callable[..., bool] | None = None
        self._callable_takes_environ = False
        self._listed: frozenset[str] | None = None
        if callable(setting):
            self._callable = setting
            try:
                params = inspect.signature(setting).parameters
                self._callable_takes_environ = len(params) >= 2
            except (TypeError, ValueError):
                self._callable_takes_environ = False
        elif isinstance(setting, str) and setting != "*":
            self._listed = frozenset({setting})
        elif isinstance(setting, list) and setting and not self.any:
            self._listed = frozenset(setting)

    def allowed(self, origin: str, environ: Mapping[str, Any]) -> bool:
        """Is this Origin allowed? (Requests without an Origin header are not cross-site.)"""
        if self.disabled or self.any:
            return True
        if self._callable is not None:
            if self._callable_takes_environ:
                return bool(self._callable(origin, environ))
            return bool(self._callable(origin))
        if self._listed is not None:
            return origin in self._listed
        return origin in same_origins(environ)

    def headers(self, origin: str | None, environ: Mapping[str, Any]) -> list[tuple[str, str]]:
        """Response headers for an allowed request (echo the origin, never ``*``)."""
        if self.disabled:
            return []
        out: list[tuple[str, str]] = []
        if origin:
            out.append(("Access-Control-Allow-Origin", origin))
        if environ.get("REQUEST_METHOD") == "OPTIONS":
            out.append(("Access-Control-Allow-Methods", "OPTIONS, GET, POST"))
            requested = environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS")
            if requested:
                out.append(("Access-Control-Allow-Headers", requested))
        if self.credentials:
            out.append(("Access-Control-Allow-Credentials", "true"))
        return out


    def reader_allowed(self, environ: Mapping[str, Any]) -> bool:
        """JSONP (issue 21 #3): may the site that loads this answer with a ``<script>`` read
        it? A script GET carries no Origin, so the browser's ``Sec-Fetch-Site`` and the
        ``Referer``'s origin name that site. Allowed where CORS would let it read anyway:
        any origin (``'*'``), CORS handling off, a same-origin or user-initiated request, a
        Referer from an allowed origin. Nothing to tell by (no header): refused."""
        if self.disabled or self.any:
            return True
        if environ.get("HTTP_SEC_FETCH_SITE") in ("same-origin", "none"):
            return True
        origin = origin_of(environ.get("HTTP_REFERER") or "")
        return origin is not None and self.allowed(origin, environ)


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of an absolute http(s) URL, else None."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        return None
    host = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    if not host or "@" in host:
        return None
    return f"{scheme.lower()}://{host}"


def same_origins(environ: Mapping[str, Any]) -> set[str]:
    """The origins this server is reachable at: ``scheme://Host``, plus the variant named by
    ``X-Forwarded-Proto``/``X-Forwarded-Host`` (first values) when behind a proxy."""
    scheme = environ.get("wsgi.url_scheme", "http")
    host = environ.get("HTTP_HOST", "")
    out = {f"{scheme}://{host}"}
    fwd_proto = environ.get("HTTP_X_FORWARDED_PROTO")
    fwd_host = environ.get("HTTP_X_FORWARDED_HOST")
    if fwd_proto or fwd_host:
        proto = (fwd_proto or scheme).split(",")[0].strip()
        fhost = (fwd_host or host).split(",")[0].strip()
        out.add(f"{proto}://{fhost}")
    return out
