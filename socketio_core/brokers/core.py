"""The broker core: one listener loop and one publisher, for every user of a broker.

The Redis and RabbitMQ managers (`server.pubsub.PubSubManager`), the Node bridge
(`features.node_bridge.NodeRedisBridge`) and the recovery stream reader
(`features.recovery_redis.ClusterRecovery`) each talk to a broker over blocking client
libraries. They share this plumbing instead of each repeating it:

`Publisher` — one worker per broker connection (an OS thread, or a greenlet where the
library's sockets are cooperative: `BlockingIO`) that sends what was submitted, **in
submission order**, **batched** (what queued up during the previous round trip goes in one
call), **bounded** (past `max_backlog` waiting items a submit is refused and logged, instead of
memory growing without limit while a broker hangs) and **fail-fast** (the send function's
connection times out; a batch that fails is logged and dropped, the next one reconnects).
Never a thread per message.

`Listener` — one reader per subscription: `open()` connects and subscribes (raising when it
cannot; `subscribe` in the code), the reader hands each message to ONE applier task on the serving loop, in arrival
order, through a bounded inbox (past `max_inbox` the reader stops reading and the broker holds
the backlog); when the connection is lost the subscription is closed (always: the old
connection never lingers) and opened again after `backoff.Backoff`'s delay.

A broker for `PubSubManager` is small (helper modules plug in here): ``publish(bytes)``,
optionally ``publish_many(list[bytes])`` (one round trip for a batch), and ``listen()``, which
connects, subscribes and returns a `Subscription`: an iterable of the messages of that one
connection (it ends or raises when the connection is lost) with ``close()``. A generator works
(its ``close()`` runs its ``finally``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from queue import Empty
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from engineio_core.flow import NO_WAIT

from .backoff import Backoff

if TYPE_CHECKING:
    from engineio_core.drivers.base import Driver

T = TypeVar("T")

logger = logging.getLogger("socketio_core.brokers")

MAX_BACKLOG = 10_000
"""Most items waiting for a publisher (a slow or hung broker): past it, submits are refused."""
MAX_BATCH = 256
"""Most items a publisher sends in one round trip."""
MAX_INBOX = 1024
"""Most messages read and not applied yet: past it the listener stops reading."""


class Subscription(Protocol):
    """The messages of one broker connection (see the module docstring)."""

    def __iter__(self) -> Iterator[Any]: ...
    def close(self) -> None: ...


class Broker(Protocol):
    """What `PubSubManager` needs of a broker: bytes in, bytes out."""

    def publish(self, data: bytes) -> None: ...
    def listen(self) -> Subscription: ...
    def close(self) -> None: ...


class Publisher(Generic[T]):
    """One ordered, bounded, batched publisher (see the module docstring). `send(batch)` runs
    in the publisher's worker and raises when the batch could not be sent (it is then logged
    as dropped). The worker starts at the first submit."""

    def __init__(self, driver: Driver, send: Callable[[list[T]], None], name: str, label: str,
                 logger: logging.Logger, max_backlog: int = MAX_BACKLOG, max_batch: int = MAX_BATCH) -> None:
        self.driver = driver
        self.send = send
        self.name = name
        self.label = label
        """What the log lines call it (``message queue``, ``Node cluster``)."""
        self.logger = logger
        self.max_backlog = max_backlog
        self.max_batch = max_batch
        self.dropped = 0
        self._queue: Any = None

    def submit(self, item: T) -> bool:
        """Queue `item` after everything submitted before it (from any thread); False when
        the backlog is full (the item is dropped and logged)."""
        queue = self._queue
        if queue is None:
            io = self.driver.blocking_io()
            queue = self._queue = io.queue()
            io.start(self._run, self.name)
        if queue.qsize() >= self.max_backlog:
            self.dropped += 1
            self.logger.error("%s publish backlog full (%d messages): message dropped", self.label, self.max_backlog)
            return False
        queue.put(item)
        return True

    def backlog(self) -> int:
        """Items waiting to be sent."""
        return 0 if self._queue is None else int(self._queue.qsize())

    def _run(self) -> None:
        queue = self._queue
        while True:
            batch = [queue.get()]
            while len(batch) < self.max_batch:
                try:
                    batch.append(queue.get_nowait())
                except Empty:
                    break
            try:
                self.send(batch)
            except Exception as exc:  # the broker is down or hung: logged, never raised
                self.dropped += len(batch)
                self.logger.error("%s publish failed (%d messages dropped): %s", self.label, len(batch), exc)


def _size(message: object) -> int:
    """The bytes of a listener's message: bytes, or the data of a (channel, data) pair."""
    if isinstance(message, tuple) and message:
        message = message[-1]
    return len(message) if isinstance(message, (bytes, bytearray, str)) else 0


