// A Node engine.io@6 server on 127.0.0.1 (an ephemeral port), for side-by-side comparisons of
// what goes on the wire (tests/engineio_core/test_node_parity.py).
// usage: node eio_server.js '<json options>'   ({path, cors, pingInterval, pingTimeout, maxHttpBufferSize})
// Prints one JSON line {"port": N} once listening; echoes every message; exits when stdin ends.
const http = require("http");
const { Server } = require("engine.io");
const opts = JSON.parse(process.argv[2] || "{}");
const httpServer = http.createServer((req, res) => {
  res.writeHead(404);
  res.end();
});
const engine = new Server({
  path: opts.path ?? "/socket.io/",
  cors: opts.cors,
  pingInterval: opts.pingInterval ?? 25000,
  pingTimeout: opts.pingTimeout ?? 20000,
  maxHttpBufferSize: opts.maxHttpBufferSize ?? 1e6,
});
engine.attach(httpServer, { path: opts.path ?? "/socket.io/" });
engine.on("connection", (socket) => {
  socket.on("message", (data) => socket.send(data));
});
httpServer.listen(0, "127.0.0.1", () => {
  console.log(JSON.stringify({ port: httpServer.address().port }));
});
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
