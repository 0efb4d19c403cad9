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
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

from .backoff import Backoff

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


class RedisBroker:
    def __init__(self, url: str, channel: str, redis_options: dict[str, Any] | None = None) -> None:
        self.url = url.replace("valkey", "redis", 1) if url.startswith("valkey") else url
        self.channel = channel
        self.redis_options = dict(redis_options or {})
        self._publisher: Any = None

    def _connect(self, **defaults: Any) -> Any:
        redis = _redis_module()
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        options = {"socket_connect_timeout": CONNECT_TIMEOUT, "retry": Retry(NoBackoff(), 0), **defaults}
        options.update(self.redis_options)
        if self.url.startswith("redis+sentinel://"):
            from redis.sentinel import Sentinel

            sentinels, service, url_options = parse_sentinel_url(self.url)
            sentinel = Sentinel(sentinels, **options)  # type: ignore[no-untyped-call]
            return sentinel.master_for(service, **url_options)  # type: ignore[no-untyped-call]
        return redis.Redis.from_url(self.url, **options)

    def publish(self, data: bytes) -> None:
        """Publish once; on a connection error reconnect and try once more, then raise."""
        self.publish_many([data])

    def publish_many(self, batch: list[bytes]) -> None:
        """Publish several messages in order, in one round trip (a non-transactional pipeline);
        on a connection error (a connection that went stale when Redis restarted) reconnect and
        try once more, then raise. A timeout (a hung Redis) raises at once."""
        connection_error = _redis_module().ConnectionError
        for attempt in (1, 2):
            try:
                if self._publisher is None:
                    self._publisher = self._connect(socket_timeout=PUBLISH_TIMEOUT)
                if len(batch) == 1:
                    self._publisher.publish(self.channel, batch[0])
                    return
                pipe = self._publisher.pipeline(transaction=False)
                for data in batch:
                    pipe.publish(self.channel, data)
                pipe.execute()
                return
            except Exception as exc:
                self._publisher = None
                if attempt == 2 or not isinstance(exc, connection_error):
                    raise

    def subscriber_count(self) -> int:
        """How many connections listen on the channel now (``PUBSUB NUMSUB``): the nodes of
        the cluster (cluster.py counts the answers it waits for with it)."""
        client = self._connect(socket_timeout=PUBLISH_TIMEOUT)
        try:
            counts = client.pubsub_numsub(self.channel)
            return int(counts[0][1]) if counts else 0
        finally:
            client.close()

    def listen(self) -> Iterator[bytes]:
        """Messages on the channel, forever; reconnects with backoff when Redis goes away."""
        backoff = Backoff()
        while True:
            pubsub = None
            try:
                client = self._connect()
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self.channel)
                logger.info("listening on Redis channel %r", self.channel)
                backoff.reset()
                for message in pubsub.listen():
                    if message.get("type") == "message":
                        # Popped, not kept in this frame: a refused huge message is freed at
                        # once by the consumer (issue 21 #6).
                        data = message.pop("data", None)
                        message = None
                        if isinstance(data, str):
                            data = data.encode("utf-8")
                        if isinstance(data, bytes):
                            box, data = [data], None
                            yield box.pop()  # nothing of it stays in this frame
            except Exception as exc:
                # An error, as python-socketio logs it: visible with the default logger=False.
                logger.error("Redis listener lost its connection (%s); retrying in %.1fs", exc, backoff.delay)
            finally:
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except Exception:
                        pass
            backoff.sleep()

    def close(self) -> None:
        self._publisher = None
