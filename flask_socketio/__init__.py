"""flask_socketio: the Flask-SocketIO 5.x API on a from-scratch Socket.IO stack.

An application written for Flask-SocketIO runs unchanged::

    from flask import Flask
    from flask_socketio import SocketIO, emit

    app = Flask(__name__)
    socketio = SocketIO(app)

    @socketio.on('my event')
    def handle(data):
        emit('my response', data)

    if __name__ == '__main__':
        socketio.run(app)
"""

from socketio_core.exceptions import ConnectionRefusedError

from .context import call, close_room, disconnect, emit, join_room, leave_room, rooms, send
from .extension import SocketIO
from .namespace import Namespace
from .test_client import SocketIOTestClient

__version__ = "5.7.0"

__all__ = [
    "ConnectionRefusedError",
    "Namespace",
    "SocketIO",
    "SocketIOTestClient",
    "call",
    "close_room",
    "disconnect",
    "emit",
    "join_room",
    "leave_room",
    "rooms",
    "send",
]
