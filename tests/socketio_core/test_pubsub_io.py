"""Where `PubSubManager` runs the broker's blocking calls: wherever the engine's driver puts
blocking I/O (`Driver.blocking_io()`), never on the event loop's thread unless sockets are
cooperative (gevent with a monkey-patched socket module: greenlets then)."""

from __future__ import annotations

import _thread
import queue
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from socketio_core.server.pubsub import PubSubManager
from socketio_core.server.server import SocketServer

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 10


class RecordingBroker:
    """Records the OS thread each blocking call runs in; `listen()` blocks until closed."""

    def __init__(self) -> None:
        self.listen_thread: int | None = None
        self.publish_thread: int | None = None
        self.listening = threading.Event()
        self.published = threading.Event()
        self._messages: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()

    def publish(self, data: bytes) -> None:
        self.publish_thread = _thread.get_ident()
        self.published.set()

    def listen(self) -> Iterator[bytes]:
        self.listen_thread = _thread.get_ident()
        self.listening.set()
        yield from iter(self._messages.get, None)

    def close(self) -> None:
        self._messages.put(None)


@pytest.mark.parametrize("async_mode", ["threading", "gevent"])
def test_broker_calls_run_in_os_threads_of_their_own(async_mode: str) -> None:
    """Threading driver, and gevent without monkey-patching: the broker's blocking calls would
    stop the hub, so they run in real threads."""
    broker = RecordingBroker()
    manager = PubSubManager(broker)
    SocketServer(async_mode=async_mode, client_manager=manager)
    try:
        manager.initialize()
        assert broker.listening.wait(TIMEOUT)
        manager.close_room("some-room", "/")  # published for the other processes
        assert broker.published.wait(TIMEOUT)
    finally:
        broker.close()
    here = _thread.get_ident()
    assert broker.listen_thread not in (None, here)
    assert broker.publish_thread not in (None, here)
    assert broker.listen_thread != broker.publish_thread


def test_broker_calls_run_in_greenlets_when_sockets_are_patched() -> None:
    """gevent with a monkey-patched socket module: the broker's sockets are cooperative, so
    its calls run in greenlets on the hub's thread."""
    script = textwrap.dedent(
        """
        from gevent import monkey
        monkey.patch_all()
        import gevent, gevent.event
        from socketio_core.server.pubsub import PubSubManager
        from socketio_core.server.server import SocketServer

        real_ident = monkey.get_original("_thread", "get_ident")
        seen = {}
        done = gevent.event.Event()

        class Broker:
            def publish(self, data):
                seen["publish"] = real_ident()
                done.set()
            def listen(self):
                seen["listen"] = real_ident()
                while True:
                    gevent.sleep(3600)
                yield b""
            def close(self):
                pass

        manager = PubSubManager(Broker())
        SocketServer(async_mode="gevent", client_manager=manager)
        manager.initialize()
        manager.close_room("some-room", "/")
        assert done.wait(10), "nothing published"
        gevent.sleep(0)
        here = real_ident()
        print(seen["listen"] == here, seen["publish"] == here)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True"]
