"""The Redis broker (redis-py): `publish(bytes)` and a self-healing `listen()`.

URLs: ``redis://[:password@]host:port/db``, ``rediss://…`` (TLS), ``unix:///path?db=0`` and
``redis+sentinel://[:password@]host1:port1,host2:port2/db/service_name``. The connection is
made on first use, so a manager can be built without a reachable server.

While Redis is unreachable, `publish` raises (the manager logs and drops the message: pub/sub
has no memory, a message published while nobody listens is lost — Redis itself behaves the same
way) and `listen` retries with exponential backoff (0.1 s doubling up to 5 s), resubscribing as
soon as Redis is back.

Failing fast is deliberate: unless ``redis_options`` say otherwise, connections time out after
`CONNECT_TIMEOUT` seconds (a publish after `PUBLISH_TIMEOUT`) and redis-py's own retry loop
(10 attempts with backoff since redis-py 6) is turned off, so the retries are the ones above.
Otherwise one message published during an outage would hold the publisher for seconds, the
messages behind it would queue up, and a hung Redis would block it forever.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

logger = logging.getLogger("socketio_core.redis")

CONNECT_TIMEOUT = 5.0
PUBLISH_TIMEOUT = 5.0


def _redis_module() -> Any:
    try:
        import redis
    except ImportError:  # pragma: no cover - the optional dependency
        raise RuntimeError("the redis package is required for message_queue='redis://…' (pip install redis)") from None
    return redis


def parse_sentinel_url(url: str) -> tuple[list[tuple[str, int]], str, dict[str, Any]]:
    """``redis+sentinel://[:pw@]h1:p1,h2:p2/db/service`` → (sentinels, service, options)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    options: dict[str, Any] = {}
    if "@" in netloc:
        auth, netloc = netloc.rsplit("@", 1)
        username, _, password = auth.partition(":")
        if username:
            options["username"] = unquote(username)
        if password:
            options["password"] = unquote(password)
    sentinels = []
    for hostport in netloc.split(","):
        host, _, port = hostport.partition(":")
        sentinels.append((host, int(port or 26379)))
    path = [p for p in parts.path.split("/") if p]
    if path and path[0].isdigit():
        options["db"] = int(path[0])
        path = path[1:]
    service = path[0] if path else "mymaster"
    return sentinels, service, options


def connect(url: str, redis_options: dict[str, Any] | None = None, **defaults: Any) -> Any:
    """A redis-py client for `url` that fails fast: `CONNECT_TIMEOUT`, no retry loop of its
    own (the listener's backoff and the publisher's one retry are the retries); `defaults`
    (e.g. ``socket_timeout``) and then `redis_options` override. Nothing connects until used."""
    redis = _redis_module()
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    if url.startswith("valkey"):
        url = url.replace("valkey", "redis", 1)
    options = {"socket_connect_timeout": CONNECT_TIMEOUT, "retry": Retry(NoBackoff(), 0), **defaults}
    options.update(redis_options or {})
    if url.startswith("redis+sentinel://"):
        from redis.sentinel import Sentinel

        sentinels, service, url_options = parse_sentinel_url(url)
        sentinel = Sentinel(sentinels, **options)  # type: ignore[no-untyped-call]
        return sentinel.master_for(service, **url_options)  # type: ignore[no-untyped-call]
    return redis.Redis.from_url(url, **options)


class RedisBroker:
    """A `core.Broker` on one Redis channel."""

    label = "Redis"
    logger = logger

    def __init__(self, url: str, channel: str, redis_options: dict[str, Any] | None = None) -> None:
        self.url = url.replace("valkey", "redis", 1) if url.startswith("valkey") else url
        self.channel = channel
        self.redis_options = dict(redis_options or {})
        self._sender = RedisSender(lambda: self.connect(socket_timeout=PUBLISH_TIMEOUT))

    def connect(self, **defaults: Any) -> Any:
        """A new fail-fast client for this broker's Redis (see `connect`)."""
        return connect(self.url, self.redis_options, **defaults)

    def publish(self, data: bytes) -> None:
        """Publish once; on a connection error reconnect and try once more, then raise."""
        self.publish_many([data])

    def publish_many(self, batch: list[bytes]) -> None:
        """Publish several messages in order, in one round trip (see `RedisSender.send`)."""
        self._sender.send([(self.channel, data) for data in batch])

    def subscriber_count(self) -> int:
        """How many connections listen on the channel now (``PUBSUB NUMSUB``): the nodes of
        the cluster (cluster.py counts the answers it waits for with it)."""
        client = self.connect(socket_timeout=PUBLISH_TIMEOUT)
        try:
            counts = client.pubsub_numsub(self.channel)
            return int(counts[0][1]) if counts else 0
        finally:
            client.close()

    def listen(self) -> RedisSubscription:
        """Connect and subscribe to the channel: its messages until the connection is lost
        (`core.Listener` reconnects, with backoff, and closes the old subscription)."""
        return subscribe(self.connect(), channels=[self.channel])

    def close(self) -> None:
        self._sender.client = None


class RedisSender:
    """One fail-fast publishing connection (a `core.Publisher`'s send function): a batch of
    (channel, data) goes out in order in one round trip (a non-transactional pipeline); on a
    connection error (a connection that went stale when Redis restarted) it reconnects and
    tries once more, then raises. A timeout (a hung Redis) raises at once."""

    def __init__(self, connect: Callable[[], Any]) -> None:
        self.connect = connect
        self.client: Any = None

    def send(self, batch: Sequence[tuple[str, bytes | str]]) -> None:
        connection_error = _redis_module().ConnectionError
        for attempt in (1, 2):
            try:
                if self.client is None:
                    self.client = self.connect()
                if len(batch) == 1:
                    self.client.publish(*batch[0])
                    return
                pipe = self.client.pipeline(transaction=False)
                for channel, data in batch:
                    pipe.publish(channel, data)
                pipe.execute()
                return
            except Exception as exc:
                self.client = None
                if attempt == 2 or not isinstance(exc, connection_error):
                    raise


def subscribe(client: Any, channels: Sequence[str] = (), patterns: Sequence[str] = (),
              with_channel: bool = False) -> RedisSubscription:
    """Subscribe a new connection of `client` (closed again if that fails)."""
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    try:
        if patterns:
            pubsub.psubscribe(*patterns)
        if channels:
            pubsub.subscribe(*channels)
    except Exception:
        pubsub.close()
        raise
    return RedisSubscription(pubsub, with_channel)


class RedisSubscription:
    """The messages of one redis-py `PubSub` until its connection is lost: the data (bytes),
    or (channel, data) pairs `with_channel` (a subscriber of several channels)."""

    def __init__(self, pubsub: Any, with_channel: bool = False) -> None:
        self.pubsub = pubsub
        self.with_channel = with_channel

    def __iter__(self) -> Iterator[Any]:
        with_channel = self.with_channel
        for message in self.pubsub.listen():
            if message.get("type") not in ("message", "pmessage"):
                continue
            # Popped, not kept in this frame: a refused huge message is freed at once by the
            # consumer (issue 21 #6).
            data = message.pop("data", None)
            channel = message.get("channel")
            message = None
            if isinstance(data, str):
                data = data.encode("utf-8")
            if not isinstance(data, bytes):
                continue
            box, data = [data], None
            if with_channel:
                yield (channel.decode("utf-8", "replace") if isinstance(channel, bytes) else str(channel)), box.pop()
            else:
                yield box.pop()  # nothing of it stays in this frame

    def close(self) -> None:
        self.pubsub.close()
