// Many official socket.io-client sockets for the cluster-operation tests.
// argv[2]: JSON {urls: [...], rooms: [room of client i...], silent: [indices that never answer]}
// Clients are spread round-robin over the urls (WebSocket only). Each joins its room, answers
// "question" with [i, data] (unless silent), and records "news" and "disconnect".
// stdout: {"type": "ready", "sids": [...]}; then on each stdin line "report":
// {"type": "report", "news": {i: [[args]...]}, "connected": [bool...]}.
const { io } = require("socket.io-client");
const opts = JSON.parse(process.argv[2]);
const silent = new Set(opts.silent || []);
const sockets = [];
const news = {};
const sids = [];
let joined = 0;
opts.rooms.forEach((room, i) => {
  const url = opts.urls[i % opts.urls.length];
  const s = io(url, { transports: ["websocket"], reconnection: false, forceNew: true, query: { index: String(i) } });
  sockets.push(s);
  news[i] = [];
  s.on("question", (data, ack) => { if (!silent.has(i)) ack([i, data]); });
  s.on("news", (...args) => news[i].push(args));
  s.on("connect", () => {
    s.emit("join", room, (sid) => {
      sids[i] = sid;
      joined += 1;
      if (joined === opts.rooms.length) console.log(JSON.stringify({ type: "ready", sids }));
    });
  });
  s.on("connect_error", (err) => console.log(JSON.stringify({ type: "error", message: String(err) })));
});
require("readline").createInterface({ input: process.stdin }).on("line", (line) => {
  if (line.trim() === "report") {
    console.log(JSON.stringify({ type: "report", news, connected: sockets.map((s) => s.connected) }));
  } else if (line.trim() === "exit") {
    sockets.forEach((s) => s.close());
    process.exit(0);
  }
});
setTimeout(() => process.exit(2), 120000); // bounded
