"""Session ids that name their worker (PURE).

With several workers on one port, a session id is ``<tag>.<token>``: the tag names the worker
that holds the session (letters and digits), the token is 128 bits from the OS CSPRNG (so a
session id is as unguessable as without workers). A request is routed by reading the tag from
its ``sid`` query parameter, before anything else of the request is parsed.
"""

from __future__ import annotations

import secrets

_tag: list[str] = [""]


def set_worker_tag(tag: str) -> None:
    """Name the sessions this process creates from now on (``""``: no tag, one process)."""
    if tag and not tag.isalnum():
        raise ValueError(f"a worker tag is letters and digits: {tag!r}")
    _tag[0] = tag


def worker_tag() -> str:
    """This process's tag (``""`` outside a cluster of workers)."""
    return _tag[0]


def new_sid() -> str:
    """A new session id: 128 random bits, URL-safe, prefixed with this worker's tag."""
    token = secrets.token_urlsafe(16)
    tag = _tag[0]
    return f"{tag}.{token}" if tag else token


def sid_tag(target: str) -> str | None:
    """The worker tag in the ``sid`` query parameter of a request target, or None (no query, no
    sid, or a sid without a tag). Only the tag is read: the sid itself is checked by the engine
    of the worker that gets the request."""
    query = target.find("?")
    if query < 0:
        return None
    at = target.find("sid=", query)
    while at >= 0 and target[at - 1] not in "?&":
        at = target.find("sid=", at + 4)
    if at < 0:
        return None
    start = at + 4
    dot = target.find(".", start)
    if dot <= start:
        return None
    amp = target.find("&", start)
    if 0 <= amp < dot:
        return None
    tag = target[start:dot]
    return tag if tag.isalnum() else None
