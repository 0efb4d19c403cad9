// Interactive Socket.IO peer for the scale-out tests, with the official socket.io-client@4.
// usage: node scale_peer.js
// Reads one JSON command per line on stdin, writes one JSON report per line on stdout.
//
// Commands:
//   {cmd: "connect", name, url, nsp="/", opts, auth, acks: {event: "echo" | {value: [...]}}}
//        -> {type: "connect", name, id, transport} | {type: "connect_error", name, message}
//        `acks`: how this socket answers server emits that ask for an ack (else it never does).
//   {cmd: "emit", name, event, args=[], ack: <id>}   with `ack`: -> {type: "ack", id, args}
//   {cmd: "disconnect", name}                         client-side disconnect
//   {cmd: "transport", name, id}                      -> {type: "transport", id, name, transport}
//   {cmd: "crowd", prefix, urls, count, opts, id}      `count` sockets, round robin over `urls`,
//        all connecting at once -> {type: "crowd", id, connected, errors, perUrl}
//   {cmd: "crowdJoin", prefix, event, args, id}        every crowd socket emits `event` with ack
//        and waits for it -> {type: "crowdJoined", id, acked}
//   {cmd: "crowdCount", prefix, event, id}             -> {type: "crowdCount", id, counts}
//        counts[i] = how many `event` socket i received (the events are not reported one by one)
//   {cmd: "exit"}
// Reports for named (non-crowd) sockets:
//   {type: "event", name, event, args}   {type: "disconnect", name, reason}
//   {type: "upgrade", name, transport}
const readline = require("readline");
const { io } = require("socket.io-client");

const sockets = {};
const crowds = {};

function send(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

function clientOptions(o) {
  return { forceNew: true, reconnection: false, ...(o || {}) };
}

function connect(c) {
  const nsp = c.nsp || "/";
  const o = clientOptions(c.opts);
  if (c.auth !== undefined) o.auth = c.auth;
  const socket = io(c.url + (nsp === "/" ? "" : nsp), o);
  sockets[c.name] = socket;
  let reported = false;
  socket.on("connect", () => {
    if (reported) return;
    reported = true;
    send({ type: "connect", name: c.name, id: socket.id, transport: socket.io.engine.transport.name });
  });
  socket.on("connect_error", (err) => {
    if (reported) return;
    reported = true;
    send({ type: "connect_error", name: c.name, message: String(err && err.message) });
  });
  socket.on("disconnect", (reason) => send({ type: "disconnect", name: c.name, reason }));
  socket.io.engine.on("upgrade", (transport) =>
    send({ type: "upgrade", name: c.name, transport: transport.name }));
  socket.onAny((event, ...args) => {
    let ack = null;
    if (args.length && typeof args[args.length - 1] === "function") ack = args.pop();
    send({ type: "event", name: c.name, event, args });
    const how = c.acks && c.acks[event];
    if (ack && how) {
      if (how === "echo") ack(...args);
      else ack(...how.value);
    }
  });
}

function emit(c) {
  const socket = sockets[c.name];
  const args = c.args || [];
  if (c.ack === undefined || c.ack === null) {
    socket.emit(c.event, ...args);
    return;
  }
  socket.emit(c.event, ...args, (...res) => send({ type: "ack", id: c.ack, args: res }));
}

function crowd(c) {
  const list = [];
  crowds[c.prefix] = list;
  let pending = c.count;
  const errors = [];
  const perUrl = {};
  for (let i = 0; i < c.count; i++) {
    const url = c.urls[i % c.urls.length];
    const socket = io(url, clientOptions(c.opts));
    const entry = { socket, url, counts: {}, connected: false };
    list.push(entry);
    socket.onAny((event) => { entry.counts[event] = (entry.counts[event] || 0) + 1; });
    const done = (err) => {
      if (entry.settled) return;
      entry.settled = true;
      if (err) errors.push(String(err.message || err));
      else { entry.connected = true; perUrl[url] = (perUrl[url] || 0) + 1; }
      if (--pending === 0) {
        send({ type: "crowd", id: c.id, connected: list.filter((e) => e.connected).length, errors, perUrl });
      }
    };
    socket.on("connect", () => done(null));
    socket.on("connect_error", (err) => done(err));
  }
}

function crowdJoin(c) {
  const list = crowds[c.prefix];
  let pending = list.length;
  let acked = 0;
  for (const entry of list) {
    entry.socket.emit(c.event, ...(c.args || []), () => {
      acked++;
      if (--pending === 0) send({ type: "crowdJoined", id: c.id, acked });
    });
  }
}

function crowdCount(c) {
  const list = crowds[c.prefix] || [];
  send({ type: "crowdCount", id: c.id, counts: list.map((e) => e.counts[c.event] || 0) });
}

function handle(c) {
  switch (c.cmd) {
    case "connect": connect(c); break;
    case "emit": emit(c); break;
    case "disconnect": sockets[c.name].disconnect(); break;
    case "transport":
      send({ type: "transport", id: c.id, name: c.name, transport: sockets[c.name].io.engine.transport.name });
      break;
    case "crowd": crowd(c); break;
    case "crowdJoin": crowdJoin(c); break;
    case "crowdCount": crowdCount(c); break;
    case "exit": shutdown(); break;
    default: send({ type: "error", message: "unknown command " + c.cmd });
  }
}

function shutdown() {
  for (const socket of Object.values(sockets)) socket.disconnect();
  for (const list of Object.values(crowds)) for (const e of list) e.socket.disconnect();
  setTimeout(() => process.exit(0), 20);
}

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", (line) => {
  if (!line.trim()) return;
  try {
    handle(JSON.parse(line));
  } catch (e) {
    send({ type: "error", message: String((e && e.stack) || e) });
  }
});
rl.on("close", shutdown);
send({ type: "ready" });
