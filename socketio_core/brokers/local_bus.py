"""The local bus: the broker between the worker processes of one machine (``workers=N``).

No external service: every worker listens on a Unix stream socket in the workers' shared
directory (``<directory>/<tag>.bus``) and holds one connection *to* every other worker, on
which it publishes; it receives on the connections the others opened to it. So a message
goes from its emitter to each other worker directly, once, over one ordered stream: every
worker applies the messages of one emitter in the order they were emitted (per-emitter order,
as Redis pub/sub gives), and nothing is echoed back to the emitter (the manager would drop it).

Membership: a worker that starts connects to every ``*.bus`` socket it finds and introduces
itself (``hello``: its tag and process id); a worker that hears a hello from a peer it has no
connection to (or an older incarnation of it) connects back. A peer whose connection fails is
dropped; the directory is scanned again at most once a second while a publish finds peers
missing. `subscriber_count` (what cluster operations wait for) is the live peers plus this
worker.

Frames are a 4-byte big-endian length and the message (the pub/sub manager's JSON).

Limits (docs/deployment.md): one machine only (use Redis or RabbitMQ across machines); like
Redis pub/sub it has no memory — a message published while a worker is down (being
restarted) never reaches that worker; a worker that reads too slowly holds the publisher for
at most `SEND_TIMEOUT` seconds, then its connection is dropped and it misses what follows until
the publisher reconnects to it.
"""

from __future__ import annotations

import logging
import os
import select
import selectors
import socket
import struct
import threading
import time
from collections.abc import Generator, Iterator
from typing import Any

logger = logging.getLogger("socketio_core.local_bus")

SEND_TIMEOUT = 5.0
RESCAN_INTERVAL = 1.0
MAX_FRAME = 256 * 1024 * 1024
_LENGTH = struct.Struct(">I")


def bus_path(directory: str, tag: str) -> str:
    return os.path.join(directory, f"{tag}.bus")


