// Which broadcasts Node socket.io 4.x replays on connection state recovery (the reference for
// socketio_core's replay log, tests/recovery/test_recovery_js_client.py). A Node server with
// recovery on; a client joins "r", gets one packet (its first offset), drops; while it is away
// the server broadcasts each emit form; the client reconnects and prints what it got:
// {"recovered": bool, "got": [[tag, ...args (the offset as "string")]...]}
const { Server } = require("socket.io");
const { io } = require("socket.io-client");

const srv = new Server(0, { connectionStateRecovery: { maxDisconnectionDuration: 60000, skipMiddlewares: true } });
const port = srv.httpServer.address().port;
let onDisconnect = null;
srv.on("connection", (s) => {
  s.on("join", (room, ack) => { s.join(room); ack(); });
  s.on("disconnect", () => onDisconnect && onDisconnect());
});
const c = io(`http://127.0.0.1:${port}`, { transports: ["websocket"], reconnectionDelay: 50 });
const got = [];
c.on("tick", (...a) => got.push(a.slice(0, -1).concat(typeof a[a.length - 1])));
c.once("connect", async () => {
  await new Promise((r) => c.emit("join", "r", r));
  srv.to("r").emit("tick", "first");
  await new Promise((r) => setTimeout(r, 100));
  c.io.reconnection(false);
  const sid = c.id; // undefined while disconnected
  onDisconnect = () => {
    for (let i = 0; i < 3; i++) srv.to("r").except("muted").emit("tick", "skip_rooms", i);
    srv.to("r").volatile.emit("tick", "volatile");
    srv.to("r").timeout(100).emit("tick", "ack", () => {});
    srv.to("r").emit("tick", "plain");
    srv.except(sid).emit("tick", "except-self");
    srv.to("r").except("r").emit("tick", "except-own-room");
    c.once("connect", () => setTimeout(() => {
      console.log(JSON.stringify({ recovered: c.recovered, got }));
      process.exit(0);
    }, 300));
    c.io.reconnection(true);
    c.connect();
  };
  c.io.engine.close();
});
setTimeout(() => process.exit(2), 20000); // bounded
