// The benchmark app on Node: the same app as benchmarks/app.py, served by socket.io@4 (the
// `node_modules/socket.io` that scripts/setup.sh installs from package.json), so that the suite
// can put this project next to Node as it puts it next to the reference stack.
//
//   node benchmarks/app.js --port 5003
//
// The same app means the same events, answers and settings:
//
// * `echo(...args)`: acknowledges with its arguments (Flask-SocketIO's `return args`: a tuple
//   is spread into the ack's arguments).
// * `join(room)`: joins `room`; acks `true`.
// * `broadcast({room, count, size})`: emits `count` `bcast` events `{"i": i, "pad": ...}` to
//   `room`, the sender included when it is a member (Flask-SocketIO's `emit(..., to=room)`
//   from a handler includes the sender: `io.to(room)` here, not `socket.to(room)`); acks
//   `count` after the last one.
// * Engine.IO settings as Flask-SocketIO's defaults (and socket.io's): both transports, ping
//   every 25 s with a 20 s timeout, 1 MB maximum message, no per-message deflate on WebSocket,
//   HTTP compression of long-polling bodies above 1 KB, no CORS headers (same origin only).
//
// `--workers N`: Node's answer to `socketio.run(app, workers=N)`: a primary process that owns
// the port and N workers (node's cluster module), `@socket.io/sticky` routing each connection to
// the worker that owns its session (least-connection for new ones) and
// `@socket.io/cluster-adapter` carrying broadcasts between the workers over the cluster's IPC.
//
// `GET /bench/info` answers {"stack": "node", "socket.io": <version>, "pid", ...} (the suite
// checks it is measuring the server it started); the same line is printed at start-up.
"use strict";
const fs = require("fs");
const http = require("http");
const path = require("path");
const { Server } = require("socket.io");

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const host = arg("--host", "127.0.0.1");
const port = Number(arg("--port", "5000"));
const workers = Number(arg("--workers", "0"));
const cluster = require("cluster");
const sioPath = require.resolve("socket.io");

// The version in the package.json above a resolved module (engine.io's `exports` hide it).
function packageVersion(name) {
  let dir = path.dirname(require.resolve(name));
  while (dir !== path.dirname(dir)) {
    const file = path.join(dir, "package.json");
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, "utf8"));
      if (pkg.name === name) return pkg.version;
    }
    dir = path.dirname(dir);
  }
  return "unknown";
}
const sioVersion = packageVersion("socket.io");
const eioVersion = packageVersion("engine.io");

function info() {
  return {
    stack: "node",
    "socket.io": sioVersion,
    "engine.io": eioVersion,
    socketio_module: path.resolve(sioPath),
    node: process.version,
    pid: process.pid,
    ppid: process.ppid,
  };
}

if (workers > 1 && cluster.isPrimary) {
  const { setupMaster } = require("@socket.io/sticky");
  const { setupPrimary } = require("@socket.io/cluster-adapter");
  const primary = http.createServer();
  setupMaster(primary, { loadBalancingMethod: "least-connection" });
  setupPrimary();
  for (let i = 0; i < workers; i++) cluster.fork();
  let stopping = false;
  cluster.on("exit", () => { if (!stopping) cluster.fork(); });
  const stopAll = () => {
    stopping = true;
    for (const worker of Object.values(cluster.workers)) worker.kill();
    primary.close();
    setTimeout(() => process.exit(0), 100).unref();
  };
  process.on("SIGTERM", stopAll);
  process.on("SIGINT", stopAll);
  primary.listen(port, host, () => process.stdout.write(JSON.stringify({ ...info(), primary: true }) + "\n"));
  return; // the primary serves nothing itself
}

const httpServer = http.createServer((req, res) => {
  if (req.method === "GET" && req.url === "/bench/info") {
    const body = JSON.stringify(info());
    res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
    res.end(body);
    return;
  }
  if (!req.url.startsWith("/socket.io/")) {
    res.writeHead(404, { "Content-Type": "text/plain" });
    res.end("not found");
  }
});

const io = new Server(httpServer, {
  transports: ["polling", "websocket"],
  allowUpgrades: true,
  pingInterval: 25000,
  pingTimeout: 20000,
  maxHttpBufferSize: 1e6,
  perMessageDeflate: false,
  httpCompression: { threshold: 1024 },
  serveClient: false,
  // The suite's S1m: the msgpack parser (socket.io-msgpack-parser), as `serializer="msgpack"`.
  ...(process.env.BENCH_SERIALIZER === "msgpack" ? { parser: require("socket.io-msgpack-parser") } : {}),
});

if (workers > 1) {
  const { setupWorker } = require("@socket.io/sticky");
  const { createAdapter } = require("@socket.io/cluster-adapter");
  io.adapter(createAdapter());
  setupWorker(io);
}

io.on("connection", (socket) => {
  socket.on("echo", (...args) => {
    const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    if (ack) ack(...args);
  });
  socket.on("join", (room, ack) => {
    socket.join(room);
    if (typeof ack === "function") ack(true);
  });
  socket.on("broadcast", (spec, ack) => {
    const room = spec.room;
    const count = Number(spec.count) | 0;
    const pad = "x".repeat(Number(spec.size || 0) | 0);
    for (let i = 0; i < count; i++) io.to(room).emit("bcast", { i, pad });
    if (typeof ack === "function") ack(count);
  });
});

function stop() {
  io.close();
  httpServer.close();
  setTimeout(() => process.exit(0), 100).unref();
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

if (!(workers > 1)) {
  httpServer.listen(port, host, () => {
    process.stdout.write(JSON.stringify(info()) + "\n");
  });
}