class Listener(Generic[T]):
    """One subscription, read in its own worker, applied on the loop in arrival order (see
    the module docstring). `apply(message)` runs in one task on the serving loop; it never
    waits for a congested client (`NO_WAIT`): it serves every client of the node."""

    def __init__(self, driver: Driver, subscribe: Callable[[], Iterable[T]], apply: Callable[[T], None],
                 name: str, label: str, source: str, logger: logging.Logger, max_inbox: int = MAX_INBOX,
                 max_message_bytes: int | None = None) -> None:
        self.driver = driver
        self.subscribe = subscribe
        self.apply = apply
        self.name = name
        self.logger = logger
        self.label = label
        """What the log lines call it (``Redis``, ``Kombu``, ``Node channel``)."""
        self.source = source
        """What it listens to, for the log (``Redis channel 'flask-socketio'``)."""
        self.max_inbox = max_inbox
        self.max_message_bytes = max_message_bytes
        """A message (bytes, or a (channel, bytes) pair) larger than this is refused and logged
        here, before it reaches the applier (None: no bound of the listener's own)."""
        self._started = False
        self._inbox: Any = None
        self._permits: Any = None

    def start(self) -> None:
        """Start reading (once; on the serving loop's thread: it adopts this thread's loop)."""
        if self._started:
            return
        self._started = True
        driver = self.driver
        driver.bind()
        io = driver.blocking_io()
        self._inbox = driver.queue()
        self._permits = io.semaphore(self.max_inbox)  # acquired by the reader, released on the loop
        driver.spawn(self._apply_forever)
        io.start(self._read_forever, self.name)

    def _read_forever(self) -> None:
        driver = self.driver
        put = self._inbox.put_nowait
        acquire = self._permits.acquire
        backoff = Backoff()
        bound = self.max_message_bytes
        while True:
            subscription: Any = None
            try:
                subscription = self.subscribe()
                self.logger.info("listening on %s", self.source)
                backoff.reset()
                for message in subscription:
                    if bound is not None and _size(message) > bound:
                        self.logger.error("ignoring a message on the queue of %d bytes (bound %d)",
                                          _size(message), bound)
                        message = None  # freed now, not when the next message comes
                        continue
                    acquire()  # bounded: at most max_inbox messages wait for the applier
                    driver.call_in_loop(put, message)
            except Exception as exc:
                # An error, as python-socketio logs it: visible with the default logger=False.
                self.logger.error("%s listener lost its connection (%s); retrying in %.1fs", self.label, exc,
                                  backoff.delay)
            finally:
                close = getattr(subscription, "close", None)
                if close is not None:
                    try:
                        close()
                    except Exception:
                        pass
            backoff.sleep()

    def _apply_forever(self) -> None:
        NO_WAIT.set(True)
        inbox = self._inbox
        release = self._permits.release
        apply = self.apply
        while True:
            message = inbox.get()
            try:
                apply(message)
            except Exception:  # never let one message stop the applier
                self.logger.exception("error applying a message from %s", self.source)
            finally:
                release()
