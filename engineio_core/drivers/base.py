"""Helpers shared by the drivers. The protocols a driver implements are in `engineio_core.driver`
(pure, so that pure modules may name them); they are re-exported here."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from ..driver import BlockingIO, Driver, SocketWriter, Task, Waiter

__all__ = ["PEER_GONE", "BlockingIO", "Driver", "SocketWriter", "Task", "ThreadIO", "Waiter", "is_tls",
           "plain_socket", "send_failure"]

PEER_GONE = "peer closed the connection"


def is_tls(sock: Any) -> bool:
    """A TLS socket (its bytes go through the SSL object: no raw non-blocking calls on it)."""
    return hasattr(sock, "do_handshake")


def plain_socket(sock: Any) -> Any:
    """The OS-level socket under a gevent socket, for non-blocking calls that bypass the hub
    (sends, reads from a readiness watcher); None for TLS or a socket without one."""
    if is_tls(sock):
        return None
    return getattr(sock, "_sock", None)


try:  # Linux: the bytes a socket's kernel send queue holds (unsent, or sent and not acknowledged)
    import fcntl
    import termios

    _OUTQ: int | None = termios.TIOCOUTQ
except (ImportError, AttributeError):  # pragma: no cover - not Linux
    _OUTQ = None


def kernel_unsent(raw: Any) -> int | None:
    """The bytes in `raw`'s kernel send queue (`SIOCOUTQ`), None where that cannot be known.

    Flow control's progress signal: the peer took bytes when this shrinks. A socket becomes
    writable again only once a good part of its send buffer (up to 4 MB, autotuned) is free, so
    "the socket accepted a write" alone says a slow reader made no progress for a second or
    more while it was reading all along."""
    if _OUTQ is None or raw is None:
        return None
    try:
        value: int = struct.unpack("i", fcntl.ioctl(raw.fileno(), _OUTQ, b"\0\0\0\0"))[0]
    except (OSError, ValueError):
        return None
    return value


def send_failure(exc: OSError) -> str:
    """Why a write failed; a peer that went away is `PEER_GONE` (routine, logged quietly)."""
    if isinstance(exc, (BrokenPipeError, ConnectionResetError)):
        return PEER_GONE
    return f"send failed: {exc}"


class ThreadIO:
    """`BlockingIO` on daemon OS threads, built from the (unpatched) thread, queue and
    semaphore classes the driver passes in."""

    def __init__(self, thread_class: Any, queue_class: Any, semaphore_class: Any) -> None:
        self._thread_class = thread_class
        self._queue_class = queue_class
        self._semaphore_class = semaphore_class

    def start(self, fn: Callable[[], None], name: str) -> Any:
        thread = self._thread_class(target=fn, name=name, daemon=True)
        thread.start()
        return thread

    def queue(self) -> Any:
        return self._queue_class()

    def semaphore(self, count: int) -> Any:
        return self._semaphore_class(count)
