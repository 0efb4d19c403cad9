// Upgrade under load (hardening, issue 7): N socket.io-client@4 clients start on long-polling
// and upgrade to WebSocket while the server streams sequence numbers to each of them.
// usage: node hard_upgrade_load.js '<json options>'
//   {url, clients=100, count=200, interval=0.02, timeoutMs=60000, connectSpreadMs=1000,
//    upgradeAfter=10}
// Each client connects (transports polling then websocket: the default upgrade path), asks
// the server to "stream" {count, interval} ("seq" 0..count-1, then "stream_done"), and checks
// every number: lost, duplicated and out-of-order messages are counted per client. It also
// records the sequence number at which its Engine.IO transport switched to WebSocket.
// engine.io-client probes the WebSocket as soon as the polling session opens, often before
// the first message; here each client's probe is held back (by wrapping the engine's `_probe`,
// engine.io-client 6.x) until it has received `upgradeAfter` messages over polling, so that
// every upgrade happens in the middle of the stream.
// Prints one JSON line:
//   {ok, clients, connected, finished, upgraded, upgradedMidStream, received, expected, lost,
//    duplicates, outOfOrder, errors: [...], transports: {name: n}, upgradeAt: {min, median, max}}
const { io } = require("socket.io-client");

const opts = JSON.parse(process.argv[2] || "{}");
const url = opts.url;
const n = opts.clients || 100;
const count = opts.count || 200;
const interval = opts.interval === undefined ? 0.02 : opts.interval;
const timeoutMs = opts.timeoutMs || 60000;
const spreadMs = opts.connectSpreadMs === undefined ? 1000 : opts.connectSpreadMs;
const upgradeAfter = opts.upgradeAfter === undefined ? 10 : opts.upgradeAfter;

const result = {
  ok: false, clients: n, connected: 0, finished: 0, upgraded: 0, upgradedMidStream: 0,
  received: 0, expected: n * count, lost: 0, duplicates: 0, outOfOrder: 0, errors: [],
  transports: {},
};
const upgradeAt = [];
const sockets = [];
let done = false;

function finish() {
  if (done) return;
  done = true;
  for (const s of sockets) s.disconnect();
  upgradeAt.sort((a, b) => a - b);
  result.upgradeAt = upgradeAt.length
    ? { min: upgradeAt[0], median: upgradeAt[upgradeAt.length >> 1], max: upgradeAt[upgradeAt.length - 1] }
    : null;
  result.errors = result.errors.slice(0, 20);
  result.ok = result.finished === n && result.lost === 0 && result.duplicates === 0 &&
    result.outOfOrder === 0 && result.upgraded === n;
  console.log(JSON.stringify(result));
  process.exit(0);
}

setTimeout(() => { result.errors.push("timeout"); finish(); }, timeoutMs);

function start(i) {
  const socket = io(url, { forceNew: true, reconnection: false, transports: ["polling", "websocket"] });
  sockets.push(socket);
  const engine = socket.io.engine; // created synchronously by io(), not yet open
  let heldProbe = null;
  if (upgradeAfter > 0) {
    if (typeof engine._probe !== "function") throw new Error("engine.io-client without _probe");
    const probe = engine._probe.bind(engine);
    engine._probe = (name) => { heldProbe = () => probe(name); };
  }
  const seen = new Set();
  let next = 0;
  let finishedThis = false;
  socket.on("connect", () => {
    result.connected += 1;
    socket.emit("stream", { count, interval });
  });
  engine.on("upgrade", () => {
    result.upgraded += 1;
    upgradeAt.push(next);
    if (next > 0 && next < count) result.upgradedMidStream += 1;
  });
  socket.on("seq", (seq) => {
    result.received += 1;
    if (seen.has(seq)) { result.duplicates += 1; return; }
    seen.add(seq);
    if (seq !== next) {
      result.outOfOrder += 1;
      if (result.errors.length < 50) result.errors.push(`client ${i}: got ${seq}, expected ${next}`);
    }
    next = seq + 1;
    if (heldProbe !== null && seen.size >= upgradeAfter) {
      const run = heldProbe;
      heldProbe = null;
      if (engine.readyState === "open") run();
    }
  });
  socket.on("stream_done", (total) => {
    if (finishedThis) return;
    finishedThis = true;
    result.lost += total - seen.size;
    const t = socket.io.engine.transport.name;
    result.transports[t] = (result.transports[t] || 0) + 1;
    result.finished += 1;
    if (result.finished === n) finish();
  });
  socket.on("connect_error", (err) => { result.errors.push(`client ${i}: connect_error ${err.message}`); });
  socket.on("disconnect", (reason) => {
    if (!finishedThis && !done) result.errors.push(`client ${i}: disconnected (${reason})`);
  });
}

for (let i = 0; i < n; i++) {
  setTimeout(() => start(i), Math.floor((spreadMs * i) / n));
}
