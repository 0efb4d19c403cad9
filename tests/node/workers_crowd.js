// A crowd of official socket.io-client sockets against one server port served by N workers.
// argv[2]: JSON {url, count, rooms: n}. Socket i uses polling only when i is even, polling then
// the WebSocket upgrade when odd; reconnection is on (a killed worker's clients come back).
// On every connect a socket joins "all" and "room-<i % rooms>" (ack: {pid, sid}); it answers
// "question" with [i, data]; it records every "news" ([source, seq]) in order.
// stdout: {"type": "ready", joined: [{pid, sid, transport}...]} once all joined the first time;
// stdin lines: "report" -> {"type": "report", news, connects, recovered, joined, transports};
//              {"ask": [from, toSid], "id"} -> socket `from` emits "ask" toSid -> {"type": "asked", id, answer};
//              {"emit": [from, event, ...args], "id"} -> {"type": "emitted", id, answer} (the ack);
//              "exit".
const { io } = require("socket.io-client");
const opts = JSON.parse(process.argv[2]);
const sockets = [];
const news = {};
const connects = [];
const recovered = [];
const joined = [];
let firstJoins = 0;
let readySent = false;

function send(obj) { process.stdout.write(JSON.stringify(obj) + "\n"); }

for (let i = 0; i < opts.count; i++) {
  const transports = i % 2 === 0 ? ["polling"] : ["polling", "websocket"];
  const s = io(opts.url, { transports, forceNew: true, reconnectionDelay: 100, reconnectionDelayMax: 500,
                           query: { index: String(i) } });
  sockets.push(s);
  news[i] = [];
  connects[i] = 0;
  recovered[i] = false;
  s.on("news", (...args) => news[i].push(args));
  s.on("question", (data, ack) => ack([i, data]));
  s.on("connect", () => {
    connects[i] += 1;
    recovered[i] = s.recovered;
    s.emit("join", `room-${i % opts.rooms}`, (info) => {
      joined[i] = info;
      if (connects[i] === 1) firstJoins += 1;
      if (!readySent && firstJoins === opts.count) {
        readySent = true;
        send({ type: "ready", joined });
      }
    });
  });
  s.on("connect_error", (err) => { if (!readySent) send({ type: "log", message: String(err) }); });
}

require("readline").createInterface({ input: process.stdin }).on("line", (line) => {
  line = line.trim();
  if (line === "report") {
    send({ type: "report", news, connects, recovered, joined,
           connected: sockets.map((s) => s.connected),
           transports: sockets.map((s) => (s.io.engine ? s.io.engine.transport.name : null)) });
  } else if (line === "exit") {
    sockets.forEach((s) => s.close());
    process.exit(0);
  } else if (line.startsWith("{")) {
    const c = JSON.parse(line);
    const [from, event, ...args] = c.emit;
    sockets[from].timeout(20000).emit(event, ...args, (err, answer) =>
      send({ type: "emitted", id: c.id, answer, error: err ? String(err) : null }));
  }
});
setTimeout(() => process.exit(2), 170000); // bounded
