"""The brokers against real servers, for each URL form ``message_queue`` accepts:
``redis://``, ``unix://`` and ``redis+sentinel://`` (a real redis-server in sentinel mode), and
``amqp://`` (a real RabbitMQ node, through kombu). Kafka and ZeroMQ URLs are refused."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from scale_support import PYTHON, REPO, RabbitServer, RedisServer, free_port, wait_for

from flask_socketio import SocketIO
from socketio_core.brokers.kombu_broker import KombuBroker, unwrap
from socketio_core.brokers.redis_broker import RedisBroker, parse_sentinel_url
from socketio_core.server.pubsub import PubSubManager, manager_for_url

LISTEN_ONCE = """
import sys
from socketio_core.server.pubsub import manager_for_url
broker = manager_for_url(sys.argv[1], sys.argv[2]).broker
print(next(iter(broker.listen())).decode(), flush=True)
"""


def listen_once(url: str, channel: str, publish: RedisBroker | KombuBroker,
                redis_server: RedisServer | RabbitServer) -> str:
    """A listener process on `url` receives what `publish` publishes once it is subscribed."""
    proc = subprocess.Popen([PYTHON, "-c", LISTEN_ONCE, url, channel], cwd=str(REPO),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: proc.poll() is not None or redis_server.subscribers(channel) >= 1, timeout=15)
        assert proc.poll() is None, proc.communicate()
        publish.publish(b'{"method": "hello"}')
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    return out.strip()


def test_redis_url(redis_server: RedisServer) -> None:
    broker = RedisBroker(redis_server.url, "broker-tcp")
    assert listen_once(redis_server.url, "broker-tcp", broker, redis_server) == '{"method": "hello"}'


@pytest.fixture
def unix_redis(workdir: Path) -> Iterator[tuple[RedisServer, Path]]:
    socket_path = workdir / "redis.sock"
    server = RedisServer(workdir)
    redis_server = shutil.which("redis-server") or "/usr/bin/redis-server"
    with open(server.log, "ab") as log:
        server.proc = subprocess.Popen(
            [redis_server, "--port", str(server.port), "--bind", "127.0.0.1", "--unixsocket", str(socket_path),
             "--save", "", "--appendonly", "no", "--dir", str(workdir)], stdout=log, stderr=subprocess.STDOUT)
    wait_for(lambda: socket_path.exists() and server.ping(), timeout=10)
    try:
        yield server, socket_path
    finally:
        server.stop()


def test_unix_socket_url(unix_redis: tuple[RedisServer, Path]) -> None:
    server, socket_path = unix_redis
    url = f"unix://{socket_path}?db=0"
    manager = manager_for_url(url, channel="broker-unix")
    assert isinstance(manager.broker, RedisBroker)
    assert listen_once(url, "broker-unix", manager.broker, server) == '{"method": "hello"}'


@pytest.fixture
def sentinel(workdir: Path, redis_server: RedisServer) -> Iterator[int]:
    """A redis-server in sentinel mode watching `redis_server` as master ``mymaster``."""
    port = free_port()
    conf = workdir / f"sentinel-{port}.conf"
    conf.write_text(f"port {port}\nbind 127.0.0.1\ndir {workdir}\n"
                    f"sentinel monitor mymaster 127.0.0.1 {redis_server.port} 1\n")
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    with open(workdir / f"sentinel-{port}.log", "ab") as log:
        proc = subprocess.Popen([binary, str(conf), "--sentinel"], stdout=log, stderr=subprocess.STDOUT)
    try:
        import redis

        def knows_master() -> bool:
            try:
                client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)
                try:
                    return client.sentinel_get_master_addr_by_name("mymaster") is not None
                finally:
                    client.close()
            except redis.RedisError:
                return False

        wait_for(knows_master, timeout=15, interval=0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def test_sentinel_url(redis_server: RedisServer, sentinel: int) -> None:
    url = f"redis+sentinel://127.0.0.1:{sentinel}/0/mymaster"
    manager = manager_for_url(url, channel="broker-sentinel")
    assert isinstance(manager.broker, RedisBroker)
    assert listen_once(url, "broker-sentinel", manager.broker, redis_server) == '{"method": "hello"}'


def test_parse_sentinel_url() -> None:
    assert parse_sentinel_url("redis+sentinel://h1:1,h2:2/3/svc") == ([("h1", 1), ("h2", 2)], "svc", {"db": 3})
    assert parse_sentinel_url("redis+sentinel://:p%40ss@h1/0/svc") == (
        [("h1", 26379)], "svc", {"password": "p@ss", "db": 0})
    assert parse_sentinel_url("redis+sentinel://user:pw@h1:5") == (
        [("h1", 5)], "mymaster", {"username": "user", "password": "pw"})


def test_manager_for_url_schemes() -> None:
    for url in ("redis://h:1/0", "rediss://h:1/0", "unix:///tmp/x.sock", "redis+sentinel://h:1/0/m",
                "valkey://h:1/0"):
        manager = manager_for_url(url, channel="c", write_only=True)
        assert isinstance(manager, PubSubManager) and manager.write_only and manager.channel == "c"
        assert isinstance(manager.broker, RedisBroker)
    assert manager.broker.url == "redis://h:1/0"  # type: ignore[attr-defined]  # valkey spelling
    for url in ("amqp://guest:guest@localhost:5672//", "amqps://h//", "pyamqp://h//"):
        manager = manager_for_url(url, channel="c")
        assert isinstance(manager.broker, KombuBroker) and manager.broker.url == url and manager.channel == "c"
    with pytest.raises(ValueError, match="unsupported message queue URL 'sqs://'"):
        manager_for_url("sqs://")


@pytest.mark.parametrize(("url", "named"), [("kafka://h:9092", "Kafka"), ("zmq+tcp://h:5555", "ZeroMQ")])
def test_kafka_and_zeromq_are_refused_at_socketio_naming_what_is_supported(url: str, named: str) -> None:
    """The reference accepts them; here SocketIO(...) says at once that they are not supported
    and which URLs are (docs/deployment.md says why)."""
    with pytest.raises(ValueError) as info:
        SocketIO(message_queue=url)
    message = str(info.value)
    assert f"{named} is not supported" in message
    assert "redis://" in message and "amqp://" in message


def test_amqp_url(rabbit_server: RabbitServer) -> None:
    """A listener process on ``amqp://`` receives what a publisher publishes once its queue is
    bound to the channel's exchange."""
    broker = KombuBroker(rabbit_server.url, "broker-amqp")
    assert listen_once(rabbit_server.url, "broker-amqp", broker, rabbit_server) == '{"method": "hello"}'
    broker.close()


