"""The Redis broker (redis-py): `publish(bytes)` and a self-healing `listen()`.

URLs: ``redis://[:password@]host:port/db``, ``rediss://…`` (TLS), ``unix:///path?db=0`` and
``redis+sentinel://[:password@]host1:port1,host2:port2/db/service_name``. The connection is
made on first use, so a manager can be built without a reachable server.

While Redis is unreachable, `publish` raises (the manager logs and drops the message: pub/sub
has no memory, a message published while nobody listens is lost — Redis itself behaves the same
way) and `listen` retries with exponential backoff (0.1 s doubling up to 5 s), resubscribing as
soon as Redis is back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

logger = logging.getLogger("socketio_core.redis")

BACKOFF_START = 0.1
BACKOFF_MAX = 5.0


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

    def _connect(self) -> Any:
        redis = _redis_module()
        if self.url.startswith("redis+sentinel://"):
            from redis.sentinel import Sentinel

            sentinels, service, options = parse_sentinel_url(self.url)
            sentinel = Sentinel(sentinels, **self.redis_options)  # type: ignore[no-untyped-call]
            return sentinel.master_for(service, **options)  # type: ignore[no-untyped-call]
        return redis.Redis.from_url(self.url, **self.redis_options)

    def publish(self, data: bytes) -> None:
        """Publish once; on a connection error reconnect and try once more, then raise."""
        for attempt in (1, 2):
            try:
                if self._publisher is None:
                    self._publisher = self._connect()
                self._publisher.publish(self.channel, data)
                return
            except Exception:
                self._publisher = None
                if attempt == 2:
                    raise

    def listen(self) -> Iterator[bytes]:
        """Messages on the channel, forever; reconnects with backoff when Redis goes away."""
        backoff = BACKOFF_START
        while True:
            pubsub = None
            try:
                client = self._connect()
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self.channel)
                logger.info("listening on Redis channel %r", self.channel)
                backoff = BACKOFF_START
                for message in pubsub.listen():
                    if message.get("type") == "message":
                        data = message.get("data")
                        if isinstance(data, (bytes, str)):
                            yield data if isinstance(data, bytes) else data.encode("utf-8")
            except Exception as exc:
                logger.warning("Redis listener lost its connection (%s); retrying in %.1fs", exc, backoff)
            finally:
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except Exception:
                        pass
            time.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX)

    def close(self) -> None:
        self._publisher = None
