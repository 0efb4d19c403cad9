// Engine.IO echo load generator with the official engine.io-client@6 (used by benchmarks/bench_echo.py).
// usage: node eio_load.js '<json options>'
//   {url, clients, seconds, transports, upgrade, size, binary, window, keepAlive, openTimeoutMs}
// Opens `clients` sockets (waiting for the upgrade when `upgrade` is set), then runs a
// closed-loop echo for `seconds`: each client keeps `window` messages in flight and sends the
// next one when an echo comes back. Prints one JSON line: round trips per second, latency
// percentiles (ms), and this process's own CPU time (process.cpuUsage) during the run.
// Polling note: the client's node XHR opens a new TCP connection per request unless it is given
// an agent; `keepAlive: true` passes a keep-alive http.Agent (browsers keep connections alive).
const http = require("http");
const { Socket } = require("engine.io-client");
const opts = JSON.parse(process.argv[2] || "{}");
const clients = opts.clients ?? 10;
const seconds = opts.seconds ?? 5;
const size = opts.size ?? 32;
const windowSize = opts.window ?? 1;
const wantUpgrade = opts.upgrade ?? false;
const payloadText = "x".repeat(size);
const payloadBin = new Uint8Array(size);
const agent = opts.keepAlive ? new http.Agent({ keepAlive: true }) : false;

const sockets = [];
let ready = 0;
let running = false;
let completed = 0;
let errors = 0;
const latencies = [];

const openTimer = setTimeout(() => report("open timeout"), opts.openTimeoutMs ?? 15000);

function sendOne(socket) {
  socket._sentAt.push(process.hrtime.bigint());
  socket.send(opts.binary ? payloadBin : payloadText);
}

for (let i = 0; i < clients; i++) {
  const socket = new Socket(opts.url, {
    transports: opts.transports ?? ["websocket"],
    upgrade: wantUpgrade,
    agent,
  });
  socket._sentAt = [];
  socket.on("open", () => {
    if (wantUpgrade) socket.once("upgrade", onReady);
    else onReady();
  });
  socket.on("message", () => {
    const sentAt = socket._sentAt.shift();
    if (!running) return;
    completed++;
    if (latencies.length < 200000) latencies.push(Number(process.hrtime.bigint() - sentAt) / 1e6);
    sendOne(socket);
  });
  socket.on("error", () => { errors++; });
  socket.on("close", (reason) => { if (running) { errors++; } });
  sockets.push(socket);
}

function onReady() {
  ready++;
  if (ready === clients) start();
}

let cpuStart, timeStart;
function start() {
  clearTimeout(openTimer);
  running = true;
  cpuStart = process.cpuUsage();
  timeStart = process.hrtime.bigint();
  for (const socket of sockets) for (let k = 0; k < windowSize; k++) sendOne(socket);
  setTimeout(() => report("done"), seconds * 1000);
}

function percentile(sorted, p) {
  if (!sorted.length) return null;
  return +sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))].toFixed(3);
}

function report(why) {
  running = false;
  const elapsed = timeStart ? Number(process.hrtime.bigint() - timeStart) / 1e9 : 0;
  const cpu = cpuStart ? process.cpuUsage(cpuStart) : { user: 0, system: 0 };
  latencies.sort((a, b) => a - b);
  const transport = sockets.length && sockets[0].transport ? sockets[0].transport.name : null;
  console.log(JSON.stringify({
    why, clients, ready, transport, seconds: +elapsed.toFixed(3), roundTrips: completed,
    roundTripsPerSec: elapsed ? Math.round(completed / elapsed) : 0,
    p50ms: percentile(latencies, 0.5), p99ms: percentile(latencies, 0.99),
    clientCpuSec: +((cpu.user + cpu.system) / 1e6).toFixed(3), errors,
  }));
  for (const socket of sockets) socket.close();
  setTimeout(() => process.exit(0), 50);
}