class LocalBusBroker:
    """`publish`/`publish_many`/`listen`/`subscriber_count` over the workers' Unix sockets."""

    def __init__(self, directory: str, tag: str) -> None:
        self.directory = directory
        self.tag = tag
        self.pid = os.getpid()
        self._lock = threading.Lock()
        self._peers: dict[str, tuple[int, socket.socket]] = {}  # tag -> (pid, connection to it)
        self._listener: socket.socket | None = None
        self._last_scan = 0.0
        self._wake_r, self._wake_w = socket.socketpair()  # `close` ends `listen` through it

    # -- membership ------------------------------------------------------------------------------
    def start(self) -> None:
        """Bind this worker's bus socket and connect to the workers already there (idempotent;
        `listen` and the first publish call it)."""
        with self._lock:
            if self._listener is not None:
                return
            path = bus_path(self.directory, self.tag)
            try:
                os.unlink(path)  # the previous worker of this slot's
            except FileNotFoundError:
                pass
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(path)
            listener.listen(64)
            self._listener = listener
        self._scan()

    def _scan(self) -> None:
        """Connect to every worker whose bus socket is in the directory and not connected."""
        self._last_scan = time.monotonic()
        try:
            names = os.listdir(self.directory)
        except OSError:
            return
        for name in names:
            tag, dot, suffix = name.partition(".")
            if dot and suffix == "bus" and tag != self.tag and tag not in self._peers:
                self._connect(tag, None)

    def _connect(self, tag: str, pid: int | None) -> None:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.settimeout(SEND_TIMEOUT)
        try:
            conn.connect(bus_path(self.directory, tag))
            hello = f"hello {self.tag} {self.pid}".encode("ascii")
            conn.sendall(_LENGTH.pack(len(hello)) + hello)
        except OSError as exc:
            conn.close()
            if isinstance(exc, ConnectionRefusedError):
                _remove_stale(bus_path(self.directory, tag))
            return
        with self._lock:
            old = self._peers.get(tag)
            self._peers[tag] = (pid or 0, conn)
        if old is not None:
            old[1].close()

    def _heard_hello(self, tag: str, pid: int) -> None:
        """A peer introduced itself: connect back to it unless connected to that incarnation."""
        with self._lock:
            known = self._peers.get(tag)
            if known is not None and known[0] in (0, pid):
                self._peers[tag] = (pid, known[1])  # a scan found it first: now we know its pid
                return
        self._connect(tag, pid)

    def subscriber_count(self) -> int:
        """The workers that receive a message published now, this one included."""
        self.start()
        self._drop_dead()
        self._scan()
        with self._lock:
            return len(self._peers) + 1

    def _drop_dead(self) -> None:
        """Forget the peers whose connection the other end closed (the worker is gone): they
        never write on it, so anything readable there is its end."""
        with self._lock:
            peers = list(self._peers.items())
        for tag, (_pid, conn) in peers:
            poller = select.poll()
            try:
                poller.register(conn, select.POLLIN)
                readable = bool(poller.poll(0))
                # (with a timeout set, recv would wait for data even with MSG_DONTWAIT)
                gone = readable and conn.recv(1, socket.MSG_PEEK) == b""
            except OSError:
                gone = True
            if gone:
                self._forget(tag, conn)

    def _forget(self, tag: str, conn: socket.socket) -> None:
        with self._lock:
            if self._peers.get(tag, (0, None))[1] is conn:
                del self._peers[tag]
        conn.close()

    # -- publishing ------------------------------------------------------------------------------
    def publish(self, data: bytes) -> None:
        self.publish_many([data])

    def publish_many(self, batch: list[bytes]) -> None:
        """Send the messages, in order, to every other worker (one write per worker)."""
        self.start()
        if time.monotonic() - self._last_scan > RESCAN_INTERVAL:
            self._scan()
        frames = b"".join(_LENGTH.pack(len(data)) + data for data in batch)
        with self._lock:
            peers = list(self._peers.items())
        for tag, (_pid, conn) in peers:
            try:
                conn.sendall(frames)
            except OSError as exc:
                logger.warning("local bus: worker %s is gone or stuck (%s); dropping it", tag, exc)
                self._forget(tag, conn)

    # -- listening -------------------------------------------------------------------------------
    def listen(self) -> Generator[bytes, None, None]:
        """The messages of the other workers, in the order each of them published."""
        self.start()
        listener = self._listener
        assert listener is not None
        selector = selectors.DefaultSelector()
        selector.register(listener, selectors.EVENT_READ, None)
        selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        try:
            yield from self._receive(listener, selector)
        finally:
            for key in list(selector.get_map().values()):
                if isinstance(key.data, _Incoming):
                    key.fileobj.close()  # type: ignore[union-attr]
            selector.close()

    def _receive(self, listener: socket.socket, selector: selectors.BaseSelector) -> Iterator[bytes]:
        while True:
            for key, _ in selector.select():
                if key.data == "wake":
                    return  # closed
                if key.data is None:
                    conn, _ = listener.accept()
                    selector.register(conn, selectors.EVENT_READ, _Incoming())
                    continue
                peer_conn: Any = key.fileobj
                incoming = key.data
                try:
                    chunk = peer_conn.recv(262144)
                except OSError:
                    chunk = b""
                if not chunk:
                    selector.unregister(peer_conn)
                    peer_conn.close()
                    continue
                try:
                    frames = incoming.feed(chunk)
                    if incoming.peer is None and frames:
                        incoming.peer = self._hello(frames.pop(0))
                except (ValueError, UnicodeDecodeError) as exc:
                    logger.warning("local bus: dropping a bad connection: %s", exc)
                    selector.unregister(peer_conn)
                    peer_conn.close()
                    continue
                yield from frames

    def _hello(self, frame: bytes) -> str:
        word, _, rest = frame.decode("ascii").partition(" ")
        tag, _, pid = rest.partition(" ")
        if word != "hello" or not tag.isalnum() or not pid.isdigit():
            raise ValueError("local bus: a connection did not start with hello")
        self._heard_hello(tag, int(pid))
        return tag

    def close(self) -> None:
        with self._lock:
            peers, self._peers = self._peers, {}
            listener, self._listener = self._listener, None
        for _, conn in peers.values():
            conn.close()
        if listener is not None:
            listener.close()
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass


def _remove_stale(path: str) -> None:
    """A socket file nobody listens on (its worker was killed): gone, so no one tries again."""
    try:
        os.unlink(path)
    except OSError:
        pass


class _Incoming:
    """The frames of one incoming connection, as its bytes arrive."""

    __slots__ = ("buf", "peer")

    def __init__(self) -> None:
        self.buf = b""
        self.peer: str | None = None

    def feed(self, chunk: bytes) -> list[bytes]:
        buf = self.buf + chunk if self.buf else chunk
        frames: list[bytes] = []
        at = 0
        while len(buf) - at >= 4:
            (size,) = _LENGTH.unpack_from(buf, at)
            if size > MAX_FRAME:
                raise ValueError("local bus: frame too large")
            if len(buf) - at - 4 < size:
                break
            frames.append(buf[at + 4:at + 4 + size])
            at += 4 + size
        self.buf = buf[at:]
        return frames
