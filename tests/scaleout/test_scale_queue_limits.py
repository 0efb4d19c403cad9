"""Issue 21 #6: a size cap of the server's own on messages from the queue, against a real
redis-server and the server in a subprocess (its RSS read from /proc)."""

from __future__ import annotations

import json
import os
import sys
import urllib.request

from scale_support import REPO, RedisServer, wait_for

from socketio_core.server.pubsub import MAX_QUEUE_MESSAGE_BYTES

sys.path.insert(0, os.path.join(str(REPO), "scripts"))
from hardening_server import TargetServer  # noqa: E402

MIB_KB = 1024


def test_an_oversized_queue_message_is_refused_before_decoding(redis_server: RedisServer) -> None:
    """A 64 MB emit published on the channel (Redis's client-output limit would not stop
    it): refused with a log line before it is decoded, and freed at once: RSS stays flat;
    the server logs no error of its own and stays up."""
    server = TargetServer("--message-queue", redis_server.url).start()
    try:
        with urllib.request.urlopen(f"{server.url}/socket.io/?EIO=4&transport=polling", timeout=10) as resp:
            assert resp.status == 200  # the first Engine.IO request starts the listener
        redis_server.wait_subscribers(1, channel="flow-test")
        client = redis_server.client()
        client.config_set("client-output-buffer-limit", "pubsub 0 0 0")  # as in the issue: off
        before = server.rss_kb()
        huge = json.dumps({"method": "emit", "event": "news", "namespace": "/", "room": None,
                           "data": "x" * (64 * 1024 * 1024), "host_id": "elsewhere"})
        assert len(huge) > MAX_QUEUE_MESSAGE_BYTES
        client.publish("flow-test", huge)
        del huge
        wait_for(lambda: "ignoring a message on the queue of" in server.log(), timeout=30)
        growth = server.rss_kb() - before
        print(f"RSS growth after a 64 MB queue message: {growth} KiB")
        assert growth < 32 * MIB_KB, f"RSS grew by {growth} KiB"
        assert server.alive() and server.stats()["logged_errors"] == 0
    finally:
        server.stop()
