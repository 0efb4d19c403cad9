"""CVE-2025-61765 (pickle RCE through the message queue), without a Redis server.

A `PubSubManager` over an in-memory broker: whatever arrives on the channel is parsed as JSON
only — a pickle, bytes that are not JSON, JSON of the wrong shape, a packet that would smuggle
another namespace or a binary header — and is ignored with a warning; the server keeps serving
and a well-formed message from another node is still applied. Everything the server publishes
is JSON. (tests/scaleout/test_scale_cluster.py::test_garbage_on_the_channel_is_ignored_and_logged
does the same through a real redis-server.)
"""

from __future__ import annotations

import json
import logging
import pickle
import queue
from collections.abc import Iterator

from hard_support import LogRecorder, wait_for

from socketio_core.server.pubsub import PubSubManager


class MemoryBroker:
    """The broker interface (`publish`, `listen`, `close`) over an in-process queue."""

    def __init__(self) -> None:
        self.inbox: queue.Queue[bytes | None] = queue.Queue()
        self.published: list[bytes] = []

    def publish(self, data: bytes) -> None:
        self.published.append(data)

    def listen(self) -> Iterator[bytes]:
        while (item := self.inbox.get()) is not None:
            yield item

    def close(self) -> None:
        self.inbox.put(None)


class Exploit:
    """Unpickling this would run a command: it must never be unpickled."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return (os.system, ("touch /tmp/hardening-pwned",))


GARBAGE = [
    pickle.dumps(Exploit()),
    pickle.dumps({"method": "emit", "event": "news", "data": "pickled", "namespace": "/"}),
    b"\x80\x04not json at all",
    b"[1, 2, 3]",
    b'"just a string"',
    b'{"method": 5}',
    b'{"method": "emit", "event": 7, "namespace": "/"}',
    b'{"method": "emit", "event": "news", "namespace": "no-slash"}',
    b'{"method": "emit", "event": "news", "namespace": "/", "room": {"a": 1}}',
    b'{"method": "emit", "event": "news", "namespace": "/", "v": 1, "packet": ["2/other,[\\"news\\"]"]}',
    b'{"method": "emit", "event": "news", "namespace": "/", "v": 1, "packet": ["51-[\\"news\\",{\\"_placeholder\\":true,\\"num\\":0}]"]}',
    b'{"method": "emit", "event": "news", "namespace": "/", "binary": true, "data": 5}',
    b'{"method": "disconnect", "sid": ["not", "a", "sid"], "namespace": "/"}',
    b'{"method": "enter_room", "sid": 1, "namespace": "/", "room": "x"}',
    b'{"method": "__class__"}',
    b'{"method": "emit", "event": "news", "data": "' + b"\\ud800" + b'", "namespace": "/", "callback": [1, 2]}',
]


def test_queue_carries_json_only_and_ignores_garbage() -> None:
    import os

    from hard_support import sio_env

    broker = MemoryBroker()
    logs = LogRecorder()
    queue_logger = logging.getLogger("hardening.queue")
    queue_logger.setLevel(logging.DEBUG)
    queue_logger.propagate = False
    queue_logger.addHandler(logs)
    manager = PubSubManager(broker, logger=queue_logger)
    with sio_env(client_manager=manager) as env:
        env.sio.emit("local", "published by us")
        wait_for(lambda: broker.published)
        for raw in GARBAGE:
            broker.inbox.put(raw)
        broker.inbox.put(json.dumps({"method": "emit", "event": "news", "data": "from another node",
                                     "namespace": "/", "room": None, "host_id": "other"}).encode())
        bystander = env.bystanders[0]
        assert bystander.next_event() == '42["local","published by us"]'
        assert bystander.next_event() == '42["news","from another node"]'  # nothing before it
        env.assert_served()
        # Applied in order, so every piece of garbage was handled before the good message.
        # Each is ignored; all but two (a disconnect / enter_room naming no sid held here,
        # which are no-ops for python-socketio too) say so in the log.
        messages = logs.messages()
        assert len(messages) == len(GARBAGE) - 2, messages
        assert all(m.startswith("ignoring") for m in messages), messages
        assert messages[:2] == ["ignoring a message on the queue that is not JSON"] * 2  # the pickles
        assert not os.path.exists("/tmp/hardening-pwned")
        for data in broker.published:
            assert isinstance(json.loads(data), dict)  # JSON, never a pickle
        broker.close()


def test_a_crafted_remote_emit_of_another_kind_or_namespace_reaches_nobody() -> None:
    """Issue 21 #7 (two surviving mutants): an emit from the queue whose encoded packet is
    not an EVENT (a DISCONNECT, an ACK, a CONNECT) or is for another namespace than the one it
    names (``/chat`` carrying ``/other``) reaches no client; the next good one does."""
    from hard_support import RawWS, sio_env

    broker = MemoryBroker()
    manager = PubSubManager(broker)
    with sio_env(client_manager=manager, namespaces="*") as env:
        env.sio.emit("local", "published by us")
        wait_for(lambda: broker.published)
        bystander = env.bystanders[0]
        assert bystander.next_event() == '42["local","published by us"]'
        chat = RawWS(env.port)
        chat.open()
        chat.send_text("40/chat,")
        assert str(chat.recv_message()).startswith("40/chat,")

        def remote(namespace: str, packet: str) -> bytes:
            return json.dumps({"method": "emit", "event": "news", "namespace": namespace, "room": None,
                               "v": 1, "packet": [packet], "host_id": "other"}).encode()

        for crafted in (remote("/", "1"), remote("/", '3["news"]'), remote("/", '0{"sid":"x"}'),
                        remote("/chat", '1/chat,'), remote("/chat", '2/other,["news"]'),
                        remote("/chat", '2["news"]')):
            broker.inbox.put(crafted)
        broker.inbox.put(remote("/", '2["news","good"]'))
        broker.inbox.put(remote("/chat", '2/chat,["news","good"]'))
        assert bystander.next_event() == '42["news","good"]'  # nothing before it
        assert chat.recv_message() == '42/chat,["news","good"]'
        env.assert_served()
        chat.close()
        broker.close()


def test_the_queue_applier_never_waits_for_a_stalled_client() -> None:
    """Issue 21 #7: messages from another node reach a healthy client while a client that
    stopped reading has a full buffer (the applier serves every client of the node: it must
    not wait for one; mutant: the applier waits like a producer task)."""
    from hard_support import RawWS, sio_env

    broker = MemoryBroker()
    manager = PubSubManager(broker)
    with sio_env(client_manager=manager, stall_timeout=60.0) as env:
        env.sio.emit("local", "published by us")
        wait_for(lambda: broker.published)
        healthy = env.bystanders[0]
        assert healthy.next_event() == '42["local","published by us"]'
        stalled = RawWS(env.port, rcvbuf=4096)
        stalled.sio_connect()  # and never reads again
        padding = "p" * 100_000
        for i in range(100):  # 10 MB to everyone: far past what the stalled one's socket buffers hold
            broker.inbox.put(json.dumps({"method": "emit", "event": "news", "data": [i, padding], "namespace": "/",
                                         "room": None, "host_id": "other"}).encode())
        for i in range(100):
            got = healthy.next_event(timeout=10)
            assert got.startswith(f'42["news",{i},"ppp'), got[:40]
        stalled.close()
        broker.close()
