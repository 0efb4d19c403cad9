"""The RabbitMQ broker through Kombu (py-amqp): `publish(bytes)` and a self-healing `listen()`.

URLs: ``amqp://user:password@host:port/vhost``, ``amqps://…`` (TLS) and ``pyamqp://…``, as
Kombu reads them. The connection is made on first use, so a manager can be built without a
reachable broker.

Topology, as python-socketio's ``KombuManager``: one non-durable *fanout* exchange named after
the channel; every listening process declares its own queue bound to it, so each message
reaches every process, in the order it was published. Our queues are exclusive (RabbitMQ
deletes one with the connection that declared it: a listener that reconnects declares a new
one, and a process that dies leaves nothing behind).

Messages are published as they are (JSON bytes) with ``content_type='application/json'``: a
python-socketio ``KombuManager`` decodes them to the envelope dict it expects. Received bodies
are never decoded by Kombu (no serializer runs, so a pickle is never unpickled): the JSON goes
to the manager as bytes, which parses JSON only. python-socketio's emitters publish the
envelope as a JSON *string* (their JSON text through Kombu's JSON serializer): that is
unwrapped once here.

While RabbitMQ is unreachable, `publish` raises (the manager logs and drops the message: the
exchange has no queue to hold what is published while no listener is bound, as Redis pub/sub
has no memory) and `listen` retries with exponential backoff (0.1 s doubling up to 5 s),
declaring a new queue as soon as RabbitMQ is back. Connections time out after
`CONNECT_TIMEOUT`, a publish after `PUBLISH_TIMEOUT`, and AMQP heartbeats (`HEARTBEAT`) find a
broker that vanished without closing the connection.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Generator
from typing import Any

logger = logging.getLogger("socketio_core.kombu")


def _release(connection: Any) -> None:
    try:
        connection.release()
    except Exception:
        pass

CONNECT_TIMEOUT = 5.0
PUBLISH_TIMEOUT = 5.0
HEARTBEAT = 10
SCHEMES = ("amqp", "amqps", "pyamqp")


def _kombu() -> Any:
    try:
        import kombu
    except ImportError:  # pragma: no cover - the optional dependency
        raise RuntimeError("the kombu package is required for message_queue='amqp://…' "
                           "(pip install 'flask-socketio-ng[kombu]')") from None
    return kombu


def unwrap(body: bytes | str) -> bytes:
    """The envelope's JSON bytes from a message body: as it is, or, when the body is a JSON
    string (python-socketio's emitters), the text inside it. Anything else is passed on for
    the manager to refuse (it parses JSON only)."""
    data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    if data[:1] == b'"':
        try:
            inner = json.loads(data)
        except ValueError:
            return data
        if isinstance(inner, str):
            return inner.encode("utf-8")
    return data


class KombuBroker:
    """The `Broker` of `socketio_core.server.pubsub` over a RabbitMQ fanout exchange."""

    label = "Kombu"
    logger = logger

    def __init__(self, url: str, channel: str, connection_options: dict[str, Any] | None = None,
                 exchange_options: dict[str, Any] | None = None, queue_options: dict[str, Any] | None = None,
                 producer_options: dict[str, Any] | None = None) -> None:
        self.url = url
        self.channel = channel
        self.connection_options = dict(connection_options or {})
        self.exchange_options = dict(exchange_options or {})
        self.queue_options = dict(queue_options or {})
        self.producer_options = dict(producer_options or {})
        self._connection: Any = None
        self._producer: Any = None

    def _connect(self, heartbeat: int, **transport_options: Any) -> Any:
        kombu = _kombu()
        options: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT, "heartbeat": heartbeat}
        if transport_options:
            options["transport_options"] = transport_options
        options.update(self.connection_options)
        connection = kombu.Connection(self.url, **options)
        # One attempt (kombu's own connect() retries after 2 s): the retries are ours (publish
        # tries once more, listen backs off).
        connection.ensure_connection(max_retries=0)
        return connection

    def _exchange(self) -> Any:
        options: dict[str, Any] = {"type": "fanout", "durable": False}
        options.update(self.exchange_options)
        return _kombu().Exchange(self.channel, **options)

    def publish(self, data: bytes) -> None:
        """Publish once; on a connection error reconnect and try once more, then raise."""
        self.publish_many([data])

    def publish_many(self, batch: list[bytes]) -> None:
        """Publish several messages in order on one channel (RabbitMQ keeps their order into
        every bound queue); a connection that went stale (a broker restart) is replaced and
        the batch tried once more, then the error is raised."""
        for attempt in (1, 2):
            try:
                if self._producer is None:
                    # No heartbeats on the publishing connection: nothing reads it between
                    # publishes, and RabbitMQ would close an idle one that never answers them.
                    self._connection = self._connect(0, write_timeout=PUBLISH_TIMEOUT)
                    self._producer = self._connection.Producer(exchange=self._exchange(), **self.producer_options)
                publish = self._producer.publish
                for data in batch:
                    publish(data, content_type="application/json", content_encoding="utf-8", retry=False)
                return
            except Exception:
                self._drop()
                if attempt == 2:
                    raise

    def _drop(self) -> None:
        connection, self._connection, self._producer = self._connection, None, None
        if connection is not None:
            try:
                connection.release()
            except Exception:
                pass

    def listen(self) -> Generator[bytes, None, None]:
        """Connect, declare this process's queue (a new one each time) and consume it: its
        messages until the connection is lost (`core.Listener` reconnects, with backoff, and
        closes this iterator, which releases the connection)."""
        kombu = _kombu()
        connection = self._connect(HEARTBEAT)
        try:
            received: list[Any] = []
            options: dict[str, Any] = {"durable": False, "exclusive": True, "auto_delete": True}
            options.update(self.queue_options)
            queue = kombu.Queue(f"flask-socketio.{self.channel}.{uuid.uuid4().hex}", self._exchange(), **options)
            # on_message: the raw message, never decoded by Kombu (no serializer, no pickle).
            consumer = connection.Consumer([queue], on_message=received.append, no_ack=True)
            consumer.consume()
        except Exception:
            _release(connection)
            raise
        return self._consume(connection, received)

    @staticmethod
    def _consume(connection: Any, received: list[Any]) -> Generator[bytes, None, None]:
        try:
            next_check = time.monotonic() + HEARTBEAT / 4
            while True:
                try:
                    connection.drain_events(timeout=HEARTBEAT / 4)
                except TimeoutError:
                    pass
                # Heartbeats both ways, even while messages keep arriving (a listener sends
                # nothing else, and RabbitMQ closes a connection that stays silent).
                if time.monotonic() >= next_check:
                    connection.heartbeat_check()
                    next_check = time.monotonic() + HEARTBEAT / 4
                if received:
                    batch = received[:]
                    del received[:]
                    for message in batch:
                        yield unwrap(message.body)
        finally:
            _release(connection)

    def close(self) -> None:
        self._drop()
