// Connection state recovery, driven line by line (socket.io-client@4 under node).
// usage: node recovery_client.js '<json options>'   {url, count=1, room, opts: {...}, parser}
// `count` clients connect (one Engine.IO connection each) and each emits
// "join" (room, {tag: i}) with an ack. Then it obeys commands read on stdin, one per line,
// and answers with one JSON line on stdout per command:
//   {"phase": "joined", ids}                        all joined (sent without a command)
//   wait <event> <n>   -> {"phase": "waited"}         every client has `n` <event> events
//   drop               -> {"phase": "dropped"}        socket.io.engine.close() on each client,
//                                                     reconnection off; after every "disconnect"
//   manual             -> {"phase": "dropped"}        socket.disconnect() (not recoverable)
//   reconnect          -> {"phase": "reconnected", recovered: [...], ids: [...]}
//   whoami             -> {"phase": "whoami", answers: [...]}   ack of "whoami" per client
//   report             -> {"phase": "report", events: [[args...] of "msg", ...per client]}
//   exit
// Reconnections that happen by themselves (the server went away) are reported with "auto":
//   auto <n>           -> {"phase": "auto", recovered: [...], ids}  once every client has
//                                                     reconnected n times (reconnection on)
const { io } = require("socket.io-client");
const readline = require("readline");

const opts = JSON.parse(process.argv[2] || "{}");
const count = opts.count || 1;
const clientOpts = Object.assign({ forceNew: true, reconnectionDelay: 100, reconnectionDelayMax: 500 }, opts.opts || {});
if (opts.parser === "msgpack") clientOpts.parser = require("socket.io-msgpack-parser");

const sockets = [];
const received = [];
const connects = [];
let waiters = [];

function out(obj) { process.stdout.write(JSON.stringify(obj) + "\n"); }
function changed() {
  const still = [];
  for (const w of waiters) { if (w.pred()) w.resolve(); else still.push(w); }
  waiters = still;
}
function until(pred) {
  return new Promise((resolve) => { if (pred()) resolve(); else waiters.push({ pred, resolve }); });
}
function ack(sock, event, ...args) {
  return new Promise((resolve) => sock.emit(event, ...args, (...res) => resolve(res)));
}

async function main() {
  for (let i = 0; i < count; i++) {
    const sock = io(opts.url, clientOpts);
    sockets.push(sock);
    received.push([]);
    connects.push([]);
    sock.on("msg", (...args) => { received[i].push(args); changed(); });
    sock.on("connect", () => { connects[i].push({ recovered: sock.recovered, id: sock.id }); changed(); });
    sock.on("disconnect", () => changed());
  }
  await until(() => connects.every((c) => c.length >= 1));
  for (let i = 0; i < count; i++) await ack(sockets[i], "join", opts.room || "r", { tag: i });
  out({ phase: "joined", ids: sockets.map((s) => s.id) });

  const rl = readline.createInterface({ input: process.stdin });
  for await (const line of rl) {
    const [cmd, a, b] = line.trim().split(/\s+/);
    if (cmd === "wait") {
      const n = Number(b);
      await until(() => received.every((r) => r.filter((x) => x !== null).length >= n));
      out({ phase: "waited" });
    } else if (cmd === "drop") {
      for (const s of sockets) { s.io.reconnection(false); s.io.engine.close(); }
      await until(() => sockets.every((s) => !s.connected));
      out({ phase: "dropped" });
    } else if (cmd === "manual") {
      for (const s of sockets) s.disconnect();
      await until(() => sockets.every((s) => !s.connected));
      out({ phase: "dropped" });
    } else if (cmd === "reconnect") {
      const before = connects.map((c) => c.length);
      for (const s of sockets) { s.io.reconnection(true); s.connect(); }
      await until(() => connects.every((c, i) => c.length > before[i]));
      out({ phase: "reconnected", recovered: connects.map((c) => c[c.length - 1].recovered),
            ids: connects.map((c) => c[c.length - 1].id) });
    } else if (cmd === "auto") {
      const n = Number(a);
      await until(() => connects.every((c) => c.length >= n + 1));
      out({ phase: "auto", recovered: connects.map((c) => c[c.length - 1].recovered),
            ids: connects.map((c) => c[c.length - 1].id) });
    } else if (cmd === "whoami") {
      const answers = [];
      for (const s of sockets) answers.push((await ack(s, "whoami"))[0]);
      out({ phase: "whoami", answers });
    } else if (cmd === "report") {
      out({ phase: "report", events: received });
    } else if (cmd === "exit") {
      for (const s of sockets) s.disconnect();
      process.exit(0);
    }
  }
}

main().catch((err) => { out({ phase: "error", error: String(err && err.stack || err) }); process.exit(1); });
