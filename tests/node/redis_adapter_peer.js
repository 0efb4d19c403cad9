// A Node socket.io server on @socket.io/redis-adapter (argv[2]: JSON {port, redis}), and the
// @socket.io/redis-emitter, driven over stdin (one JSON command a line), for the interop tests.
// Clients may "join" (ack: their id). Commands:
//   {"cmd": "emit", "to": room|null, "event", "data"}          io.to(room).emit(...) on this server
//   {"cmd": "fetch", "id", "to": room|null}                     io.in(room).fetchSockets() -> {"type": "fetched", id, sockets}
//   {"cmd": "emitter", "to": room|[rooms]|null, "except", "volatile", "event", "data"}   the redis-emitter
//   {"cmd": "emitter_join", "to": room, "rooms": [...]}          emitter.in(room).socketsJoin(rooms)
// stdout: {"type": "ready"} once listening and subscribed.
const { createServer } = require("http");
const { Server } = require("socket.io");
const { createAdapter } = require("@socket.io/redis-adapter");
const { Emitter } = require("@socket.io/redis-emitter");
const { createClient } = require("redis");

const opts = JSON.parse(process.argv[2]);
const out = (obj) => console.log(JSON.stringify(obj));

(async () => {
  const pub = createClient({ url: opts.redis });
  const sub = pub.duplicate();
  const emitterClient = pub.duplicate();
  for (const c of [pub, sub, emitterClient]) c.on("error", (err) => out({ type: "log", message: String(err) }));
  await Promise.all([pub.connect(), sub.connect(), emitterClient.connect()]);
  const httpServer = createServer();
  const io = new Server(httpServer, { adapter: createAdapter(pub, sub, { requestsTimeout: 3000 }) });
  io.on("connection", (socket) => {
    socket.on("join", (room, ack) => {
      socket.join(room);
      ack(socket.id);
    });
  });
  const emitter = new Emitter(emitterClient);
  httpServer.listen(opts.port, "127.0.0.1", () => setTimeout(() => out({ type: "ready" }), 200));
  require("readline").createInterface({ input: process.stdin }).on("line", async (line) => {
    const c = JSON.parse(line);
    try {
      if (c.cmd === "emit") (c.to ? io.to(c.to) : io).emit(c.event, c.data);
      else if (c.cmd === "fetch") {
        const sockets = await (c.to ? io.in(c.to) : io).fetchSockets();
        out({ type: "fetched", id: c.id, sockets: sockets.map((s) => ({ id: s.id, rooms: [...s.rooms] })) });
      } else if (c.cmd === "emitter") {
        let op = c.to ? emitter.to(c.to) : emitter;
        if (c.except) op = op.except(c.except);
        if (c.volatile) op = op.volatile;
        op.emit(c.event, c.data);
      } else if (c.cmd === "emitter_join") emitter.in(c.to).socketsJoin(c.rooms);
      else if (c.cmd === "exit") process.exit(0);
      out({ type: "done", cmd: c.cmd });
    } catch (err) {
      out({ type: "error", message: String(err) });
    }
  });
  setTimeout(() => process.exit(2), 120000); // bounded
})().catch((err) => { out({ type: "error", message: String(err) }); process.exit(1); });
