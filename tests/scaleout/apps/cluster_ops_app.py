"""A cluster node for the cluster-wide operation tests (docs/cluster.md).

    SCALE_MESSAGE_QUEUE=redis://127.0.0.1:6379/0 python tests/scaleout/apps/cluster_ops_app.py --port 5001

A client joins rooms with ``join``; a control client on any node runs each cluster-wide
operation with ``op`` ({"op": "fetch" | "join" | "leave" | "disconnect" | "emit" | "burst" |
"call" | "server_call", ...}) and gets its result as the acknowledgement.
"""

from __future__ import annotations

import argparse
import logging
import os
from typing import Any

from flask import Flask, request

from flask_socketio import SocketIO, join_room
from socketio_core.features.cluster import BroadcastTimeoutError

logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

app = Flask(__name__)
# SCALE_NODE_ADAPTER=1: also a member of the Node @socket.io/redis-adapter cluster on that Redis.
socketio = SocketIO(app, message_queue=os.environ["SCALE_MESSAGE_QUEUE"],
                    node_adapter=bool(os.environ.get("SCALE_NODE_ADAPTER")))


@socketio.on("join")
def on_join(room: Any) -> str:
    for r in room if isinstance(room, list) else [room]:
        join_room(r)
    return request.sid  # type: ignore[attr-defined, no-any-return]


@socketio.on_server("hello")
def on_hello(*args: Any) -> Any:
    return {"pid": os.getpid(), "args": list(args)}


@socketio.on("op")
def on_op(spec: dict[str, Any]) -> Any:
    op, to, skip = spec["op"], spec.get("to"), spec.get("skip")
    if op == "fetch":
        try:
            found = socketio.fetch_sockets(to=to, skip_rooms=skip, timeout=spec.get("timeout", 5))
        except TimeoutError as exc:
            return {"timeout": str(exc)}
        return [{"sid": s.sid, "rooms": s.rooms, "address": s.handshake.get("address"),
                 "query": s.handshake.get("query")}
                for s in found]
    if op == "join":
        socketio.sockets_join(spec["rooms"], to=to, skip_rooms=skip)
    elif op == "leave":
        socketio.sockets_leave(spec["rooms"], to=to, skip_rooms=skip)
    elif op == "disconnect":
        socketio.disconnect_sockets(to=to, skip_rooms=skip)
    elif op == "emit":
        socketio.emit(spec["event"], spec.get("data"), to=to, skip_rooms=skip, volatile=spec.get("volatile", False))
    elif op == "burst":  # `count` emits from this one handler, in order
        for i in range(spec["count"]):
            socketio.emit(spec["event"], i, to=to)
    elif op == "call":
        try:
            return {"answers": socketio.call(spec["event"], spec.get("data"), to=to, skip_rooms=skip,
                                             broadcast=to is None, timeout=spec["timeout"])}
        except BroadcastTimeoutError as exc:
            return {"timeout": exc.answers}
    elif op == "server_call":
        try:
            return {"answers": socketio.server_call("hello", os.getpid(), timeout=spec.get("timeout", 5))}
        except BroadcastTimeoutError as exc:
            return {"timeout": exc.answers}
    return "ok"


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    socketio.run(app, host="127.0.0.1", port=parser.parse_args().port)
