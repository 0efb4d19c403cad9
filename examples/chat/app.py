"""The chat example: rooms, namespaces and acknowledgements, served with the official
Socket.IO JavaScript client (installed from npm by scripts/setup.sh, never committed).

    make run            # or: .venv/bin/python examples/chat/app.py [--port 5000]

Open http://127.0.0.1:5000 in two browser tabs, pick a name and a room, and chat.
"""

from __future__ import annotations

import argparse
import os
import time

from flask import Flask, abort, render_template, request, send_file, session

from flask_socketio import SocketIO, emit, join_room, leave_room, rooms

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLIENT_JS = os.path.join(ROOT, "node_modules", "socket.io-client", "dist", "socket.io.min.js")

app = Flask(__name__)
app.config["SECRET_KEY"] = os.environ.get("CHAT_SECRET_KEY", "chat-example-secret")
# Connection state recovery: a page whose connection drops for up to two minutes comes back
# with its sid, its room and the chat lines it missed (socket.recovered in the page).
# The official Socket.IO Admin UI, served at /admin-ui/ when CHAT_ADMIN_PASSWORD is set (log in
# as "admin"; Server URL: this app's address, Advanced options → Admin namespace: /monitor).
ADMIN_PASSWORD = os.environ.get("CHAT_ADMIN_PASSWORD")
admin_ui = None
if ADMIN_PASSWORD:
    admin_ui = {"auth": {"username": "admin", "password": ADMIN_PASSWORD}, "namespace": "/monitor",
                "ui_path": "/admin-ui", "server_id": os.environ.get("CHAT_SERVER_ID")}
socketio = SocketIO(app, message_queue=os.environ.get("CHAT_MESSAGE_QUEUE") or None,
                    connection_state_recovery={"max_disconnection_duration": 120}, admin_ui=admin_ui)
HISTORY_LIMIT = 50
history: dict[str, list[dict[str, object]]] = {}


@app.route("/")
def index() -> str:
    return render_template("index.html")


@app.route("/socket.io.min.js")
def client_js():  # type: ignore[no-untyped-def]
    if not os.path.exists(CLIENT_JS):
        abort(404, "run scripts/setup.sh to install the Socket.IO client from npm")
    return send_file(CLIENT_JS, mimetype="application/javascript")


@socketio.on("connect")
def on_connect(auth):  # type: ignore[no-untyped-def]
    name = (auth or {}).get("name") or "anonymous"
    session["name"] = str(name)[:32]
    emit("server_info", {"sid": request.sid, "pid": os.getpid()})


@socketio.on("join")
def on_join(data):  # type: ignore[no-untyped-def]
    """Join a room as the name typed in the page (given at connect time in ``auth`` too, but
    the user may have changed it since); the ACK carries the room's recent history."""
    name = str(data.get("name") or "").strip()[:32]
    if name:
        session["name"] = name
    room = str(data.get("room") or "lobby")[:32]
    for old in rooms():
        if old != request.sid:
            leave_room(old)
            emit("notice", f"{session['name']} left {old}", to=old)
    join_room(room)
    session["room"] = room
    emit("notice", f"{session['name']} joined {room}", to=room)
    return {"room": room, "history": history.get(room, [])}


@socketio.on("chat")
def on_chat(text):  # type: ignore[no-untyped-def]
    """A chat line to everyone in the sender's room; the ACK is the server's timestamp."""
    room = session.get("room")
    if room is None:
        return {"error": "join a room first"}
    message = {"name": session["name"], "text": str(text)[:500], "ts": time.time()}
    lines = history.setdefault(room, [])
    lines.append(message)
    del lines[:-HISTORY_LIMIT]
    emit("chat", message, to=room)
    return {"ok": True, "ts": message["ts"]}


@socketio.on("who", namespace="/admin")
def on_who():  # type: ignore[no-untyped-def]
    """A second namespace: how many clients the main namespace has (this process)."""
    participants = socketio.server.manager.get_participants("/", None)
    return {"connected": sum(1 for _ in participants)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 5000)))
    args = parser.parse_args()
    print(f"Chat example on http://{args.host}:{args.port}", flush=True)
    socketio.run(app, host=args.host, port=args.port)
