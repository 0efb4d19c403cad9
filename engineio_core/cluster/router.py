"""Connection hand-over between the workers of one port (gevent).

Every worker accepts connections on the shared listening socket. When a worker has read the
head of a request whose ``sid`` names another worker (`tags.sid_tag`), it sends the
connection to that worker: one ``SOCK_SEQPACKET`` message on the owner's Unix socket
(``<directory>/<tag>.fd``) carrying the socket's file descriptor (``SCM_RIGHTS``) and every
byte received so far (the head and whatever followed it). The owner serves the connection
from that request on, exactly as if it had accepted it; the sender closes its copy of the
descriptor. A keep-alive connection whose next request is for a third worker's session moves
again, so a client may reuse one connection for sessions of several workers.

When the owner is gone (killed and not restarted yet, or restarted with no memory of the
session), the request is served where it is: the engine answers an unknown sid, and the
client opens a new session.

TLS connections cannot be handed over (the TLS state is in the process); serving TLS with
several workers is refused (`check_handover_possible`).
"""

from __future__ import annotations

import array
import logging
import os
import socket as stdlib_socket
from typing import Any

import gevent
from gevent import socket

from .tags import sid_tag

logger = logging.getLogger("engineio_core.cluster")

MAX_HANDOVER_BYTES = 160 * 1024
"""Most bytes a hand-over carries (one datagram; the kernel's default socket buffer is 208 KiB).
A connection with more buffered (a very large head and body start) is served where it is."""


def handover_path(directory: str, tag: str) -> str:
    return os.path.join(directory, f"{tag}.fd")


class Router:
    """One worker's side of the hand-over: sends connections to their owners and serves the
    connections other workers send (`start`)."""

    def __init__(self, directory: str, tag: str, loads: Any = None, slot: int = 0, count: int = 1) -> None:
        self.directory = directory
        self.tag = tag
        # Handshakes kept by each worker (the supervisor's shared memory, one 8-byte counter per
        # slot; the tags are the slots): a handshake goes to the worker that kept the fewest.
        self._loads = memoryview(loads).cast("q") if loads is not None else None
        self._slot = slot
        if self._loads is not None and count > 1:
            others = [self._loads[i] for i in range(count) if i != slot]
            self._loads[slot] = min(others)  # a restarted worker starts level with the others
        self._peers: dict[str, Any] = {}  # tag -> connected SEQPACKET socket
        self._listener: Any = None
        self._accepting: Any = None
        self.handed_over = 0
        """Connections this worker sent to another (for tests and statistics)."""
        self.received = 0
        """Connections this worker got from another."""

    # -- receiving -------------------------------------------------------------------------------
    def start(self, server: Any) -> None:
        """Listen on ``<directory>/<tag>.fd`` and serve what arrives with `server`
        (`serving.HTTPServer.serve_handed`). Call in the thread (hub) that serves."""
        path = handover_path(self.directory, self.tag)
        try:
            os.unlink(path)  # a stale socket of this slot's previous worker
        except FileNotFoundError:
            pass
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        listener.bind(path)
        listener.listen(64)
        self._listener = listener
        self._accepting = gevent.spawn(self._accept_forever, listener, server)

    def _accept_forever(self, listener: Any, server: Any) -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return  # closed
            gevent.spawn(self._receive_forever, conn, server)

    def _receive_forever(self, conn: Any, server: Any) -> None:
        fd_size = array.array("i").itemsize
        try:
            while True:
                data, ancillary, _flags, _addr = conn.recvmsg(MAX_HANDOVER_BYTES + 1024,
                                                              stdlib_socket.CMSG_SPACE(fd_size))
                fds = _fds(ancillary)
                if not fds:
                    if not data:
                        return  # the sender closed its end
                    continue
                for extra in fds[1:]:
                    os.close(extra)
                try:
                    sock = socket.socket(fileno=fds[0])
                except OSError:
                    os.close(fds[0])
                    continue
                self.received += 1
                gevent.spawn(server.serve_handed, sock, data)
        except OSError:
            return
        finally:
            conn.close()

    # -- sending ---------------------------------------------------------------------------------
    def owner(self, target: str, balance: bool = True) -> str | None:
        """The tag of the worker that should serve the request, if it is another worker: the
        owner of its session; for a handshake (with `balance`: a connection this worker
        accepted, not one handed over), the worker that kept the fewest handshakes so far when
        that is at least two fewer than this one."""
        tag = sid_tag(target)
        if tag is not None:
            return None if tag == self.tag else tag
        loads = self._loads
        if loads is None or "EIO=" not in target or "sid=" in target:
            return None
        if not balance:
            return None  # handed over by a worker that counted it for this one
        slot = self._slot
        least = min(range(len(loads)), key=loads.__getitem__)
        if loads[slot] > loads[least] + 1:
            loads[least] += 1  # counted now, so that a burst is spread before it is served
            return str(least)
        loads[slot] += 1
        return None

    def hand_over(self, sock: Any, tag: str, received: bytes) -> bool:
        """Send `sock` (and the bytes `received` from it) to worker `tag`; False when that
        worker is not there (the caller serves the request itself). The caller closes `sock`
        after a True — its own descriptor only: the connection lives on in the owner."""
        if len(received) > MAX_HANDOVER_BYTES:
            return False
        fds = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [sock.fileno()]))]
        for attempt in (1, 2):
            peer = self._peers.get(tag)
            if peer is None:
                peer = self._connect(tag)
                if peer is None:
                    return False
            try:
                peer.sendmsg([received], fds)
            except OSError as exc:
                self._peers.pop(tag, None)
                peer.close()
                if attempt == 2:
                    logger.warning("cannot hand a connection over to worker %s: %s", tag, exc)
                    return False
                continue
            self.handed_over += 1
            return True
        return False

    def _connect(self, tag: str) -> Any:
        peer = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        path = handover_path(self.directory, tag)
        try:
            peer.connect(path)
        except OSError as exc:
            peer.close()
            if isinstance(exc, ConnectionRefusedError):
                try:
                    os.unlink(path)  # its worker was killed: nobody will listen there again
                except OSError:
                    pass
            return None
        self._peers[tag] = peer
        return peer

    def close(self) -> None:
        """Stop receiving (the socket file is removed) and drop the connections to peers."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
            try:
                os.unlink(handover_path(self.directory, self.tag))
            except OSError:
                pass
        for peer in self._peers.values():
            peer.close()
        self._peers.clear()


def remove_worker_files(directory: str, tag: str, last: bool) -> None:
    """A worker's goodbye: remove its sockets (``<tag>.*``: hand-over, bus) from the shared
    directory, and the directory itself when `last` (its supervisor is gone) and it is empty."""
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if name.partition(".")[0] == tag:
            try:
                os.unlink(os.path.join(directory, name))
            except OSError:
                pass
    if last:
        try:
            os.rmdir(directory)  # fails while another worker's files are there: it removes it
        except OSError:
            pass


def _fds(ancillary: list[tuple[int, int, bytes]]) -> list[int]:
    fds: list[int] = []
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            usable = len(data) - len(data) % array.array("i").itemsize
            fds.extend(array.array("i", data[:usable]))
    return fds


def check_handover_possible(ssl: bool) -> None:
    """Several workers need a connection to be movable between processes: not with TLS."""
    if ssl:
        raise ValueError("workers > 1 cannot serve TLS (a TLS connection cannot be handed over "
                         "between processes): terminate TLS in front (nginx, a load balancer)")
