"""What a driver provides to the server. Everything that blocks, sleeps or spawns goes here."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any, Protocol

from ..flow import FlowControl

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


class Waiter(Protocol):
    def set(self) -> None: ...
    def clear(self) -> None: ...
    def is_set(self) -> bool: ...
    def wait(self, timeout: float | None = None) -> bool: ...


class Task(Protocol):
    def join(self, timeout: float | None = None) -> Any: ...


class SocketWriter(Protocol):
    """Writes bytes to one connection in order; never blocks the caller for long."""

    def write(self, data: bytes) -> None: ...
    def write_now(self, data: bytes) -> None: ...
    def close(self, then: Callable[[], None] | None = None) -> None: ...
    @property
    def buffered(self) -> int: ...
    def sample(self, now: float) -> None:
        """Flow control's look at a congested writer (on the timer loop, every patience): if
        the peer took bytes the kernel held since the last look, report progress
        (`FlowControl.progressed`); if it is idle (`FlowControl.idle`) with more than
        `FlowControl.unwaited_bytes` unsent, fail it as a slow consumer. A writer outside
        the flow table (blocking writes) does nothing."""
        ...


class BlockingIO(Protocol):
    """Where calls that block in a library the driver does not control (a broker client's
    socket) run, so that they never hold up the event loop: an OS thread, or a greenlet where
    that library's sockets are cooperative. Work is handed in and out through its queues and
    semaphores, which block only the side that runs here."""

    def start(self, fn: Callable[[], None], name: str) -> Any: ...
    def queue(self) -> Any: ...
    def semaphore(self, count: int) -> Any: ...


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


class Driver(Protocol):
    name: str

    def bind(self) -> None: ...
    def spawn(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Task: ...
    def dispatch(self, fn: Callable[..., Any], *args: Any) -> None: ...
    def run_guarded(
        self, fn: Callable[..., Any], args: tuple[Any, ...], on_block: Callable[[], None]
    ) -> Any: ...
    def inline_allowed(self) -> bool: ...
    def read_watcher(self, sock: Any) -> Any: ...
    def run_now(self, fn: Callable[..., Any], *args: Any) -> None: ...
    def sleep(self, seconds: float = 0) -> None: ...
    def event(self) -> Waiter: ...
    def lock(self) -> Any: ...
    def monotonic(self) -> float: ...
    def in_loop(self) -> bool: ...
    def call_in_loop(self, fn: Callable[..., Any], *args: Any) -> None: ...
    def may_wait(self) -> bool: ...
    def thread_permits(self, count: int) -> Any: ...
    def writer(
        self, sock: Any, flow: FlowControl, on_error: Callable[[str], None]
    ) -> SocketWriter: ...
    def queue(self) -> Any: ...
    def blocking_io(self) -> BlockingIO: ...
