"""The workers' local bus (socketio_core/brokers/local_bus.py), brokers of one process standing
for workers: real Unix sockets in a temporary directory, listeners in threads."""

from __future__ import annotations

import queue
import socket
import threading
from pathlib import Path

from socketio_core.brokers.local_bus import LocalBusBroker, bus_path
from tests.conftest import wait_for


class Listening:
    """A broker whose `listen()` runs in a thread, feeding `received`."""

    def __init__(self, directory: Path, tag: str) -> None:
        self.broker = LocalBusBroker(str(directory), tag)
        self.received: queue.Queue[bytes] = queue.Queue()
        self.broker.start()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        try:
            for message in self.broker.listen():
                self.received.put(message)
        except OSError:
            pass  # closed

    def take(self, count: int) -> list[bytes]:
        return [self.received.get(timeout=10) for _ in range(count)]


def test_messages_reach_every_other_worker_once_in_the_order_published(tmp_path: Path) -> None:
    a, b, c = (Listening(tmp_path, tag) for tag in "012")
    for worker in (a, b, c):
        wait_for(lambda w=worker: w.broker.subscriber_count() == 3, timeout=10)
    a.broker.publish_many([b"a%d" % i for i in range(500)])
    for i in range(500, 1000):
        a.broker.publish(b"a%d" % i)
    big = b"x" * 3_000_000  # a frame larger than any socket buffer
    b.broker.publish(big)
    expected = [b"a%d" % i for i in range(1000)]
    assert b.take(1000) == expected
    assert c.take(1000) == expected
    assert a.take(1) == [big] and c.take(1) == [big]
    assert a.received.empty(), "nothing is echoed to the publisher"
    for worker in (a, b, c):
        worker.broker.close()


def test_a_restarted_worker_is_reached_again_and_a_dead_one_is_dropped(tmp_path: Path) -> None:
    a, b = Listening(tmp_path, "0"), Listening(tmp_path, "1")
    wait_for(lambda: a.broker.subscriber_count() == 2 and b.broker.subscriber_count() == 2, timeout=10)
    a.broker.publish(b"before")
    assert b.take(1) == [b"before"]
    b.broker.close()  # the worker of slot 1 dies...
    a.broker.publish(b"lost")  # pub/sub has no memory: nobody gets this one
    wait_for(lambda: a.broker.subscriber_count() == 1, timeout=10)
    b2 = Listening(tmp_path, "1")  # ...and its successor takes the slot (same tag, new pid)
    wait_for(lambda: a.broker.subscriber_count() == 2, timeout=10)
    a.broker.publish(b"after")
    assert b2.take(1) == [b"after"]
    b2.broker.publish(b"hello a")
    assert a.take(1) == [b"hello a"]
    a.broker.close()
    b2.broker.close()


def test_a_connection_that_does_not_say_hello_is_dropped(tmp_path: Path) -> None:
    a = Listening(tmp_path, "0")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as rogue:
        rogue.connect(bus_path(str(tmp_path), "0"))
        rogue.sendall(b"\x00\x00\x00\x05howdy" + b"\x00\x00\x00\x01x")
        rogue.settimeout(10)
        assert rogue.recv(10) == b""  # closed by the bus
    b = Listening(tmp_path, "1")
    wait_for(lambda: a.broker.subscriber_count() == 2, timeout=10)
    b.broker.publish(b"still works")
    assert a.take(1) == [b"still works"]
    a.broker.close()
    b.broker.close()