def test_publish_fails_fast_when_rabbitmq_is_unreachable() -> None:
    """No RabbitMQ: publish raises (the manager logs and drops), one connection attempt per
    try, never kombu's retry-after-sleep loop."""
    broker = KombuBroker(f"amqp://guest:guest@127.0.0.1:{free_port()}//", "nowhere")
    with pytest.raises(Exception) as info:
        broker.publish(b"x")
    assert "refused" in str(info.value).lower()


def test_unwrap_python_socketio_envelopes() -> None:
    """python-socketio's KombuManager publishes its JSON text as a JSON string: unwrapped once;
    our raw JSON, and anything that is not JSON, pass as they are (the manager refuses the
    latter)."""
    assert unwrap('"{\\"method\\": \\"emit\\"}"') == b'{"method": "emit"}'
    assert unwrap(b'{"method": "emit"}') == b'{"method": "emit"}'
    assert unwrap(b'"just text"') == b"just text"
    assert unwrap(b'"unterminated') == b'"unterminated'
    assert unwrap(b"\x80\x04pickle") == b"\x80\x04pickle"


def test_publish_fails_fast_when_redis_is_unreachable() -> None:
    """No Redis: publish raises at once (the manager logs and drops), never hangs."""
    broker = RedisBroker(f"redis://127.0.0.1:{free_port()}/0", "nowhere")
    with pytest.raises(Exception) as info:
        broker.publish(b"x")
    assert "connect" in str(info.value).lower()


@pytest.mark.parametrize("codec_name", ["json", "msgpack"])
@pytest.mark.parametrize("namespace", ["/", "/chat"])
@pytest.mark.parametrize("args", [["hi", {"n": 1}], ["bin", b"\x00\x01", {"x": [b"\xff"]}]])
def test_received_packets_are_checked_without_decoding(codec_name: str, namespace: str, args: list[object]) -> None:
    """A receiving node forwards the sender's encoded packet after a cheap check: every packet
    our codecs produce passes, for any namespace; a packet for another namespace or of another
    type does not."""
    from engineio_core import EncodedMessage
    from socketio_core import JSONCodec, MsgPackCodec, PacketType, SocketPacket
    from socketio_core.server.pubsub import _check_event_parts

    codec = JSONCodec() if codec_name == "json" else MsgPackCodec()
    parts = [EncodedMessage.message(p) for p in codec.encode(SocketPacket(PacketType.EVENT, namespace, ["ev", *args]))]
    _check_event_parts(parts, namespace)
    if codec_name == "json":
        with pytest.raises(ValueError):
            _check_event_parts(parts, "/other")
        ack = [EncodedMessage.message(p) for p in codec.encode(SocketPacket(PacketType.ACK, namespace, [1], 3))]
        with pytest.raises(ValueError):
            _check_event_parts(ack, namespace)
        if len(parts) > 1:
            with pytest.raises(ValueError):
                _check_event_parts(parts[:-1], namespace)  # an attachment missing
